package tracking_test

import (
	"os"
	"testing"

	"github.com/mlops-lab/housing/tracking"
)

// The expected splits are Python 3.11's urllib.parse.urlparse of each input
// (hostname and urlunparse too), as MLflow sees them.
func TestParseURIAsPython(t *testing.T) {
	cases := []struct {
		in   string
		want tracking.URI
		host string
		out  string
	}{
		{"my_location", tracking.URI{Path: "my_location"}, "", "my_location"},
		{"./a/b", tracking.URI{Path: "./a/b"}, "", "./a/b"},
		{"file:rel/x", tracking.URI{Scheme: "file", Path: "rel/x"}, "", "file:///rel/x"},
		{"file:///abs/x", tracking.URI{Scheme: "file", Path: "/abs/x"}, "", "file:///abs/x"},
		{"file://localhost/x", tracking.URI{Scheme: "file", Netloc: "localhost", Path: "/x"}, "localhost", "file://localhost/x"},
		{"s3://bucket/a/b;p?q#f", tracking.URI{Scheme: "s3", Netloc: "bucket", Path: "/a/b;p", Query: "q", Fragment: "f"}, "bucket", "s3://bucket/a/b;p?q#f"},
		{"http://h:9/a/..;x", tracking.URI{Scheme: "http", Netloc: "h:9", Path: "/a/..", Params: "x"}, "h", "http://h:9/a/..;x"},
		{"mlflow-artifacts:/models", tracking.URI{Scheme: "mlflow-artifacts", Path: "/models"}, "", "mlflow-artifacts:/models"},
		{"mlflow-artifacts://host:9000/models/artifact%00", tracking.URI{Scheme: "mlflow-artifacts", Netloc: "host:9000", Path: "/models/artifact%00"}, "host", "mlflow-artifacts://host:9000/models/artifact%00"},
		{"1abc:/x", tracking.URI{Path: "1abc:/x"}, "", "1abc:/x"},
		{"a+b.c-d:x", tracking.URI{Scheme: "a+b.c-d", Path: "x"}, "", "a+b.c-d:x"},
		{"//netloc/p", tracking.URI{Netloc: "netloc", Path: "/p"}, "netloc", "//netloc/p"},
		{"HTTP://User@Host:80/P", tracking.URI{Scheme: "http", Netloc: "User@Host:80", Path: "/P"}, "host", "http://User@Host:80/P"},
		{"file://[::1]:80/x", tracking.URI{Scheme: "file", Netloc: "[::1]:80", Path: "/x"}, "::1", "file://[::1]:80/x"},
	}
	for _, c := range cases {
		u := tracking.ParseURI(c.in)
		if u != c.want {
			t.Errorf("ParseURI(%q) = %+v, want %+v", c.in, u, c.want)
		}
		if h := u.Hostname(); h != c.host {
			t.Errorf("ParseURI(%q).Hostname() = %q, want %q", c.in, h, c.host)
		}
		if s := u.String(); s != c.out {
			t.Errorf("ParseURI(%q).String() = %q, want %q", c.in, s, c.out)
		}
	}
}

func TestUnquoteAsPython(t *testing.T) {
	for _, c := range []struct {
		in   string
		plus bool
		want string
	}{
		{"a%2fb%zz%4", false, "a/b%zz%4"},
		{"a+b%20c", true, "a b c"},
		{"a+b", false, "a+b"},
		{"%ff%41", false, "\uFFFDA"},
	} {
		if got := tracking.Unquote(c.in, c.plus); got != c.want {
			t.Errorf("Unquote(%q, %v) = %q, want %q", c.in, c.plus, got, c.want)
		}
	}
}

func TestResolveURIIfLocal(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"my_location":              cwd + "/my_location",
		"./a//b/../c/":             cwd + "/a/b/../c",
		"file:rel/x?q=1":           "file://" + cwd + "/rel/x?q=1",
		"/abs/x":                   "/abs/x",
		"file:///abs/x":            "file:///abs/x",
		"s3://bucket/rel":          "s3://bucket/rel",
		"mlflow-artifacts:/1":      "mlflow-artifacts:/1",
		"mlflow-artifacts:rel":     "mlflow-artifacts:rel",
		"file://localhost/x":       "file://localhost/x",
		"databricks":               "databricks",
		"my%20location":            cwd + "/my location",
		"relative/with%2Fslash":    cwd + "/relative/with/slash",
		"file://127.0.0.1/abs/dir": "file://127.0.0.1/abs/dir",
	} {
		got, err := tracking.ResolveURIIfLocal(in)
		if err != nil || got != want {
			t.Errorf("ResolveURIIfLocal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err = tracking.ResolveURIIfLocal("file://10.1.2.3/share")
	if tracking.ErrorCodeOf(err) != tracking.ErrInternal || tracking.ErrorMessage(err) != "file://10.1.2.3/share is not a valid remote uri. For remote access on windows, please consider using a different scheme such as SMB (e.g. smb://<hostname>/<path>)." {
		t.Errorf("remote file: URI: %v", err)
	}
}
