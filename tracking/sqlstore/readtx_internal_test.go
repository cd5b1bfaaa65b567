package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
	"github.com/mlops-lab/housing/tracking"
)

// TestReadTxSeesOneSnapshot commits an experiment between two reads of one read
// transaction: the second read must not see it, on SQLite and on PostgreSQL
// (where that takes REPEATABLE READ).
func TestReadTxSeesOneSnapshot(t *testing.T) {
	for name, uri := range map[string]func(testing.TB) string{
		"sqlite":     func(t testing.TB) string { return "sqlite:///" + filepath.Join(t.TempDir(), "mlflow.db") },
		"postgresql": testenv.PostgresURI,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s, err := Open(ctx, uri(t), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			count := func(tx *txn) (n int) {
				if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM experiments`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			err = s.readTx(ctx, func(tx *txn) error {
				before := count(tx)
				if _, err := s.CreateExperiment(ctx, "committed-meanwhile", "", nil); err != nil {
					return err
				}
				if after := count(tx); after != before {
					t.Errorf("one read transaction counted %d experiments, then %d", before, after)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if n, err := s.SearchExperiments(ctx, tracking.ExperimentQuery{}); err != nil || len(n.Items) != 2 {
				t.Fatalf("after the transaction: %d experiments, %v; want 2 (Default and the new one)", len(n.Items), err)
			}
		})
	}
}
