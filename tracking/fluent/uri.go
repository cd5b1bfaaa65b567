package fluent

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
)

// runsURI is a parsed runs:/<run_id>/<path>.
type runsURI struct {
	runID string
	path  string // relative, cleaned; "" is the run's artifact root
}

// parseRunsURI parses runs:/<run_id>[/<path>] as MLflow's RunsArtifactRepository does.
func parseRunsURI(uri string) (runsURI, error) {
	bad := func(why string) (runsURI, error) {
		return runsURI{}, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Not a proper runs:/ URI: %s (%s). Runs URIs must be of the form 'runs:/<run_id>/run-relative/path/to/artifact'", uri, why)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return bad(err.Error())
	}
	if u.Scheme != "runs" {
		return bad("scheme is not runs")
	}
	if u.Host != "" {
		return bad("runs:// with a host; use runs:/<run_id>")
	}
	if !strings.HasPrefix(u.Path, "/") || len(u.Path) <= 1 {
		return bad("no run id")
	}
	runID, rest, _ := strings.Cut(u.Path[1:], "/")
	if runID == "" {
		return bad("no run id")
	}
	p, err := artifacts.CleanPath(rest)
	if err != nil {
		return bad("the artifact path leaves the run's artifacts")
	}
	return runsURI{runID: runID, path: p}, nil
}

// modelsURI is a parsed models:/ URI: exactly one of version, stage, latest,
// alias, or a modelID alone.
type modelsURI struct {
	modelID string // MLflow 3: models:/<model_id>, a logged model
	name    string
	version string
	stage   tracking.Stage
	latest  bool
	alias   string
	path    string // inside the model's artifacts, for models:/<name>/<version>/<path>
}

// parseModelsURI parses models:/<name>/<version|stage|latest>[/<path>] and
// models:/<name>@<alias>[/<path>] as MLflow's _parse_model_uri and
// ModelsArtifactRepository.split_models_uri do.
func parseModelsURI(uri string) (modelsURI, error) {
	bad := func(why string) (modelsURI, error) {
		return modelsURI{}, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"Not a proper models:/ URI: %s (%s). Models URIs must be of the form 'models:/model_name/suffix' "+
				"or 'models:/model_name@alias' where suffix is a model version, stage, or the string 'latest' "+
				"and where alias is a registered model alias", uri, why)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return bad(err.Error())
	}
	if u.Scheme != "models" {
		return bad("scheme is not models")
	}
	if u.Host != "" {
		return bad("models:// with a host (a remote registry) is not supported")
	}
	if !strings.HasPrefix(u.Path, "/") || len(u.Path) <= 1 {
		return bad("no model name")
	}
	first, rest, _ := strings.Cut(u.Path[1:], "/")
	if i := strings.LastIndexByte(first, '@'); i >= 0 {
		m := modelsURI{name: first[:i], alias: first[i+1:]}
		if strings.TrimSpace(m.name) == "" || strings.TrimSpace(m.alias) == "" {
			return bad("empty name or alias")
		}
		if m.path, err = artifacts.CleanPath(rest); err != nil {
			return bad("the path leaves the model's artifacts")
		}
		return m, nil
	}
	name := first
	suffix, sub, _ := strings.Cut(rest, "/")
	if strings.TrimSpace(name) == "" {
		return bad("empty model name")
	}
	if rest == "" && !strings.HasSuffix(u.Path, "/") {
		// One part and no alias: MLflow 3's models:/<model_id>.
		return modelsURI{modelID: name}, nil
	}
	if strings.TrimSpace(suffix) == "" {
		return bad("no /<version|stage|latest> or @<alias> after the name")
	}
	m := modelsURI{name: name}
	if m.path, err = artifacts.CleanPath(sub); err != nil {
		return bad("the path leaves the model's artifacts")
	}
	switch {
	case isDigits(suffix):
		n, err := strconv.Atoi(suffix)
		if err != nil {
			return bad("version number out of range")
		}
		m.version = strconv.Itoa(n) // "007" is version 7, as MLflow's int(suffix)
	case strings.EqualFold(suffix, "latest"):
		m.latest = true
	default:
		st, err := tracking.ParseStage(suffix)
		if err != nil {
			return bad(fmt.Sprintf("%q is not a version, a stage (None, Staging, Production, Archived) or latest", suffix))
		}
		m.stage = st
	}
	return m, nil
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// ModelVersion returns the model version a models:/ URI names.
func (c *Client) ModelVersion(ctx context.Context, uri string) (*tracking.ModelVersion, error) {
	m, err := parseModelsURI(uri)
	if err != nil {
		return nil, err
	}
	return c.modelVersion(ctx, uri, m)
}

