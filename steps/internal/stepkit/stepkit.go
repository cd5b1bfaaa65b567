// Package stepkit is what every pipeline step binary shares: running a
// urfave/cli app under a context that SIGINT/SIGTERM cancel, writing the output
// files Kubeflow asks for, and logging progress on stderr.
package stepkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Main runs app with os.Args and exits: 0 on success, 1 with "name: error" on
// stderr on failure. SIGINT and SIGTERM cancel the context the actions see.
func Main(app *cli.App) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.RunContext(ctx, os.Args)
	stop()
	if err != nil {
		fmt.Fprintf(app.ErrWriter, "%s: error: %v\n", app.Name, err)
		os.Exit(1)
	}
}

// NewApp returns a cli.App that writes to stdout and stderr, with usage errors
// returned rather than printed and swallowed.
func NewApp(name, usage string, stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:            name,
		Usage:           usage,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {}, // Main reports errors once, itself
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return fmt.Errorf("%w (see %s --help)", err, name)
		},
	}
}

// Logger returns the step's logger: text records on w (stderr), so that progress
// shows in Kubeflow's log view and on a terminal alike.
func Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// WriteFile writes data to path, creating its parent directories: Kubeflow hands
// steps output paths whose directories may not exist yet. An empty path means the
// output was not asked for, and nothing is written.
func WriteFile(path string, data []byte) error {
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory for output %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write output %s: %w", path, err)
	}
	return nil
}

// WriteString writes s to path as WriteFile does.
func WriteString(path, s string) error { return WriteFile(path, []byte(s)) }

// WriteJSON writes v as indented JSON to path as WriteFile does.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output %s: %w", path, err)
	}
	return WriteFile(path, append(b, '\n'))
}

// CreateFile creates path for writing, with its parent directories.
func CreateFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create directory for output %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create output %s: %w", path, err)
	}
	return f, nil
}

// ReadParam reads a parameter that a previous step wrote to a file (Kubeflow passes
// small outputs as files): the file's content without surrounding whitespace.
func ReadParam(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", errors.New("file " + path + " is empty")
	}
	return v, nil
}
