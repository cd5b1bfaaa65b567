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

// memoryLimit is the server's soft limit on Go's memory (GOMEMLIMIT) unless
// the environment sets one. While the heap is small it changes nothing; a
// large answer (a history of 100,000 points holds ~40 MiB while it is
// written) would otherwise let the heap grow to three times that at GOGC 200
// before a collection, and took the server's RSS to 140 MiB. SQLite's page
// caches (up to 8 MiB per connection) are outside it.
const memoryLimit = 64 << 20

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tracking-server:", err)
		stop()
		os.Exit(1)
	}
}
