package ui_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
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
		// Three runs in california-housing.
		if !regexp.MustCompile(`california-housing</a></td>\s*<td><code>` + l.expID + `</code></td>\s*<td class="num">3</td>`).MatchString(body) {
			t.Errorf("run count 3 not shown:\n%s", body)
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
			mustContain(t, body, `href="/runs/`+run.Info.RunID+`">`+name+`</a>`, `name="runs" value="`+run.Info.RunID+`"`)
		}
		mustContain(t, body, ">max_depth", ">n_estimators", ">r2", ">mse", "FINISHED", "9.0s", `action="/compare"`)
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
		mustContain(t, body, `id="filter-error"`, "Invalid comparator")
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
		mustContain(t, body, ">rf-optimized<", "First page")
		mustNotContain(t, body, ">rf-baseline<", `rel="next"`)
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
			`<td class="num">0.7737</td>`,                      // the latest r2
			"<polyline", `aria-label="r2"`, `aria-label="mse"`, // history charts
			">data.split</th>", ">80/20<", // tags
			"cal_housing", "training", "4d3f1a2b", // the data set
			">MLmodel</a>", ">predicted_vs_actual.png</a>", "plots/", // artifacts
			`href="/models/`+modelName+`/versions/2"`, // the version made from it
		)
	})
	t.Run("TextArtifact", func(t *testing.T) {
		_, body := l.get(t, base+"?artifact=model/MLmodel")
		mustContain(t, body, `<pre class="file"`, "flavors:", "run_id: "+run.Info.RunID)
	})
	t.Run("JSONIndented", func(t *testing.T) {
		_, body := l.get(t, base+"?artifact=model/model.json")
		mustContain(t, body, "{\n  &#34;trees&#34;: [")
	})
	t.Run("ImageArtifact", func(t *testing.T) {
		_, body := l.get(t, base+"?artifact=plots/predicted_vs_actual.png")
		mustContain(t, body, `<img src="/ui/artifact?path=plots%2Fpredicted_vs_actual.png&amp;run=`+run.Info.RunID+`"`)
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
		{"SVGAsText", "plots/evil.svg", "", "text/plain; charset=utf-8", false},
		{"HTMLAsText", "report/index.html", "", "text/plain; charset=utf-8", false},
		{"Binary", "model/forest.bin", "", "application/octet-stream", true},
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
			if !strings.Contains(res.Header.Get("Content-Security-Policy"), "sandbox") {
				t.Errorf("artifact not sandboxed: %q", res.Header.Get("Content-Security-Policy"))
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
