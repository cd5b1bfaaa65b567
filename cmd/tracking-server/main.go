// Command tracking-server is an MLflow-compatible tracking server: MLflow's REST
// API 2.0 over a SQL backend store (SQLite or PostgreSQL, on MLflow's own schema)
// and, by default, a proxied artifact store, with `mlflow server`'s flags.
//
//	tracking-server --backend-store-uri sqlite:///mlflow.db --artifacts-destination ./mlartifacts --port 5000
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// gcPercent is the server's GOGC unless the environment sets one. Its live heap
// is a few MiB and a page of 100 runs allocates ~0.5 MiB, so at Go's default of
// 100 it collects every few searches; at 200, search p50 over 10,000 runs fell
// 4.0-4.1 -> 3.2-3.6 ms on SQLite and 4.4-4.6 -> 4.2-4.3 ms on PostgreSQL, and
// log-batch rose 10-20%, for 3 MiB (SQLite) to 6 MiB (PostgreSQL) more RSS
// (bench/README.md).
const gcPercent = 200

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tracking-server:", err)
		stop()
		os.Exit(1)
	}
}
