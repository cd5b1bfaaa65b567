package search

// Entity is what a filter or an order_by clause searches: each has its own valid
// keys, comparators and tables.
type Entity int

// The searchable entities.
const (
	Runs Entity = iota + 1
	Experiments
	RegisteredModels
	ModelVersions
	Traces
	LoggedModels
)

// String returns the entity's name.
func (e Entity) String() string {
	switch e {
	case Runs:
		return "runs"
	case Experiments:
		return "experiments"
	case RegisteredModels:
		return "registered models"
	case ModelVersions:
		return "model versions"
	case Traces:
		return "traces"
	case LoggedModels:
		return "logged models"
	}
	return "unknown entity"
}

// KeyType is the kind of thing a comparison or ordering looks at, as MLflow names
// them: "metric", "parameter", "tag", "attribute", "dataset", "request_metadata".
type KeyType int

// The key types.
const (
	Attribute KeyType = iota + 1
	Metric
	Param
	Tag
	Dataset
	RequestMetadata // a trace's request metadata
)

// String returns MLflow's name of the key type.
func (k KeyType) String() string {
	switch k {
	case Attribute:
		return "attribute"
	case Metric:
		return "metric"
	case Param:
		return "parameter"
	case Tag:
		return "tag"
	case Dataset:
		return "dataset"
	case RequestMetadata:
		return "request_metadata"
	}
	return "unknown"
}

// Comparators, as they appear in Comparison.Comparator (always upper case).
const (
	OpEq    = "="
	OpNe    = "!="
	OpGt    = ">"
	OpGe    = ">="
	OpLt    = "<"
	OpLe    = "<="
	OpLike  = "LIKE"
	OpILike = "ILIKE"
	OpIn    = "IN"
	OpNotIn = "NOT IN"
	// OpIsNull and OpIsNotNull take no value: a run has the tag or param key, or not.
	OpIsNull    = "IS NULL"
	OpIsNotNull = "IS NOT NULL"
)

// ValueKind is the kind of the right-hand side of a comparison.
type ValueKind int

// The value kinds.
const (
	StringValue ValueKind = iota + 1
	NumberValue
	ListValue
)

// Value is the right-hand side of a comparison, already checked against its key.
type Value struct {
	Kind ValueKind
	Str  string   // StringValue: the unquoted string
	Num  float64  // NumberValue: the number
	Int  int64    // NumberValue: the number, when IsInt
	List []string // ListValue: the unquoted strings
	// IsInt reports that a NumberValue was written as an integer that fits int64.
	IsInt bool
	// Raw is the value as written in the filter.
	Raw string
}

// Comparison is one clause of a filter: Key Comparator Value. Key is canonical:
// aliases are resolved (attribute "created" is "start_time", "Run name" is
// "run_name") and quotes removed.
type Comparison struct {
	Type       KeyType
	Key        string
	Comparator string
	Value      Value
}

// Filter is a parsed search filter: the AND of its clauses (no clauses: everything).
type Filter struct {
	Entity  Entity
	Clauses []Comparison
}

// OrderBy is one parsed order_by clause.
type OrderBy struct {
	Type      KeyType
	Key       string // canonical, as in Comparison.Key
	Ascending bool
}
