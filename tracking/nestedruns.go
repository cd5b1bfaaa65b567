package tracking

import "context"

// NestedRuns summarises the nested runs of some parent runs without reading
// them: how many each parent has, and the param and metric keys they carry.
type NestedRuns struct {
	Counts     map[string]int // by parent run id; a parent without any is absent
	ParamKeys  []string       // sorted
	MetricKeys []string       // sorted
}

// NestedRunCounter is a store that can summarise nested runs (tag
// mlflow.parentRunId) in one experiment's active runs, cheaply. The UI's runs
// table uses it to count the nested runs of a page's parents.
type NestedRunCounter interface {
	CountNestedRuns(ctx context.Context, experimentID string, parentIDs []string) (NestedRuns, error)
}
