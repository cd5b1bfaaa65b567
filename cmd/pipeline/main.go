// Command pipeline runs a Kubeflow Pipelines v2 pipeline YAML locally
// (no containers: each step is the local binary of the same name) or
// submits it to a Kubeflow Pipelines API server.
//
//	pipeline run pipelines/california-housing.yaml --param data_uri=../shared/data/cal_housing.data --bin-dir bin
//	pipeline submit pipelines/california-housing.yaml --host http://localhost:8080 --experiment california-housing
//	pipeline validate pipelines/california-housing.yaml components/*.yaml
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mlops-lab/housing/internal/kfp"
	"github.com/mlops-lab/housing/internal/kfp/kfpapi"
	"github.com/mlops-lab/housing/internal/kfp/local"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args, os.Environ(), os.Stdout, os.Stderr, time.Now); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		stop()
		os.Exit(1)
	}
}

// run is the whole command: args as os.Args, env as os.Environ().
func run(ctx context.Context, args, env []string, stdout, stderr io.Writer, now func() time.Time) error {
	getenv := func(k string) string {
		for _, kv := range env {
			if name, v, ok := strings.Cut(kv, "="); ok && name == k {
				return v
			}
		}
		return ""
	}
	app := &cli.App{
		Name:      "pipeline",
		Usage:     "run a KFP v2 pipeline YAML locally, or submit it to Kubeflow Pipelines",
		Writer:    stdout,
		ErrWriter: stderr,
		// Errors are printed once, by main.
		ExitErrHandler: func(*cli.Context, error) {},
		// --param sweep=a,b is one parameter with a list value.
		DisableSliceFlagSeparator: true,
		Commands: []*cli.Command{
			runCommand(env, stdout, stderr, now),
			submitCommand(getenv, stdout, now),
			validateCommand(stdout),
		},
	}
	return app.RunContext(ctx, interspersed(args))
}

var paramFlag = &cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "pipeline parameter `NAME=VALUE` (lists as a,b,c or JSON); repeatable"}

func runCommand(env []string, stdout, stderr io.Writer, now func() time.Time) *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a pipeline on this machine with the step binaries of --bin-dir",
		ArgsUsage: "FILE.yaml",
		Flags: []cli.Flag{
			paramFlag,
			&cli.StringFlag{Name: "bin-dir", Value: "bin", Usage: "directory of the step binaries (ingest, train, ...)"},
			&cli.StringFlag{Name: "root", Value: filepath.Join(os.TempDir(), "housing-pipeline-runs"), Usage: "local pipeline root: outputs go to ROOT/RUN-ID/TASK/"},
			&cli.IntFlag{Name: "parallelism", Usage: "tasks executing at once (default: number of CPUs)"},
			&cli.StringFlag{Name: "run-id", Usage: "run id (default: pipeline name and time)"},
		},
		Action: func(c *cli.Context) error {
			doc, err := readDoc(c)
			if err != nil {
				return err
			}
			params, err := paramMap(c.StringSlice("param"))
			if err != nil {
				return err
			}
			runID := c.String("run-id")
			if runID == "" {
				runID = doc.Spec.GetPipelineInfo().GetName() + "-" + now().UTC().Format("20060102-150405")
			}
			res, runErr := local.Run(c.Context, doc, local.Options{
				RunID: runID, Root: c.String("root"), BinDir: c.String("bin-dir"),
				Parallelism: c.Int("parallelism"), Params: params, Env: env, Output: stderr,
			})
			if res == nil {
				return runErr
			}
			printResult(stdout, res)
			if runErr != nil {
				for _, t := range res.Failed() {
					fmt.Fprintf(stderr, "\ntask %s FAILED: %v\n", t.Path, t.Err)
					var te *local.TaskError
					if errors.As(t.Err, &te) && te.LogTail != "" {
						fmt.Fprintf(stderr, "--- last lines of %s ---\n%s\n", te.Log, te.LogTail)
					}
				}
				return fmt.Errorf("run %s failed", res.RunID)
			}
			return nil
		},
	}
}

func printResult(w io.Writer, res *local.Result) {
	fmt.Fprintf(w, "run %s (%s)\n", res.RunID, res.Dir)
	for _, t := range res.Tasks {
		fmt.Fprintf(w, "  %-24s %s\n", t.Path, t.Status)
		for _, k := range sortedKeys(t.Parameters) {
			fmt.Fprintf(w, "      %s = %s\n", k, kfp.Text(t.Parameters[k]))
		}
		for _, k := range sortedKeys(t.Artifacts) {
			fmt.Fprintf(w, "      %s -> %s\n", k, t.Artifacts[k])
		}
	}
	if len(res.Outputs) > 0 {
		fmt.Fprintln(w, "pipeline outputs:")
		for _, k := range sortedKeys(res.Outputs) {
			fmt.Fprintf(w, "  %s = %s\n", k, kfp.Text(res.Outputs[k]))
		}
	}
}

