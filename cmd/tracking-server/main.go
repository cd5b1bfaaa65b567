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
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tracking-server:", err)
		stop()
		os.Exit(1)
	}
}
