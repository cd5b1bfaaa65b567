package sqlstore_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/internal/testenv"
)

// The interop tests with the real MLflow 3.11.1 on databases at its schema, as
// this store creates them by default: what MLflow 3 added to the API (a run's
// outputs, ...) shows in the raw JSON, which is the REST suites' matter; the
// data is these tests'.

func dropRaw(r *interopReads) {
	r.lines = slices.DeleteFunc(r.lines, func(l string) bool { return strings.HasPrefix(l, "raw ") })
}

// TestRealMLflow3OpensOurDatabase fills a new database (MLflow 3.11.1's schema)
// through our server, starts the real MLflow 3.11.1 on it, which must neither
// create nor migrate nor change anything of the schema and must answer the
// same; MLflow writes more, and our server must then answer what it answered.
func TestRealMLflow3OpensOurDatabase(t *testing.T) {
	testenv.RequireMLflow(t, testenv.MLflow3)
	for _, be := range interopBackends {
		t.Run(be.name, func(t *testing.T) {
			uri := be.uri(t)
			ctx := t.Context()

			ours := serveStore(t, uri, "")
			fillInterop(ctx, t, ours.client)
			want := readInterop(ctx, t, ours.client, ours.url, false)
			ours.close()
			schema := schemaOf(t, uri, true)

			real := testenv.MLflowOn(t, testenv.MLflow3, uri, filepath.Join(t.TempDir(), "artifacts"))
			realClient := restClient(t, real.URL)
			got := readInterop(ctx, t, realClient, real.URL, false)
			dropRaw(&got)
			dropRaw(&want)
			compareReads(t, "real MLflow 3.11.1 on our database", "our server", got, want, true, true)
			writeAfterHandoff(ctx, t, realClient)
			realAfter := readInterop(ctx, t, realClient, real.URL, false)
			real.Stop()
			log, _ := os.ReadFile(real.Log)
			for _, sign := range []string{"Creating initial MLflow database tables", "Running upgrade"} {
				if bytes.Contains(log, []byte(sign)) {
					t.Errorf("real MLflow 3.11.1 on our database logged %q:\n%s", sign, log)
				}
			}
			if after := schemaOf(t, uri, true); !slices.Equal(after, schema) {
				t.Errorf("the schema changed under real MLflow 3.11.1:\n%s", diffLines(after, schema))
			}

			again := serveStore(t, uri, "")
			mine := readInterop(ctx, t, again.client, again.url, false)
			dropRaw(&mine)
			dropRaw(&realAfter)
			compareReads(t, "our server after MLflow 3.11.1 wrote", "real MLflow 3.11.1", mine, realAfter, true, true)
		})
	}
}

// fillInteropPython3 is fillInteropPython for MLflow 3.11.1's client, whose
// register_model of a runs:/ URI wants a logged model under the run: versions
// are created from the run's model path directly.
func fillInteropPython3() string {
	return strings.Replace(strings.ReplaceAll(fillInteropPython, "mlflow.register_model(", "reg("),
		"c = MlflowClient()\n", `c = MlflowClient()
def reg(source, name, tags=None):
    return c.create_model_version(name, source, run_id=source.split("/")[1], tags=tags)
`, 1)
}

// TestWeOpenRealMLflow3Database lets the real MLflow 3.11.1 server create a
// database and its Python client fill it; the schema must be the one this
// store creates, and our server on it must answer what MLflow answered, then
// take more writes.
func TestWeOpenRealMLflow3Database(t *testing.T) {
	testenv.RequireMLflow(t, testenv.MLflow3)
	for _, be := range interopBackends {
		t.Run(be.name, func(t *testing.T) {
			uri := be.uri(t)
			ctx := t.Context()

			real := testenv.MLflowOn(t, testenv.MLflow3, uri, filepath.Join(t.TempDir(), "artifacts"))
			pctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			out, err := testenv.RunMLflowPython(pctx, testenv.MLflow3, fillInteropPython3(), "MLFLOW_TRACKING_URI="+real.URL)
			cancel()
			if err != nil {
				t.Fatalf("fill through the real client: %v\nserver log:\n%s", err, real.Tail())
			}
			t.Logf("python: %s", bytes.TrimSpace(out))
			want := readInterop(ctx, t, restClient(t, real.URL), real.URL, false)
			real.Stop()

			fresh := be.uri(t)
			mustOpen(t, fresh).Close()
			if got, ours := schemaOf(t, uri, false), schemaOf(t, fresh, false); !slices.Equal(got, ours) {
				t.Errorf("the schema real MLflow 3.11.1 made differs from ours:\n%s", diffLines(got, ours))
			}

			ours := serveStore(t, uri, "")
			got := readInterop(ctx, t, ours.client, ours.url, false)
			dropRaw(&got)
			dropRaw(&want)
			compareReads(t, "our server on MLflow 3.11.1's database", "real MLflow 3.11.1", got, want, true, true)
			writeAfterHandoff(ctx, t, ours.client)
		})
	}
}
