package ui_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/ui"
)

func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func mustNotContain(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("page contains %q", w)
		}
	}
}

func wantStatus(t *testing.T, res *http.Response, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("status %d, want %d", res.StatusCode, want)
	}
}

func TestSecurityHeaders(t *testing.T) {
	l := newLab(t)
	for _, target := range []string{"/", "/models", "/no/such/page", "/ui/static/style.css",
		"/ui/artifact?run=" + l.runs["rf-tuned"].Info.RunID + "&path=plots/predicted_vs_actual.png"} {
		res, _ := l.get(t, target)
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: Content-Security-Policy %q", target, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: headers %v", target, h)
		}
	}
	res, body := l.get(t, "/no/such/page")
	wantStatus(t, res, http.StatusNotFound)
	mustContain(t, body, "No page at /no/such/page")
}

func TestExperiments(t *testing.T) {
	l := newLab(t)
	t.Run("OK", func(t *testing.T) {
		res, body := l.get(t, "/")
		wantStatus(t, res, http.StatusOK)
		mustContain(t, body, `href="/experiments/`+l.expID+`"`, ">california-housing</a>", ">scratch</a>")
		// Three runs in california-housing, and the six trials nested under one.
		if !regexp.MustCompile(`california-housing</a></td>\s*<td><code>` + l.expID + `</code></td>\s*<td class="num">3 <span class="muted small">\+6 nested</span></td>`).MatchString(body) {
			t.Errorf("run count 3 +6 nested not shown:\n%s", body)
		}
	})
	t.Run("Filter", func(t *testing.T) {
		_, body := l.get(t, "/?filter="+url.QueryEscape("name LIKE '%housing%'"))
		mustContain(t, body, ">california-housing</a>")
		mustNotContain(t, body, ">scratch</a>")
	})
	t.Run("BadFilter", func(t *testing.T) {
		res, body := l.get(t, "/?filter="+url.QueryEscape("name >< 'x'"))
		wantStatus(t, res, http.StatusOK)
		mustContain(t, body, `id="filter-error"`, `aria-invalid="true"`)
		// The store's message, escaped, and the filter kept in the box.
		mustContain(t, body, html.EscapeString("name >< 'x'"))
	})
}

