// Package wire holds the JSON messages of MLflow's REST API 2.0 as MLflow 2.17
// serves them, the endpoint paths, and conversions between those messages and the
// tracking domain types. The server and the REST client share it, so that both
// sides agree on one shape.
//
// Shapes follow the captures in shared/mlflow-wire (proto2 JSON as MLflow emits
// it): int64 fields are JSON numbers, ids are strings, fields MLflow leaves unset
// are omitted, and a few fields MLflow always sets are always present even when
// empty (run info "user_id", model version "description" and "run_link", metric
// "step"). Metric values are Float, which carries NaN and ±Inf as the strings
// "NaN", "Infinity" and "-Infinity".
//
// Request structs mark optional fields omitempty, so a client that leaves them
// zero sends what the Python client sends. A server that must tell an absent field
// from a zero one (required-parameter checks, runs/update) looks at the raw JSON
// object, not at these structs.
package wire