func (c *Client) modelVersion(ctx context.Context, uri string, m modelsURI) (*tracking.ModelVersion, error) {
	if m.modelID != "" {
		return nil, tracking.Errorf(tracking.ErrInvalidParameterValue,
			"%s names a logged model, not a registered model version", uri)
	}
	var (
		mv  *tracking.ModelVersion
		err error
	)
	switch {
	case m.alias != "":
		mv, err = c.store.GetModelVersionByAlias(ctx, m.name, m.alias)
	case m.version != "":
		mv, err = c.store.GetModelVersion(ctx, m.name, m.version)
	default:
		var stages []tracking.Stage
		if !m.latest {
			stages = []tracking.Stage{m.stage}
		}
		var vs []tracking.ModelVersion
		vs, err = c.store.GetLatestVersions(ctx, m.name, stages)
		if err == nil {
			mv = highestVersion(vs)
			if mv == nil {
				what := "any stage"
				if !m.latest {
					what = "stage '" + string(m.stage) + "'"
				}
				err = tracking.Errorf(tracking.ErrResourceDoesNotExist, "No versions of model with name '%s' and %s found", m.name, what)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fluent: resolve %s: %w", uri, err)
	}
	return mv, nil
}

// highestVersion returns the version with the largest number, or nil.
func highestVersion(vs []tracking.ModelVersion) *tracking.ModelVersion {
	var best *tracking.ModelVersion
	bestN := -1
	for i := range vs {
		n, err := strconv.Atoi(vs[i].Version)
		if err == nil && n > bestN {
			best, bestN = &vs[i], n
		}
	}
	return best
}

// ResolveModelURI returns the artifact URI a model URI stands for, and the
// model version for models:/ URIs (nil otherwise):
//
//	runs:/<run_id>/<path>       the run's artifact URI joined with path, or
//	                            for runs:/<run_id>/<name>/... the logged model
//	                            called name the run produced (MLflow 3)
//	models:/<name>/<version>    that version's source
//	models:/<name>/<stage>      the source of the highest version in stage
//	models:/<name>/latest       the source of the highest version
//	models:/<name>@<alias>      the source of the version alias points at
//	models:/<model_id>          the logged model's artifact location (MLflow 3)
//
// A version source that is itself a runs:/ URI is resolved through its run.
// Any other URI (s3://, file:, mlflow-artifacts:/, a path) is returned as it is.
// Malformed runs:/ and models:/ URIs are INVALID_PARAMETER_VALUE errors.
func (c *Client) ResolveModelURI(ctx context.Context, uri string) (artifactURI string, mv *tracking.ModelVersion, err error) {
	root, rel, mv, err := c.locate(ctx, uri)
	if err != nil {
		return "", nil, err
	}
	return joinURI(root, rel), mv, nil
}

// locate splits what uri names into the root URI of an artifact repository and
// a path inside it: a run's artifact root and the path for run artifacts, so
// that single files can be fetched; the URI itself and "" otherwise.
func (c *Client) locate(ctx context.Context, uri string) (root, rel string, mv *tracking.ModelVersion, err error) {
	scheme, _, _ := strings.Cut(uri, ":")
	switch strings.ToLower(scheme) {
	case "runs":
		ru, err := parseRunsURI(uri)
		if err != nil {
			return "", "", nil, err
		}
		// MLflow 3: runs:/<run_id>/<name>[/<path>] is also the logged model
		// called name that the run produced (its RunsArtifactRepository).
		if name, rest, _ := strings.Cut(ru.path, "/"); name != "" {
			lm, err := c.runLoggedModel(ctx, ru.runID, name)
			if err != nil {
				return "", "", nil, fmt.Errorf("fluent: resolve %s: %w", uri, err)
			}
			if lm != nil {
				return lm.ArtifactLocation, rest, nil, nil
			}
		}
		run, err := c.store.GetRun(ctx, ru.runID)
		if err != nil {
			return "", "", nil, fmt.Errorf("fluent: resolve %s: %w", uri, err)
		}
		return run.Info.ArtifactURI, ru.path, nil, nil
	case "models":
		mu, err := parseModelsURI(uri)
		if err != nil {
			return "", "", nil, err
		}
		if mu.modelID != "" {
			lm, err := c.loggedModel(ctx, uri, mu.modelID)
			if err != nil {
				return "", "", nil, err
			}
			return lm.ArtifactLocation, "", nil, nil
		}
		mv, err := c.modelVersion(ctx, uri, mu)
		if err != nil {
			return "", "", nil, err
		}
		root, rel, err := c.locateSource(ctx, mv)
		if err != nil {
			return "", "", nil, err
		}
		return root, joinPath(rel, mu.path), mv, nil
	}
	return uri, "", nil, nil
}

// locateSource splits a model version's source as locate does.
func (c *Client) locateSource(ctx context.Context, mv *tracking.ModelVersion) (root, rel string, err error) {
	src := mv.Source
	if strings.HasPrefix(strings.ToLower(src), "models:") {
		// A copied version (copy_model_version): the store kept where the
		// original's files were when it was copied.
		uri, err := c.store.GetModelVersionDownloadURI(ctx, mv.Name, mv.Version)
		if err != nil {
			return "", "", fmt.Errorf("fluent: resolve %s: %w", src, err)
		}
		if strings.HasPrefix(strings.ToLower(uri), "models:") {
			return "", "", tracking.Errorf(tracking.ErrInvalidParameterValue,
				"model version %s of %q has source %s, another models:/ URI; refusing to follow it", mv.Version, mv.Name, uri)
		}
		src = uri
	}
	if strings.HasPrefix(strings.ToLower(src), "runs:") {
		root, rel, _, err := c.locate(ctx, src)
		return root, rel, err
	}
	if mv.RunID != "" { // a source inside its run's artifacts: fetch through the run root
		if run, err := c.store.GetRun(ctx, mv.RunID); err == nil {
			base := strings.TrimRight(run.Info.ArtifactURI, "/")
			if rest, ok := strings.CutPrefix(src, base+"/"); ok {
				if p, err := artifacts.CleanPath(rest); err == nil {
					return run.Info.ArtifactURI, p, nil
				}
			}
		}
	}
	return src, "", nil
}

// joinPath joins two relative artifact paths.
func joinPath(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "/" + b
}

// joinURI appends a relative path to an artifact URI.
func joinURI(root, rel string) string {
	if rel == "" {
		return root
	}
	return strings.TrimRight(root, "/") + "/" + rel
}

// DownloadArtifacts downloads what uri names (runs:/, models:/ or an artifact
// URI of a directory) into localDir: a directory's files land under localDir
// keeping their relative paths, a single file lands under its base name.
func (c *Client) DownloadArtifacts(ctx context.Context, uri, localDir string) error {
	root, rel, _, err := c.locate(ctx, uri)
	if err != nil {
		return err
	}
	repo, err := c.opener.Artifacts(ctx, root)
	if err != nil {
		return fmt.Errorf("fluent: download %s: open %s: %w", uri, root, err)
	}
	if err := artifacts.DownloadDir(ctx, repo, rel, localDir); err != nil {
		return fmt.Errorf("fluent: download %s to %s: %w", uri, localDir, err)
	}
	return nil
}

// DownloadArtifactsAt downloads the file or directory at the relative path
// p inside what uri names into localDir, as DownloadArtifacts does for the
// whole: a file lands under its base name. It fetches part of a model
// directory whatever form uri takes (a models:/<model_id> URI takes no path
// of its own).
func (c *Client) DownloadArtifactsAt(ctx context.Context, uri, p, localDir string) error {
	root, rel, _, err := c.locate(ctx, uri)
	if err != nil {
		return err
	}
	sub, err := artifacts.CleanPath(p)
	if err != nil || sub == "" {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "fluent: download %s: %q is not a relative path inside it", uri, p)
	}
	repo, err := c.opener.Artifacts(ctx, root)
	if err != nil {
		return fmt.Errorf("fluent: download %s: open %s: %w", uri, root, err)
	}
	if err := artifacts.DownloadDir(ctx, repo, joinPath(rel, sub), localDir); err != nil {
		return fmt.Errorf("fluent: download %s of %s to %s: %w", sub, uri, localDir, err)
	}
	return nil
}

// loggedModel returns the logged model modelID that uri names.
func (c *Client) loggedModel(ctx context.Context, uri, modelID string) (*tracking.LoggedModel, error) {
	store, err := tracking.LoggedModels(ctx, c.store)
	if err == nil && store == nil {
		err = tracking.Errorf(tracking.ErrInvalidParameterValue,
			"%s is a models:/<model_id> URI of an MLflow 3 logged model, but the tracking backend keeps no logged models (MLflow 2.x)", uri)
	}
	if err != nil {
		return nil, fmt.Errorf("fluent: resolve %s: %w", uri, err)
	}
	lm, err := store.GetLoggedModel(ctx, modelID, false)
	if err != nil {
		return nil, fmt.Errorf("fluent: resolve %s: %w", uri, err)
	}
	return lm, nil
}
