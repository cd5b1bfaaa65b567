package ui

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// page is what every page's template gets: the title, the navigation section that
// is current, and the breadcrumbs.
type page struct {
	Title   string
	Section string // "experiments" or "models"
	Crumbs  []link
}

// link is a labelled URL; URLs are built in Go with net/url, never by templates.
type link struct {
	Label string
	URL   string
}

// pageSet holds one template per page, each the layout plus the page's blocks.
type pageSet struct {
	byName map[string]*template.Template
}

func mustParsePages() *pageSet {
	layout := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/chart.html", "templates/artifacts.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic("ui: " + err.Error())
	}
	ps := &pageSet{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "chart" || base == "artifacts" {
			continue
		}
		ps.byName[base] = template.Must(template.Must(layout.Clone()).ParseFS(templateFS, n))
	}
	return ps
}

// render executes the page template name with data into a buffer first, so that a
// failing template becomes a clean error page rather than half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	t, ok := u.pages.byName[name]
	var buf bytes.Buffer
	if !ok {
		u.log.ErrorContext(r.Context(), "ui: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		u.log.ErrorContext(r.Context(), "ui: render failed", "template", name, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// staticHandler serves the embedded CSS and JS under /ui/static/.
func staticHandler() http.Handler {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic("ui: " + err.Error())
	}
	files := http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}
