// Package tracking is the domain of MLflow-compatible experiment tracking and model
// registry: experiments, runs, their metrics, params, tags and data set inputs,
// registered models and their versions, stages and aliases, and the Store interface
// every backend implements.
//
// Implementations live in sub-packages that depend on this one and never on one
// another: sqlstore (SQLite and PostgreSQL on MLflow's own schema), client (MLflow's
// REST API), and server serves any Store over HTTP. Every Store method returns nil or
// an error whose code (ErrorCodeOf) is one of the codes documented on the method;
// anything else is INTERNAL_ERROR.
package tracking