func submitCommand(getenv func(string) string, stdout io.Writer, now func() time.Time) *cli.Command {
	return &cli.Command{
		Name:      "submit",
		Usage:     "upload a pipeline to Kubeflow Pipelines and start a run (or a recurring run with --cron)",
		ArgsUsage: "FILE.yaml",
		Flags: []cli.Flag{
			paramFlag,
			&cli.StringFlag{Name: "host", Usage: "KFP API `URL` (env KFP_HOST)"},
			&cli.StringFlag{Name: "token", Usage: "bearer token (env KFP_TOKEN)"},
			&cli.StringFlag{Name: "namespace", Usage: "Kubernetes namespace (multi-user Kubeflow)"},
			&cli.StringFlag{Name: "experiment", Usage: "KFP experiment `NAME`, created if missing"},
			&cli.StringFlag{Name: "name", Usage: "pipeline name (default: the spec's pipelineInfo.name)"},
			&cli.StringFlag{Name: "run-name", Usage: "run name (default: pipeline name and time)"},
			&cli.StringFlag{Name: "cron", Usage: "make a recurring run on this six-field cron `SCHEDULE` (seconds first), e.g. \"0 0 * * * *\""},
			&cli.Int64Flag{Name: "max-concurrency", Value: 1, Usage: "runs of the recurring run at once (1-10)"},
			&cli.BoolFlag{Name: "no-catchup", Usage: "do not start runs missed while paused"},
		},
		Action: func(c *cli.Context) error {
			doc, err := readDoc(c)
			if err != nil {
				return err
			}
			raw, err := os.ReadFile(c.Args().First())
			if err != nil {
				return err
			}
			host, token := c.String("host"), c.String("token")
			if host == "" {
				host = getenv("KFP_HOST")
			}
			if token == "" {
				token = getenv("KFP_TOKEN")
			}
			if host == "" {
				return errors.New("submit: no KFP host: give --host or set KFP_HOST")
			}
			text, err := paramMap(c.StringSlice("param"))
			if err != nil {
				return err
			}
			values, err := kfp.ParseParameters(doc.Spec, text)
			if err != nil {
				return err
			}
			params := map[string]any{}
			for k, v := range values {
				params[k] = v.AsInterface()
			}
			name := c.String("name")
			if name == "" {
				name = doc.Spec.GetPipelineInfo().GetName()
			}
			stamp := now().UTC().Format("20060102-150405")
			runName := c.String("run-name")
			if runName == "" {
				runName = name + "-" + stamp
			}
			client, err := kfpapi.New(host, token, nil)
			if err != nil {
				return err
			}
			got, err := client.Submit(c.Context, kfpapi.Submission{
				Name: name, Description: doc.Spec.GetPipelineInfo().GetDescription(), Spec: raw,
				VersionName: name + "-" + stamp, Namespace: c.String("namespace"), Experiment: c.String("experiment"),
				RunName: runName, Parameters: params,
				Cron: c.String("cron"), MaxConcurrency: c.Int64("max-concurrency"), NoCatchup: c.Bool("no-catchup"),
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "pipeline %s (%s) version %s\n", name, got.Pipeline.PipelineID, got.Version.PipelineVersionID)
			if got.Experiment.ExperimentID != "" {
				fmt.Fprintf(stdout, "experiment %s (%s)\n", got.Experiment.DisplayName, got.Experiment.ExperimentID)
			}
			if got.Run != nil {
				fmt.Fprintf(stdout, "run %s (%s)\n", runName, got.Run.RunID)
			}
			if got.RecurringRun != nil {
				fmt.Fprintf(stdout, "recurring run %s (%s) on %q\n", runName, got.RecurringRun.RecurringRunID, c.String("cron"))
			}
			return nil
		},
	}
}

func validateCommand(stdout io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "parse pipeline or component YAML files strictly and check every reference",
		ArgsUsage: "FILE.yaml...",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return errors.New("validate: no files given")
			}
			var errs []error
			for _, path := range c.Args().Slice() {
				b, err := os.ReadFile(path)
				if err == nil {
					var doc kfp.Document
					if doc, err = kfp.Parse(b); err == nil {
						err = kfp.Validate(doc)
					}
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", path, err))
					continue
				}
				fmt.Fprintf(stdout, "%s: ok\n", path)
			}
			return errors.Join(errs...)
		},
	}
}

func readDoc(c *cli.Context) (kfp.Document, error) {
	if c.NArg() != 1 {
		return kfp.Document{}, fmt.Errorf("%s: want one pipeline YAML file, got %d arguments", c.Command.Name, c.NArg())
	}
	path := c.Args().First()
	b, err := os.ReadFile(path)
	if err != nil {
		return kfp.Document{}, err
	}
	doc, err := kfp.Parse(b)
	if err != nil {
		return kfp.Document{}, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// paramMap reads NAME=VALUE pairs.
func paramMap(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want NAME=VALUE", p)
		}
		out[k] = v
	}
	return out, nil
}

// boolFlags are the flags that take no value; interspersed must know them.
var boolFlags = map[string]bool{"no-catchup": true, "help": true, "h": true}

// interspersed moves a subcommand's positional arguments after its flags,
// so that "pipeline run FILE --param k=v" works: urfave/cli, like the flag
// package, stops reading flags at the first positional argument.
func interspersed(args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0], args[1]}
	var positional []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			positional = append(positional, rest[i+1:]...)
			i = len(rest)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			out = append(out, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && !boolFlags[name] && i+1 < len(rest) {
				i++
				out = append(out, rest[i])
			}
		default:
			positional = append(positional, a)
		}
	}
	if len(positional) > 0 {
		out = append(out, "--")
		out = append(out, positional...)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