func TestRuns(t *testing.T) {
	l := newLab(t)
	base := "/experiments/" + l.expID
	t.Run("DefaultColumns", func(t *testing.T) {
		res, body := l.get(t, base)
		wantStatus(t, res, http.StatusOK)
		for name, run := range l.runs {
			mustContain(t, body, `href="/runs/`+run.Info.RunID+`" title="`+name+`">`+name+`</a>`, `name="runs" value="`+run.Info.RunID+`"`)
		}
		mustContain(t, body, ">max_depth", ">n_estimators", ">r2", ">mse", "FINISHED", "9.0s", `action="/compare"`)
		// Metrics come before params: they are what people came to see.
		if m, p := strings.Index(body, ">r2</a>"), strings.Index(body, ">max_depth</a>"); m < 0 || p < m {
			t.Errorf("metric column r2 at %d, param column max_depth at %d", m, p)
		}
	})
	t.Run("NestedFolded", func(t *testing.T) {
		// Without a filter: the top-level runs; rf-optimized folded, with the
		// count of its trials and a link that opens them.
		_, body := l.get(t, base)
		parent := l.runs["rf-optimized"].Info.RunID
		if got := names(runRows(body)); !slices.Equal(got, []string{"rf-optimized", "rf-tuned", "rf-baseline"}) {
			t.Errorf("rows %v, want the three top-level runs, newest first", got)
		}
		mustContain(t, body, `aria-expanded="false"`, `<span class="count">6</span>`,
			`href="/experiments/`+l.expID+`?open=`+parent+`#run-`+parent+`"`)
		// Opened: its trials under it, newest first, and a link that folds it.
		_, body = l.get(t, base+"?open="+parent)
		rows := runRows(body)
		want := []string{"rf-optimized", "rf-optimized-trial-4-r2", "rf-optimized-trial-2-r2", "rf-optimized-trial-4-r1",
			"rf-optimized-trial-3-r1", "rf-optimized-trial-2-r1", "rf-optimized-trial-1-r1", "rf-tuned", "rf-baseline"}
		if got := names(rows); !slices.Equal(got, want) {
			t.Errorf("rows %v, want %v", got, want)
		}
		for _, r := range rows {
			if nested := strings.HasPrefix(r.name, "rf-optimized-trial"); nested != (r.parent == parent) {
				t.Errorf("row %s: parent %q", r.name, r.parent)
			}
		}
		mustContain(t, body, `aria-expanded="true"`, `href="/experiments/`+l.expID+`?open=#run-`+parent+`"`)
		// Sorted by a metric the trials have, they follow the order too.
		_, body = l.get(t, base+"?open=all&order="+url.QueryEscape("metrics.`cv_r2` ASC"))
		if got := names(runRows(body)); !slices.Equal(got[1:7], []string{"rf-optimized-trial-1-r1", "rf-optimized-trial-3-r1",
			"rf-optimized-trial-2-r1", "rf-optimized-trial-4-r1", "rf-optimized-trial-2-r2", "rf-optimized-trial-4-r2"}) {
			t.Errorf("rows by cv_r2 ascending: %v", got)
		}
	})
	t.Run("FilterMatchesTrials", func(t *testing.T) {
		// A filter that matches trials only: they are listed under their parent,
		// which is fetched and marked as context.
		_, body := l.get(t, base+"?filter="+url.QueryEscape("metrics.cv_r2 > 0.805"))
		rows := runRows(body)
		if got := names(rows); !slices.Equal(got, []string{"rf-optimized", "rf-optimized-trial-4-r2", "rf-optimized-trial-2-r2", "rf-optimized-trial-4-r1"}) {
			t.Errorf("rows %v", got)
		}
		if !rows[0].context || rows[1].parent != l.runs["rf-optimized"].Info.RunID {
			t.Errorf("parent row %+v, first trial %+v: want the parent as context and the trials under it", rows[0], rows[1])
		}
	})
	t.Run("ChosenColumns", func(t *testing.T) {
		_, body := l.get(t, base+"?param=max_depth&metric=r2")
		mustContain(t, body, ">max_depth", ">r2")
		mustNotContain(t, body, ">n_estimators</a>", ">mse</a>")
	})
	t.Run("SortByMetric", func(t *testing.T) {
		_, body := l.get(t, base+"?order="+url.QueryEscape("metrics.`r2` DESC"))
		order := []int{strings.Index(body, ">rf-optimized<"), strings.Index(body, ">rf-tuned<"), strings.Index(body, ">rf-baseline<")}
		if !(order[0] >= 0 && order[0] < order[1] && order[1] < order[2]) {
			t.Errorf("runs not in r2 descending order: positions %v", order)
		}
		mustContain(t, body, `aria-sort="descending"`)
		_, body = l.get(t, base+"?order="+url.QueryEscape("metrics.`r2` ASC"))
		if strings.Index(body, ">rf-baseline<") > strings.Index(body, ">rf-optimized<") {
			t.Error("runs not in r2 ascending order")
		}
	})
	t.Run("Filter", func(t *testing.T) {
		_, body := l.get(t, base+"?filter="+url.QueryEscape("metrics.r2 > 0.7"))
		mustContain(t, body, ">rf-tuned<", ">rf-optimized<")
		mustNotContain(t, body, ">rf-baseline<")
	})
	t.Run("BadFilter", func(t *testing.T) {
		res, body := l.get(t, base+"?filter="+url.QueryEscape("metrics.r2 >> 0.7"))
		wantStatus(t, res, http.StatusOK)
		mustContain(t, body, `id="filter-error"`, "Invalid comparator &#39;&gt;&gt;&#39;", `Filter &#34;metrics.r2 &gt;&gt; 0.7&#34;`)
		_, body = l.get(t, base+"?order="+url.QueryEscape("metrics.r2 SIDEWAYS"))
		mustContain(t, body, `id="filter-error"`, "Sort &#34;metrics.r2 SIDEWAYS&#34;")
		res, body = l.get(t, base+"?page_token=garbage")
		wantStatus(t, res, http.StatusOK)
		mustContain(t, body, `id="filter-error"`, "Invalid page token")
	})
	t.Run("Paging", func(t *testing.T) {
		_, body := l.get(t, base+"?n=2&order="+url.QueryEscape("attributes.start_time ASC"))
		mustContain(t, body, ">rf-baseline<", ">rf-tuned<")
		mustNotContain(t, body, ">rf-optimized<")
		next := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(body)
		if next == nil {
			t.Fatal("no next page link")
		}
		_, body = l.get(t, html.UnescapeString(next[1]))
		mustContain(t, body, ">rf-optimized<", "First page", `rel="prev"`, "runs 3–3")
		mustNotContain(t, body, ">rf-baseline<", `rel="next"`)
		if got := names(runRows(body)); !slices.Equal(got, []string{"rf-optimized"}) {
			t.Errorf("second page rows %v, want rf-optimized (folded)", got)
		}
	})
	t.Run("UnknownExperiment", func(t *testing.T) {
		res, _ := l.get(t, "/experiments/999")
		wantStatus(t, res, http.StatusNotFound)
	})
}

