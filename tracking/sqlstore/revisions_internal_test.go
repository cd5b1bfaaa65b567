package sqlstore

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/mlops-lab/housing/internal/testenv"
)

// TestOlderRevisionsAreMLflow2s reads the revisions of the real MLflow
// 2.17.2's migrations: they must be olderRevisions and RevisionMLflow2, no more,
// no fewer.
func TestOlderRevisionsAreMLflow2s(t *testing.T) {
	testenv.RequireMLflow(t, testenv.MLflow2)
	files, err := filepath.Glob(filepath.Join(testenv.MLflowPrefix(), testenv.MLflow2, "site/mlflow/store/db_migrations/versions/*.py"))
	if err != nil || len(files) == 0 {
		t.Fatalf("MLflow 2.17.2's migrations: %v, %d files", err, len(files))
	}
	revisionRE := regexp.MustCompile(`(?m)^revision(?:: *\w+)? *= *["'](\w+)["']`)
	var got []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := revisionRE.FindSubmatch(src); m != nil {
			got = append(got, string(m[1]))
		}
	}
	want := append(slices.Collect(maps.Keys(olderRevisions)), RevisionMLflow2)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("MLflow 2.17.2's revisions = %v,\nthe store knows %v", got, want)
	}
}

// TestBetweenRevisionsAreMLflow3s follows the real MLflow 3.11.1's migrations
// from MLflow 2.17.2's revision to its head: the revisions on the way must be
// betweenRevisions, in order, and the head RevisionMLflow3.
func TestBetweenRevisionsAreMLflow3s(t *testing.T) {
	testenv.RequireMLflow(t, testenv.MLflow3)
	files, err := filepath.Glob(filepath.Join(testenv.MLflowPrefix(), testenv.MLflow3, "site/mlflow/store/db_migrations/versions/*.py"))
	if err != nil || len(files) == 0 {
		t.Fatalf("MLflow 3.11.1's migrations: %v, %d files", err, len(files))
	}
	revisionRE := regexp.MustCompile(`(?m)^revision(?:: *\w+)? *= *["'](\w+)["']`)
	downRE := regexp.MustCompile(`(?m)^down_revision(?:: *[\w\[\], |]+)? *= *["'](\w+)["']`)
	next := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, d := revisionRE.FindSubmatch(src), downRE.FindSubmatch(src)
		if r != nil && d != nil {
			next[string(d[1])] = string(r[1])
		}
	}
	var got []string
	for rev := next[RevisionMLflow2]; rev != ""; rev = next[rev] {
		got = append(got, rev)
	}
	want := append(slices.Clone(betweenRevisions), RevisionMLflow3)
	if !slices.Equal(got, want) {
		t.Errorf("MLflow 3.11.1's revisions after %s = %v,\nthe store knows %v", RevisionMLflow2, got, want)
	}
}
