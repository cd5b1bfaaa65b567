// Package ui is the tracking server's web UI: experiments and their runs, a run's
// params, metrics, charts and artifacts, comparisons of runs with charts that
// relate them (metric histories overlaid, parallel coordinates, a scatter, a
// contour), the same charts for a whole search result, and the model registry
// with stage transitions, aliases and a promotion timeline. It is server-rendered with
// html/template from embedded templates and assets (no CDN, no network), draws
// its charts as inline SVG built in Go, and reads and writes everything through
// the same tracking.Store the REST API uses.
//
// Every response carries a strict Content-Security-Policy (no inline script),
// X-Content-Type-Options, Referrer-Policy and X-Frame-Options. Forms that change
// the registry are POSTs with a confirmation step and an HMAC CSRF token, and are
// refused from another origin. Artifacts are served by the UI's own route
// (/ui/artifact) with safe content types: only raster images inline, everything
// else as text/plain or a download, never HTML or SVG inline.
package ui