func TestRun(t *testing.T) {
	l := newLab(t)
	run := l.runs["rf-tuned"]
	base := "/runs/" + run.Info.RunID
	t.Run("OK", func(t *testing.T) {
		res, body := l.get(t, base)
		wantStatus(t, res, http.StatusOK)
		mustContain(t, body,
			"<h1>rf-tuned</h1>", ">n_estimators</th><td class=\"wrap\">100<", // params
			"<polyline", `aria-label="r2"`, `aria-label="mse"`, // history charts
			"latest 0.7737 at step 4 · 5 points", // under r2's chart
			">data.split</th>", ">80/20<",        // tags
			"cal_housing", "training", "4d3f1a2b", // the data set
			">MLmodel</a>", ">predicted_vs_actual.png</a>", "plots/", // artifacts
			`href="/models/`+modelName+`/versions/2"`, // the version made from it
		)
	})
	t.Run("OnePointMetricsInTableOnly", func(t *testing.T) {
		_, body := l.get(t, base)
		table := body[strings.Index(body, `<table class="kv" id="metrics">`):]
		table = table[:strings.Index(table, "</table>")]
		mustContain(t, table, `<th scope="row">rmse</th><td class="num">0.544518</td><td class="num">0</td>`, `<th scope="row">train_r2</th>`)
		mustNotContain(t, table, `>r2<`, `>mse<`)
		mustNotContain(t, body, `aria-label="rmse"`, `aria-label="train_r2"`)
	})
	t.Run("NestedRuns", func(t *testing.T) {
		parent := l.runs["rf-optimized"].Info.RunID
		_, body := l.get(t, "/runs/"+parent)
		mustContain(t, body, `<h2 id="h-nested">Nested runs <span class="muted small">6</span></h2>`,
			`<th scope="col" class="num">cv_r2</th><th scope="col" class="num">cv_r2_std</th></tr>`,
			`title="rf-optimized-trial-4-r2">rf-optimized-trial-4-r2</a>`, "<td class=\"num\">0.8102</td>",
			`href="/experiments/`+l.expID+`?filter=tags.%60mlflow.parentRunId%60&#43;%3D&#43;%27`+parent+`%27"`)
		_, body = l.get(t, base) // rf-tuned has none
		mustNotContain(t, body, `id="h-nested"`)
	})
	t.Run("NestedRun", func(t *testing.T) {
		_, body := l.get(t, "/runs/"+l.trials[0].Info.RunID)
		mustContain(t, body, `<a href="/runs/`+l.runs["rf-optimized"].Info.RunID+`" id="parent-run">rf-optimized</a>`,
			`<th scope="row">cv_r2</th><td class="num">0.7912</td><td class="num">1</td>`)
	})
	t.Run("TextArtifact", func(t *testing.T) {
		_, body := l.get(t, base+"?artifact=model/MLmodel")
		mustContain(t, body, `<pre class="file"`, "flavors:", "run_id: "+run.Info.RunID)
	})
	t.Run("JSONIndented", func(t *testing.T) {
		_, body := l.get(t, base+"?artifact=model/input_example.json")
		mustContain(t, body, "{\n  &#34;columns&#34;: [\n    &#34;MedInc&#34;,")
	})
	t.Run("DeepTree", func(t *testing.T) {
		// Every directory is listed, as <details>: top-level ones open, deeper
		// ones folded unless the chosen file is in them.
		_, body := l.get(t, base)
		mustContain(t, body, `<details open><summary>model/</summary>`, `<details><summary>metadata/</summary>`,
			">model.onnx</a>", ">requirements.txt</a>", ">feature_order.json</a>")
		_, body = l.get(t, base+"?artifact=model/metadata/feature_order.json")
		mustContain(t, body, `<details open><summary>metadata/</summary>`, "[\n  &#34;MedInc&#34;,")
	})
	t.Run("BigTextTruncated", func(t *testing.T) {
		_, body := l.get(t, base+"?artifact=predictions/test.csv")
		mustContain(t, body, `id="truncated">Showing the first 256.0 KiB of 400.0 KiB: <a href="/ui/artifact?download=1&amp;path=predictions%2Ftest.csv`, "row,actual,predicted\n0,")
		pre := body[strings.Index(body, `<pre class="file"`):]
		if n := len(pre[:strings.Index(pre, "</pre>")]); n > 270<<10 {
			t.Errorf("%d bytes of the file on the page", n)
		}
	})
	t.Run("BinaryNeverText", func(t *testing.T) {
		for _, p := range []string{"model/model.bin", "model/model.onnx", "model/weights.dat"} {
			_, body := l.get(t, base+"?artifact="+url.QueryEscape(p))
			mustContain(t, body, `id="no-preview">No preview for this file type (`, `href="/ui/artifact?download=1&amp;path=`+url.QueryEscape(p))
			mustNotContain(t, body, `<pre class="file"`)
		}
	})
	t.Run("SVGAsImage", func(t *testing.T) {
		_, body := l.get(t, base+"?artifact=plots/feature_importances.svg")
		mustContain(t, body, `<img src="/ui/artifact?path=plots%2Ffeature_importances.svg&amp;run=`+run.Info.RunID+`"`)
	})
	t.Run("ImageArtifact", func(t *testing.T) {
		_, body := l.get(t, base+"?artifact=plots/predicted_vs_actual.png")
		mustContain(t, body, `<img src="/ui/artifact?path=plots%2Fpredicted_vs_actual.png&amp;run=`+run.Info.RunID+`"`)
	})
	t.Run("UnknownTypes", func(t *testing.T) {
		// Read and shown when they are text; offered for download when not.
		_, body := l.get(t, base+"?artifact=notes/CHANGES")
		mustContain(t, body, `<pre class="file" tabindex="0">v2: deeper trees`)
		_, body = l.get(t, base+"?artifact=model/weights.dat")
		mustContain(t, body, "No preview for this file type (3 B)", `href="/ui/artifact?download=1&amp;path=model%2Fweights.dat`)
		_, body = l.get(t, base+"?artifact=model/conda.yaml")
		mustContain(t, body, "dependencies:\n- python=3.11")
		_, body = l.get(t, base+"?artifact=model/requirements.txt")
		mustContain(t, body, `<pre class="file" tabindex="0">`, "onnx")
	})
	t.Run("HTMLArtifactIsText", func(t *testing.T) {
		_, body := l.get(t, base+"?artifact=report/index.html")
		mustContain(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;")
		mustNotContain(t, body, "<script>alert(1)")
	})
	t.Run("UnknownRun", func(t *testing.T) {
		res, _ := l.get(t, "/runs/0123456789abcdef")
		wantStatus(t, res, http.StatusNotFound)
	})
}

func TestArtifactRoute(t *testing.T) {
	l := newLab(t)
	id := l.runs["rf-baseline"].Info.RunID
	art := func(p string, extra string) string {
		return "/ui/artifact?" + url.Values{"run": {id}, "path": {p}}.Encode() + extra
	}
	cases := []struct {
		name, path, extra, ctype string
		attachment               bool
	}{
		{"PNG", "plots/predicted_vs_actual.png", "", "image/png", false},
		{"MLmodel", "model/MLmodel", "", "text/plain; charset=utf-8", false},
		{"SVG", "plots/evil.svg", "", "image/svg+xml", false},
		{"JPEG", "plots/residuals.jpg", "", "image/jpeg", false},
		{"GIF", "plots/r2_vs_trees.gif", "", "image/gif", false},
		{"HTMLAsText", "report/index.html", "", "text/plain; charset=utf-8", false},
		{"Binary", "model/model.bin", "", "application/octet-stream", true},
		{"ONNX", "model/model.onnx", "", "application/octet-stream", true},
		{"Download", "plots/predicted_vs_actual.png", "&download=1", "application/octet-stream", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := l.get(t, art(c.path, c.extra))
			wantStatus(t, res, http.StatusOK)
			if got := res.Header.Get("Content-Type"); got != c.ctype {
				t.Errorf("Content-Type %q, want %q", got, c.ctype)
			}
			if got := strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment"); got != c.attachment {
				t.Errorf("Content-Disposition %q", res.Header.Get("Content-Disposition"))
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || strings.Contains(csp, "script") {
				t.Errorf("artifact not sandboxed without scripts: %q", csp)
			}
			if len(body) == 0 {
				t.Error("empty body")
			}
		})
	}
	t.Run("Traversal", func(t *testing.T) {
		res, _ := l.get(t, art("../../../mlflow.db", ""))
		if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusNotFound {
			t.Errorf("status %d for a path out of the run", res.StatusCode)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		res, _ := l.get(t, art("plots/none.png", ""))
		wantStatus(t, res, http.StatusNotFound)
	})
}

func TestModels(t *testing.T) {
	l := newLab(t)
	t.Run("List", func(t *testing.T) {
		_, body := l.get(t, "/models")
		mustContain(t, body, `href="/models/`+modelName+`"`, "@champion → v1", ">Production<", ">Staging<")
	})
	t.Run("Model", func(t *testing.T) {
		_, body := l.get(t, "/models/"+modelName)
		mustContain(t, body, "Version 1", "Version 2",
			`href="/runs/`+l.runs["rf-baseline"].Info.RunID+`"`, "trained_on=cal_housing",
			`decision-promoted`, "beats the champion", "candidate_value=0.7737", "2024-11-05T10:05:00Z")
	})
	t.Run("Version", func(t *testing.T) {
		_, body := l.get(t, "/models/"+modelName+"/versions/2")
		mustContain(t, body, `id="stage">Staging<`, ">rf-tuned</a>", `name="csrf"`, `name="archive_existing"`)
	})
	t.Run("UnknownModel", func(t *testing.T) {
		res, _ := l.get(t, "/models/nope")
		wantStatus(t, res, http.StatusNotFound)
	})
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfToken(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token on the page")
	}
	return html.UnescapeString(m[1])
}

func TestTransition(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	target := "/models/" + modelName + "/versions/2/stage"
	_, page := l.get(t, "/models/"+modelName+"/versions/2")
	tok := csrfToken(t, page)
	form := url.Values{"csrf": {tok}, "stage": {"Production"}, "archive_existing": {"true"}}

	t.Run("NoToken", func(t *testing.T) {
		res, _ := l.post(t, target, url.Values{"stage": {"Production"}, "confirm": {"yes"}}, nil)
		wantStatus(t, res, http.StatusForbidden)
	})
	t.Run("ForgedToken", func(t *testing.T) {
		res, _ := l.post(t, target, url.Values{"stage": {"Production"}, "confirm": {"yes"}, "csrf": {"1730800000.AAAA"}}, nil)
		wantStatus(t, res, http.StatusForbidden)
	})
	t.Run("OtherOrigin", func(t *testing.T) {
		res, _ := l.post(t, target, form, map[string]string{"Origin": "http://evil.example"})
		wantStatus(t, res, http.StatusForbidden)
	})
	t.Run("ConfirmFirst", func(t *testing.T) {
		res, body := l.post(t, target, form, map[string]string{"Origin": "http://example.com"})
		wantStatus(t, res, http.StatusOK)
		mustContain(t, body, "Move version 2 of "+modelName+" from Staging to Production?",
			"Version 1 is in Production and will be archived.", `name="confirm" value="yes"`)
		v, err := l.store.GetModelVersion(ctx, modelName, "2")
		if err != nil || v.CurrentStage != tracking.StageStaging {
			t.Fatalf("the stage changed before confirmation: %v %v", v, err)
		}
	})
	t.Run("Confirmed", func(t *testing.T) {
		confirmed := url.Values{"confirm": {"yes"}}
		for k, v := range form {
			confirmed[k] = v
		}
		res, _ := l.post(t, target, confirmed, nil)
		wantStatus(t, res, http.StatusSeeOther)
		if loc := res.Header.Get("Location"); loc != "/models/"+modelName+"/versions/2?done=stage" {
			t.Errorf("redirect to %q", loc)
		}
		for version, want := range map[string]tracking.Stage{"1": tracking.StageArchived, "2": tracking.StageProduction} {
			v, err := l.store.GetModelVersion(ctx, modelName, version)
			if err != nil || v.CurrentStage != want {
				t.Errorf("version %s: %v, %v; want stage %s", version, v, err, want)
			}
		}
		_, body := l.get(t, "/models/"+modelName+"/versions/2?done=stage")
		mustContain(t, body, "The stage was changed.", `id="stage">Production<`)
	})
	t.Run("BadStage", func(t *testing.T) {
		res, body := l.post(t, target, url.Values{"csrf": {tok}, "stage": {"Live"}}, nil)
		wantStatus(t, res, http.StatusBadRequest)
		mustContain(t, body, "Invalid Model Version stage")
	})
}

func TestAlias(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	_, page := l.get(t, "/models/"+modelName)
	tok := csrfToken(t, page)
	target := "/models/" + modelName + "/aliases"

	res, body := l.post(t, target, url.Values{"csrf": {tok}, "action": {"set"}, "alias": {"challenger"}, "version": {"2"}}, nil)
	wantStatus(t, res, http.StatusOK)
	mustContain(t, body, "Point alias @challenger of "+modelName+" at version 2?")
	if _, err := l.store.GetModelVersionByAlias(ctx, modelName, "challenger"); err == nil {
		t.Fatal("alias set before confirmation")
	}
	res, _ = l.post(t, target, url.Values{"csrf": {tok}, "action": {"set"}, "alias": {"challenger"}, "version": {"2"}, "confirm": {"yes"}}, nil)
	wantStatus(t, res, http.StatusSeeOther)
	if v, err := l.store.GetModelVersionByAlias(ctx, modelName, "challenger"); err != nil || v.Version != "2" {
		t.Fatalf("alias challenger: %v, %v", v, err)
	}
	res, _ = l.post(t, target, url.Values{"csrf": {tok}, "action": {"delete"}, "alias": {"champion"}, "confirm": {"yes"}}, nil)
	wantStatus(t, res, http.StatusSeeOther)
	if _, err := l.store.GetModelVersionByAlias(ctx, modelName, "champion"); err == nil {
		t.Fatal("alias champion still set after delete")
	}
}

// TestFormsFollowModelAccess: a model's pages show the stage and alias forms
// only to users who may edit it, and alias deletion only to those who may
// manage it; the aliases themselves are shown to everyone.
func TestFormsFollowModelAccess(t *testing.T) {
	l := newLab(t)
	stageForm := `action="/models/` + modelName + `/versions/2/stage"`
	setAlias := `name="action" value="set"`
	deleteAlias := `name="action" value="delete"`
	for _, c := range []struct {
		name         string
		edit, manage bool
	}{{"read", false, false}, {"edit", true, false}, {"manage", true, true}} {
		t.Run(c.name, func(t *testing.T) {
			var asked []string
			l.handler = ui.New(l.store, openArtifacts, ui.Options{ModelAccess: func(_ context.Context, name string) (bool, bool) {
				asked = append(asked, name)
				return c.edit, c.manage
			}})
			_, model := l.get(t, "/models/"+modelName)
			_, version := l.get(t, "/models/"+modelName+"/versions/2")
			mustContain(t, model, "@champion → v1")
			check := func(body string, shown bool, form string) {
				t.Helper()
				if shown {
					mustContain(t, body, form)
				} else {
					mustNotContain(t, body, form)
				}
			}
			check(model, c.edit, setAlias)
			check(model, c.manage, deleteAlias)
			check(version, c.edit, stageForm)
			check(version, c.edit, setAlias)
			check(version, !c.edit, `id="read-only"`)
			if len(asked) != 2 || asked[0] != modelName || asked[1] != modelName {
				t.Errorf("ModelAccess asked about %q, want the model twice", asked)
			}
		})
	}
}

func TestEscaping(t *testing.T) {
	l := newLab(t)
	ctx := context.Background()
	evil := `<script>alert("x")</script>`
	id, err := l.store.CreateExperiment(ctx, "exp "+evil, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	run, err := l.store.CreateRun(ctx, tracking.CreateRun{ExperimentID: id, RunName: "run " + evil})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.store.LogBatch(ctx, run.Info.RunID, []tracking.Metric{{Key: "m", Value: 1}},
		[]tracking.Param{{Key: "p", Value: evil}}, []tracking.Tag{{Key: "t", Value: evil}}); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/", "/experiments/" + id, "/runs/" + run.Info.RunID,
		"/compare?runs=" + run.Info.RunID + "&runs=" + l.runs["rf-tuned"].Info.RunID} {
		res, body := l.get(t, target)
		wantStatus(t, res, http.StatusOK)
		mustNotContain(t, body, evil)
		mustContain(t, body, "&lt;script&gt;")
	}
}

func TestCSRFTokenExpires(t *testing.T) {
	l := newLab(t)
	now := t0
	h := ui.New(l.store, openArtifacts, ui.Options{Now: func() time.Time { return now }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/models/"+modelName+"/versions/2", nil))
	tok := csrfToken(t, rec.Body.String())
	post := func(header map[string]string) int {
		form := url.Values{"csrf": {tok}, "stage": {"Production"}}
		req := httptest.NewRequest(http.MethodPost, "/models/"+modelName+"/versions/2/stage", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := post(nil); code != http.StatusOK {
		t.Fatalf("fresh token: status %d, want the confirmation page", code)
	}
	if code := post(map[string]string{"Sec-Fetch-Site": "cross-site"}); code != http.StatusForbidden {
		t.Errorf("cross-site post: status %d, want 403", code)
	}
	now = now.Add(13 * time.Hour)
	if code := post(nil); code != http.StatusForbidden {
		t.Errorf("13 hours old token: status %d, want 403", code)
	}
	// Another process (another key) does not accept this one's tokens.
	other := ui.New(l.store, openArtifacts, ui.Options{Now: func() time.Time { return t0 }})
	form := url.Values{"csrf": {tok}, "stage": {"Production"}}
	req := httptest.NewRequest(http.MethodPost, "/models/"+modelName+"/versions/2/stage", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	other.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("token from another key: status %d, want 403", rec.Code)
	}
}

// TestMountedInServer serves the UI through the tracking server's UI hook: the
// UI answers outside the API, the API inside it.
func TestMountedInServer(t *testing.T) {
	l := newLab(t)
	srv := httptest.NewServer(server.New(l.store, nil, server.Options{UI: l.handler}))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/experiments/" + l.expID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), ">rf-tuned<") {
		t.Errorf("UI through the server: status %d", res.StatusCode)
	}
	res, err = http.Get(srv.URL + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=california-housing")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"experiment_id"`) || res.Header.Get("Content-Security-Policy") != "" {
		t.Errorf("API through the server with the UI mounted: status %d, body %.200s", res.StatusCode, body)
	}
}

// tableRow is a row of the runs table as the page renders it.
type tableRow struct {
	name, parent string
	context      bool
}

var rowPattern = regexp.MustCompile(`<tr id="run-[0-9a-f]+"([^>]*)>\s*<td class="sel">.*?\n<td class="name">.*?<a href="/runs/[0-9a-f]+" title="([^"]*)"`)

// runRows reads the rows of the runs table from a page, in order.
func runRows(body string) []tableRow {
	var rows []tableRow
	for _, m := range rowPattern.FindAllStringSubmatch(body, -1) {
		r := tableRow{name: html.UnescapeString(m[2]), context: strings.Contains(m[1], "data-context")}
		if p := regexp.MustCompile(`data-parent="([0-9a-f]+)"`).FindStringSubmatch(m[1]); p != nil {
			r.parent = p[1]
		}
		rows = append(rows, r)
	}
	return rows
}

func names(rows []tableRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.name
	}
	return out
}

// TestRunsCountedOrRead: the runs table counts nested runs through the
// store's CountNestedRuns and reads only open parents' (sqlstore.Store has
// it); over a store without it (the REST client's), it reads them all to
// count them. Both give the same pages: rows, counts, columns and links.
func TestRunsCountedOrRead(t *testing.T) {
	l := newLab(t)
	// Embedded in a struct, the store keeps only tracking.Store's methods.
	reading := ui.New(struct{ tracking.Store }{l.store}, openArtifacts, ui.Options{Now: func() time.Time { return t0.Add(time.Hour) }, LoggedModels: l.store})
	base := "/experiments/" + l.expID
	parent := l.runs["rf-optimized"].Info.RunID
	for _, target := range []string{base, base + "?open=" + parent, base + "?open=all", base + "?open=all&order=" + url.QueryEscape("metrics.`cv_r2` ASC"),
		base + "?n=2", base + "?param=max_depth&metric=cv_r2"} {
		_, counted := l.get(t, target)
		rec := httptest.NewRecorder()
		reading.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if read := rec.Body.String(); read != counted {
			t.Errorf("%s: the page that counts nested runs differs from the one that reads them:\ncounted:\n%s\nread:\n%s", target, counted, read)
		}
	}
}
