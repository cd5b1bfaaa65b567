package sqlstore_test

import (
	"context"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/sqlstore"
)

func TestTracesSQLite(t *testing.T) { testTraces(t, openSQLite) }

func TestTracesPostgres(t *testing.T) { testTraces(t, openPostgres) }

// wantCode asserts err's code, and its message when msg is not "".
func wantCode(t *testing.T, err error, code tracking.ErrorCode, msg string) {
	t.Helper()
	if got := tracking.ErrorCodeOf(err); got != code {
		t.Fatalf("error %v: code %s, want %s", err, got, code)
	}
	if msg != "" && tracking.ErrorMessage(err) != msg {
		t.Errorf("message %q\n   want %q", tracking.ErrorMessage(err), msg)
	}
}

func testTraces(t *testing.T, open func(testing.TB) *sqlstore.Store) {
	ctx := context.Background()
	newExperiment := func(t *testing.T, s *sqlstore.Store, name string) string {
		t.Helper()
		id, err := s.CreateExperiment(ctx, name, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	start := func(t *testing.T, s *sqlstore.Store, exp string, ts int64, tags ...tracking.Tag) *tracking.TraceInfo {
		t.Helper()
		info, err := s.StartTrace(ctx, tracking.StartTrace{ExperimentID: exp, TimestampMs: ts, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	end := func(t *testing.T, s *sqlstore.Store, id string, ts int64, status tracking.TraceStatus, tags ...tracking.Tag) {
		t.Helper()
		if _, err := s.EndTrace(ctx, id, tracking.EndTrace{TimestampMs: ts, Status: status, Tags: tags}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("StartEndGet", func(t *testing.T) {
		s := open(t)
		exp := newExperiment(t, s, "start end")
		info, err := s.StartTrace(ctx, tracking.StartTrace{
			ExperimentID: exp, TimestampMs: 1000,
			RequestMetadata: []tracking.Tag{{Key: "meta2", Value: "grape"}, {Key: "meta1", Value: "apple"}},
			Tags:            []tracking.Tag{{Key: "tag1", Value: "football"}, {Key: "tag2", Value: "basketball"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(info.RequestID) {
			t.Errorf("request id %q is not MLflow 2.17's uuid4 hex", info.RequestID)
		}
		want := &tracking.TraceInfo{
			RequestID: info.RequestID, ExperimentID: exp, TimestampMs: 1000, Status: tracking.TraceInProgress,
			RequestMetadata: []tracking.Tag{{Key: "meta1", Value: "apple"}, {Key: "meta2", Value: "grape"}},
			Tags: []tracking.Tag{
				{Key: tracking.TagTraceArtifactLocation, Value: "mlflow-artifacts:/" + exp + "/traces/" + info.RequestID + "/artifacts"},
				{Key: "tag1", Value: "football"}, {Key: "tag2", Value: "basketball"},
			},
		}
		if !reflect.DeepEqual(info, want) {
			t.Errorf("started\n got %+v\nwant %+v", info, want)
		}

		ended, err := s.EndTrace(ctx, info.RequestID, tracking.EndTrace{
			TimestampMs: 3000, Status: tracking.TraceOK,
			RequestMetadata: []tracking.Tag{{Key: "meta1", Value: "orange"}, {Key: "meta3", Value: "banana"}},
			Tags:            []tracking.Tag{{Key: "tag1", Value: "soccer"}, {Key: "tag3", Value: "tennis"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		want.ExecutionTimeMs, want.Status = 2000, tracking.TraceOK
		want.RequestMetadata = []tracking.Tag{{Key: "meta1", Value: "orange"}, {Key: "meta2", Value: "grape"}, {Key: "meta3", Value: "banana"}}
		want.Tags = append(want.Tags[:1], tracking.Tag{Key: "tag1", Value: "soccer"}, tracking.Tag{Key: "tag2", Value: "basketball"}, tracking.Tag{Key: "tag3", Value: "tennis"})
		if !reflect.DeepEqual(ended, want) {
			t.Errorf("ended\n got %+v\nwant %+v", ended, want)
		}
		got, err := s.GetTraceInfo(ctx, info.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, ended) {
			t.Errorf("get\n got %+v\nwant %+v", got, ended)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		s := open(t)
		exp := newExperiment(t, s, "errors")
		_, err := s.StartTrace(ctx, tracking.StartTrace{ExperimentID: "424242"})
		wantCode(t, err, tracking.ErrResourceDoesNotExist, "No Experiment with id=424242 exists")
		_, err = s.StartTrace(ctx, tracking.StartTrace{ExperimentID: exp, Tags: []tracking.Tag{{Key: tracking.TagTraceArtifactLocation, Value: "s3://elsewhere"}}})
		wantCode(t, err, tracking.ErrInvalidParameterValue, "")
		_, err = s.StartTrace(ctx, tracking.StartTrace{ExperimentID: exp, RequestMetadata: []tracking.Tag{{Key: strings.Repeat("k", 251)}}})
		wantCode(t, err, tracking.ErrInvalidParameterValue, "")
		_, err = s.StartTrace(ctx, tracking.StartTrace{ExperimentID: exp, Tags: []tracking.Tag{{Key: "k", Value: strings.Repeat("v", 8001)}}})
		wantCode(t, err, tracking.ErrInvalidParameterValue, "")
		_, err = s.StartTrace(ctx, tracking.StartTrace{ExperimentID: exp, Tags: []tracking.Tag{{Key: "k", Value: "nul\x00"}}})
		wantCode(t, err, tracking.ErrInvalidParameterValue, "")

		_, err = s.EndTrace(ctx, "nonexist", tracking.EndTrace{TimestampMs: 1, Status: tracking.TraceOK})
		wantCode(t, err, tracking.ErrResourceDoesNotExist, "Trace with request_id 'nonexist' not found.")
		_, err = s.GetTraceInfo(ctx, "nonexist")
		wantCode(t, err, tracking.ErrResourceDoesNotExist, "Trace with request_id 'nonexist' not found.")
		info := start(t, s, exp, 5)
		_, err = s.EndTrace(ctx, info.RequestID, tracking.EndTrace{Status: "BOGUS"})
		wantCode(t, err, tracking.ErrInvalidParameterValue, "")
		// No status is MLflow's TRACE_STATUS_UNSPECIFIED; no timestamp is 0.
		ended, err := s.EndTrace(ctx, info.RequestID, tracking.EndTrace{})
		if err != nil || ended.Status != tracking.TraceUnspecified || ended.ExecutionTimeMs != -5 {
			t.Errorf("EndTrace without fields = %+v, %v", ended, err)
		}

		if err := s.DeleteExperiment(ctx, exp); err != nil {
			t.Fatal(err)
		}
		_, err = s.StartTrace(ctx, tracking.StartTrace{ExperimentID: exp})
		wantCode(t, err, tracking.ErrInvalidParameterValue, "The experiment "+exp+" must be in the 'active' state. Current state is deleted.")
	})

	t.Run("Search", func(t *testing.T) {
		s := open(t)
		exp := newExperiment(t, s, "search")
		other := newExperiment(t, s, "other")
		t1 := start(t, s, exp, 1000, tracking.Tag{Key: tracking.TagTraceName, Value: "trace1"}, tracking.Tag{Key: "env", Value: "prod"})
		end(t, s, t1.RequestID, 1100, tracking.TraceOK)
		t2 := start(t, s, exp, 2000, tracking.Tag{Key: tracking.TagTraceName, Value: "trace2"})
		end(t, s, t2.RequestID, 2500, tracking.TraceOK)
		t3 := start(t, s, exp, 3000, tracking.Tag{Key: tracking.TagTraceName, Value: "trace3"}, tracking.Tag{Key: "env", Value: "dev"})
		end(t, s, t3.RequestID, 3050, tracking.TraceError)
		t4, err := s.StartTrace(ctx, tracking.StartTrace{ExperimentID: exp, TimestampMs: 3000,
			RequestMetadata: []tracking.Tag{{Key: tracking.MetadataSourceRun, Value: "run-a"}}})
		if err != nil {
			t.Fatal(err)
		}
		start(t, s, other, 500)

		// Equal timestamps (t3, t4) fall back on the request id.
		t34 := []string{t3.RequestID, t4.RequestID}
		if t4.RequestID < t3.RequestID {
			t34 = []string{t4.RequestID, t3.RequestID}
		}
		ids := func(q tracking.TraceQuery) ([]string, string) {
			t.Helper()
			q.ExperimentIDs = append(q.ExperimentIDs, exp)
			page, err := s.SearchTraces(ctx, q)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			var out []string
			for _, tr := range page.Items {
				out = append(out, tr.RequestID)
			}
			return out, page.NextPageToken
		}
		for _, tt := range []struct {
			name string
			q    tracking.TraceQuery
			want []string
		}{
			{"default order", tracking.TraceQuery{}, []string{t34[0], t34[1], t2.RequestID, t1.RequestID}},
			{"status", tracking.TraceQuery{Filter: "status = 'OK'", OrderBy: []string{"timestamp ASC"}}, []string{t1.RequestID, t2.RequestID}},
			{"status in", tracking.TraceQuery{Filter: "status IN ('ERROR', 'IN_PROGRESS')", OrderBy: []string{"timestamp_ms ASC", "request_id DESC"}}, []string{t34[1], t34[0]}},
			{"status not in", tracking.TraceQuery{Filter: "status NOT IN ('OK', 'IN_PROGRESS')"}, []string{t3.RequestID}},
			{"tag", tracking.TraceQuery{Filter: "tags.env = 'prod'"}, []string{t1.RequestID}},
			{"tag differs", tracking.TraceQuery{Filter: "tag.env != 'prod'"}, []string{t3.RequestID}},
			{"name", tracking.TraceQuery{Filter: "name = 'trace2'"}, []string{t2.RequestID}},
			{"run id", tracking.TraceQuery{Filter: "run_id = 'run-a'"}, []string{t4.RequestID}},
			{"metadata", tracking.TraceQuery{Filter: "request_metadata.`mlflow.sourceRun` != 'run-b'"}, []string{t4.RequestID}},
			{"timestamp", tracking.TraceQuery{Filter: "timestamp > 1000 and timestamp_ms <= 2000"}, []string{t2.RequestID}},
			{"execution time", tracking.TraceQuery{Filter: "execution_time_ms >= 100 and execution_time < 499.5"}, []string{t1.RequestID}},
			{"request id", tracking.TraceQuery{Filter: "request_id = '" + t2.RequestID + "'"}, []string{t2.RequestID}},
			// Traces without the tag sort last both ways.
			{"tag order asc", tracking.TraceQuery{OrderBy: []string{"tags.env ASC"}}, []string{t3.RequestID, t1.RequestID, t4.RequestID, t2.RequestID}},
			{"name order desc", tracking.TraceQuery{OrderBy: []string{"name DESC"}, MaxResults: 3}, []string{t3.RequestID, t2.RequestID, t1.RequestID}},
			{"in progress execution time last", tracking.TraceQuery{OrderBy: []string{"execution_time DESC"}, MaxResults: 4}, []string{t2.RequestID, t1.RequestID, t3.RequestID, t4.RequestID}},
		} {
			got, _ := ids(tt.q)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
			}
		}

		page1, token := ids(tracking.TraceQuery{MaxResults: 2})
		if len(page1) != 2 || token != "eyJvZmZzZXQiOiAyfQ==" {
			t.Fatalf("page 1 = %v, token %q", page1, token)
		}
		page2, token := ids(tracking.TraceQuery{MaxResults: 2, PageToken: token})
		if !reflect.DeepEqual(page2, []string{t2.RequestID, t1.RequestID}) || token == "" {
			t.Errorf("page 2 = %v, token %q", page2, token)
		}
		if page3, token := ids(tracking.TraceQuery{MaxResults: 2, PageToken: token}); len(page3) != 0 || token != "" {
			t.Errorf("page 3 = %v, token %q", page3, token)
		}

		full, err := s.SearchTraces(ctx, tracking.TraceQuery{ExperimentIDs: []string{exp, other}})
		if err != nil || len(full.Items) != 5 {
			t.Fatalf("two experiments: %d traces, %v", len(full.Items), err)
		}
		for _, tr := range full.Items {
			if tr.RequestID == t1.RequestID && !reflect.DeepEqual(tr.Tags, []tracking.Tag{{Key: "env", Value: "prod"},
				{Key: tracking.TagTraceArtifactLocation, Value: "mlflow-artifacts:/" + exp + "/traces/" + t1.RequestID + "/artifacts"},
				{Key: tracking.TagTraceName, Value: "trace1"}}) {
				t.Errorf("search loads tags %v", tr.Tags)
			}
		}
		if page, err := s.SearchTraces(ctx, tracking.TraceQuery{}); err != nil || len(page.Items) != 0 {
			t.Errorf("no experiments: %v, %v", page.Items, err)
		}
		// Deliberately refused (MLflow answers no traces).
		_, err = s.SearchTraces(ctx, tracking.TraceQuery{ExperimentIDs: []string{"abc"}})
		wantCode(t, err, tracking.ErrInvalidParameterValue, "Invalid experiment id 'abc': must be an integer")
		for _, q := range []tracking.TraceQuery{
			{MaxResults: -1}, {MaxResults: 501}, {Filter: "status LIKE 'OK'"}, {OrderBy: []string{"foo"}}, {PageToken: "bad"},
		} {
			q.ExperimentIDs = []string{exp}
			_, err := s.SearchTraces(ctx, q)
			wantCode(t, err, tracking.ErrInvalidParameterValue, "")
		}
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		exp := newExperiment(t, s, "delete")
		old := start(t, s, exp, 100, tracking.Tag{Key: "k", Value: "v"})
		mid := start(t, s, exp, 200)
		young := start(t, s, exp, 300)
		other := start(t, s, newExperiment(t, s, "keep"), 50)
		count := func(table string) int {
			t.Helper()
			var n int
			if err := s.DB().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		exists := func(id string) bool {
			_, err := s.GetTraceInfo(ctx, id)
			return err == nil
		}
		ptr := func(n int64) *int64 { return &n }
		del := func(in tracking.DeleteTraces) int {
			t.Helper()
			n, err := s.DeleteTraces(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}

		for _, tt := range []struct {
			in  tracking.DeleteTraces
			msg string
		}{
			{tracking.DeleteTraces{ExperimentID: exp}, "Either `max_timestamp_millis` or `request_ids` must be specified."},
			{tracking.DeleteTraces{ExperimentID: exp, MaxTimestampMillis: ptr(5), RequestIDs: []string{"x"}}, "Only one of `max_timestamp_millis` and `request_ids` can be specified."},
			{tracking.DeleteTraces{ExperimentID: exp, MaxTraces: ptr(1), RequestIDs: []string{"x"}}, "`max_traces` can't be specified if `request_ids` is specified."},
			{tracking.DeleteTraces{ExperimentID: exp, MaxTraces: ptr(0), MaxTimestampMillis: ptr(5)}, "`max_traces` must be a positive integer, received 0."},
		} {
			_, err := s.DeleteTraces(ctx, tt.in)
			wantCode(t, err, tracking.ErrInvalidParameterValue, tt.msg)
		}

		// The oldest one of those started at or before 250.
		if n := del(tracking.DeleteTraces{ExperimentID: exp, MaxTimestampMillis: ptr(250), MaxTraces: ptr(1)}); n != 1 || exists(old.RequestID) || !exists(mid.RequestID) {
			t.Errorf("max_traces deleted %d, old exists %v", n, exists(old.RequestID))
		}
		// Tags and metadata go with their trace (three traces left with one tag each).
		if n := count("trace_tags"); n != 3 {
			t.Errorf("%d trace tags left, want 3", n)
		}
		// A timestamp of 0 bounds the deletion (MLflow takes it for no bound and deletes all).
		if n := del(tracking.DeleteTraces{ExperimentID: exp, MaxTimestampMillis: ptr(0)}); n != 0 {
			t.Errorf("max_timestamp_millis 0 deleted %d", n)
		}
		if n := del(tracking.DeleteTraces{ExperimentID: exp, RequestIDs: []string{young.RequestID, other.RequestID, "nonexist"}}); n != 1 || exists(young.RequestID) || !exists(other.RequestID) {
			t.Errorf("by request ids deleted %d (only the experiment's own count)", n)
		}
		if n := del(tracking.DeleteTraces{ExperimentID: exp, MaxTimestampMillis: ptr(1e15)}); n != 1 || exists(mid.RequestID) {
			t.Errorf("by timestamp deleted %d", n)
		}
		if n := del(tracking.DeleteTraces{ExperimentID: "abc", MaxTimestampMillis: ptr(1e15)}); n != 0 || !exists(other.RequestID) {
			t.Errorf("unknown experiment deleted %d", n)
		}
	})

	t.Run("Tags", func(t *testing.T) {
		s := open(t)
		info := start(t, s, newExperiment(t, s, "tags"), 1, tracking.Tag{Key: "tag1", Value: "red"}, tracking.Tag{Key: "tag2", Value: "blue"})
		id := info.RequestID
		if err := s.SetTraceTag(ctx, id, "tag1", "green"); err != nil {
			t.Fatal(err)
		}
		if err := s.SetTraceTag(ctx, id, "long", strings.Repeat("é", 8005)); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteTraceTag(ctx, id, "tag2"); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetTraceInfo(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := got.Tag("tag1"); v != "green" {
			t.Errorf("tag1 = %q", v)
		}
		if _, ok := got.Tag("tag2"); ok {
			t.Error("tag2 still set")
		}
		if v, _ := got.Tag("long"); v != strings.Repeat("é", 8000) {
			t.Errorf("long value kept %d bytes, want 8000 characters", len(v))
		}
		wantCode(t, s.DeleteTraceTag(ctx, id, "tag2"), tracking.ErrResourceDoesNotExist,
			"No trace tag with key 'tag2' for trace with request_id '"+id+"'")
		wantCode(t, s.SetTraceTag(ctx, "nonexist", "k", "v"), tracking.ErrResourceDoesNotExist, "Trace with request_id 'nonexist' not found.")
		wantCode(t, s.SetTraceTag(ctx, id, "a/../b", "v"), tracking.ErrInvalidParameterValue,
			`Invalid value "a/../b" for parameter 'key' supplied: Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to 'b'`)
		wantCode(t, s.SetTraceTag(ctx, id, "a!", "v"), tracking.ErrInvalidParameterValue,
			`Invalid value "a!" for parameter 'key' supplied: Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).`)
	})
}
