package ui

import (
	"cmp"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// GateTagPrefix starts the model version tags the register step (steps/register)
// writes about its promotion gate: housing.gate.decision ("promoted", "held" or
// "unchanged"), .reason, .metric, .candidate_value, .champion_value,
// .champion_version, .margin, .evaluated_on and .decided_at (RFC 3339, or
// milliseconds since the epoch). The UI shows them as the promotion history.
const GateTagPrefix = "housing.gate."

type modelsPage struct {
	page
	Filter      string
	FilterError string
	Models      []modelRow
	Next, First string
}

type modelRow struct {
	Model  tracking.RegisteredModel
	URL    string
	Latest []versionLink
}

// handleModels lists registered models.
func (u *UI) handleModels(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	data := modelsPage{
		page:   page{Title: "Models", Section: "models", Crumbs: []link{{"Models", "/models"}}},
		Filter: q.Get("filter"),
	}
	res, err := u.store.SearchRegisteredModels(ctx, tracking.ModelQuery{
		Filter: data.Filter, OrderBy: []string{"name ASC"}, MaxResults: defaultPageSize, PageToken: q.Get("page_token"),
	})
	if err != nil {
		if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
			u.renderError(w, r, err)
			return
		}
		data.FilterError = tracking.ErrorMessage(err)
	}
	for _, m := range res.Items {
		row := modelRow{Model: m, URL: modelURL(m.Name)}
		latest := slices.Clone(m.LatestVersions)
		slices.SortFunc(latest, func(a, b tracking.ModelVersion) int { return versionNumber(b.Version) - versionNumber(a.Version) })
		for _, v := range latest {
			row.Latest = append(row.Latest, versionLink{v, versionURL(m.Name, v.Version)})
		}
		data.Models = append(data.Models, row)
	}
	if res.NextPageToken != "" {
		data.Next = "/models?" + url.Values{"filter": {data.Filter}, "page_token": {res.NextPageToken}}.Encode()
	}
	if q.Get("page_token") != "" {
		data.First = "/models?" + url.Values{"filter": {data.Filter}}.Encode()
	}
	u.render(w, r, http.StatusOK, "models", data)
}

type modelPage struct {
	page
	Model    *tracking.RegisteredModel
	Versions []versionRow
	Timeline []timelineEvent
	Lanes    *plot // the timeline drawn, one lane per version
	CSRF     string
	Done     string
	AliasURL string
	// CanEdit and CanManage say which forms the user can use (Options.ModelAccess).
	CanEdit, CanManage bool
}

type versionRow struct {
	Version tracking.ModelVersion
	URL     string
	Source  *versionSource
	Tags    []tracking.Tag // without the register step's (shown in the timeline)
}

// historyRow is one version's place in the promotion history.
type historyRow struct {
	Version  string
	URL      string
	Stage    tracking.Stage
	Updated  int64
	Decision string
	Reason   string
	Time     string
	Details  []tracking.Tag // the other housing.gate.* tags, prefix removed
}

// handleModel shows a registered model: its versions, aliases and promotion history.
func (u *UI) handleModel(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	m, err := u.store.GetRegisteredModel(ctx, r.PathValue("name"))
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	versions, err := u.allVersions(r, m.Name)
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	data := modelPage{
		page:     page{Title: m.Name, Section: "models", Crumbs: []link{{"Models", "/models"}, {m.Name, modelURL(m.Name)}}},
		Model:    m,
		CSRF:     u.csrf.token(),
		Done:     doneMessage(r.URL.Query().Get("done")),
		AliasURL: modelURL(m.Name) + "/aliases",
	}
	data.CanEdit, data.CanManage = u.access(ctx, m.Name)
	runNames := map[string]string{}
	sources := map[string]*versionSource{}
	for _, v := range versions {
		src := u.versionSource(r, v, runNames)
		sources[v.Version] = src
		row := versionRow{Version: v, URL: versionURL(v.Name, v.Version), Source: src}
		for _, t := range v.Tags {
			if !strings.HasPrefix(t.Key, GateTagPrefix) && !strings.HasPrefix(t.Key, ProductionTagPrefix) {
				row.Tags = append(row.Tags, t)
			}
		}
		data.Versions = append(data.Versions, row)
	}
	data.Timeline = timeline(versions, sources)
	data.Lanes = timelinePlot(versions, data.Timeline, u.now().UnixMilli())
	u.render(w, r, http.StatusOK, "model", data)
}

// allVersions returns every version of the model, newest first.
func (u *UI) allVersions(r *http.Request, name string) ([]tracking.ModelVersion, error) {
	var all []tracking.ModelVersion
	token := ""
	for {
		res, err := u.store.SearchModelVersions(r.Context(), tracking.ModelQuery{
			Filter: "name = " + quoteString(name), MaxResults: 1000, PageToken: token,
		})
		if err != nil {
			return nil, err
		}
		all = append(all, res.Items...)
		if token = res.NextPageToken; token == "" || len(all) >= 10000 {
			break
		}
	}
	slices.SortFunc(all, func(a, b tracking.ModelVersion) int { return versionNumber(b.Version) - versionNumber(a.Version) })
	return all, nil
}

// versionSource says where version v came from: its run and its logged
// model (MLflow 3), linked when they can be read, and its source URI. The
// logged model is the version's model_id, or the one its source names
// (models:/<model id>, or the model's artifact location, as MLflow 3 clients
// register either way); a store that keeps no logged models links none.
func (u *UI) versionSource(r *http.Request, v tracking.ModelVersion, runNames map[string]string) *versionSource {
	src := &versionSource{URI: v.Source}
	if v.RunID != "" {
		src.RunURL = "/runs/" + url.PathEscape(v.RunID)
		src.RunName = u.runName(r, v.RunID, runNames)
	}
	id := v.ModelID
	if id == "" {
		id = sourceModelID(v.Source)
	}
	if id != "" && u.loggedModels != nil {
		if m, err := u.loggedModels.GetLoggedModel(r.Context(), id, false); err == nil {
			src.ModelName, src.ModelURL = cmp.Or(m.Name, m.ModelID), loggedModelURL(m.ModelID)
		}
	}
	return src
}

// loggedModelPath finds a logged model's id in its artifact location
// (<experiment>/models/<model id>/artifacts).
var loggedModelPath = regexp.MustCompile(`/models/(m-[0-9a-f]{32})/artifacts/?$`)

// sourceModelID is the logged model a version's source names, or "".
func sourceModelID(source string) string {
	if id, ok := strings.CutPrefix(source, "models:/"); ok && strings.HasPrefix(id, "m-") && !strings.Contains(id, "/") {
		return id
	}
	if m := loggedModelPath.FindStringSubmatch(source); m != nil {
		return m[1]
	}
	return ""
}

// runName returns the name of run id, or the id when the run has no name or
// cannot be read (a version may outlive its run); cache may be nil.
func (u *UI) runName(r *http.Request, id string, cache map[string]string) string {
	if name, ok := cache[id]; ok {
		return name
	}
	name := id
	if run, err := u.store.GetRun(r.Context(), id); err == nil && run.Info.RunName != "" {
		name = run.Info.RunName
	}
	if cache != nil {
		cache[id] = name
	}
	return name
}

func versionNumber(v string) int {
	n, _ := strconv.Atoi(v)
	return n
}

// history reads a version's gate tags.
func history(v tracking.ModelVersion) historyRow {
	h := historyRow{Version: v.Version, URL: versionURL(v.Name, v.Version), Stage: v.CurrentStage, Updated: v.LastUpdatedTimestamp}
	for _, t := range v.Tags {
		key, ok := strings.CutPrefix(t.Key, GateTagPrefix)
		if !ok {
			continue
		}
		switch key {
		case "decision":
			h.Decision = t.Value
		case "reason":
			h.Reason = t.Value
		case "decided_at":
			h.Time = gateTime(t.Value)
		default:
			h.Details = append(h.Details, tracking.Tag{Key: key, Value: t.Value})
		}
	}
	slices.SortFunc(h.Details, func(a, b tracking.Tag) int { return cmp.Compare(a.Key, b.Key) })
	return h
}

// gateTime shows a gate time given in milliseconds like the UI's other times, and
// anything else as written.
func gateTime(s string) string {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return fmtMillis(ms)
	}
	return s
}

// doneMessage is the notice shown after a change; only these fixed texts are shown.
func doneMessage(what string) string {
	switch what {
	case "stage":
		return "The stage was changed."
	case "alias-set":
		return "The alias was set."
	case "alias-deleted":
		return "The alias was deleted."
	}
	return ""
}

type versionPage struct {
	page
	Version  *tracking.ModelVersion
	Source   *versionSource
	Tags     []tracking.Tag
	History  historyRow
	Stages   []tracking.Stage
	CSRF     string
	Done     string
	ModelURL string
	StageURL string
	AliasURL string
	CanEdit  bool // see modelPage
}

var allStages = []tracking.Stage{tracking.StageNone, tracking.StageStaging, tracking.StageProduction, tracking.StageArchived}

// handleVersion shows one model version with the forms that change it.
func (u *UI) handleVersion(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name, version := r.PathValue("name"), r.PathValue("version")
	v, err := u.store.GetModelVersion(ctx, name, version)
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	data := versionPage{
		page: page{Title: name + " v" + version, Section: "models", Crumbs: []link{
			{"Models", "/models"}, {name, modelURL(name)}, {"Version " + version, versionURL(name, version)}}},
		Version:  v,
		History:  history(*v),
		Stages:   allStages,
		CSRF:     u.csrf.token(),
		Done:     doneMessage(r.URL.Query().Get("done")),
		ModelURL: modelURL(name),
		StageURL: versionURL(name, version) + "/stage",
		AliasURL: modelURL(name) + "/aliases",
	}
	data.CanEdit, _ = u.access(ctx, name)
	data.Source = u.versionSource(r, *v, nil)
	for _, t := range v.Tags {
		if !strings.HasPrefix(t.Key, GateTagPrefix) {
			data.Tags = append(data.Tags, t)
		}
	}
	u.render(w, r, http.StatusOK, "version", data)
}

type confirmPage struct {
	page
	Question string
	Effects  []string
	Action   string
	Fields   []tracking.Tag // hidden fields to post again, with confirm=yes
	CSRF     string
	Cancel   string
}

// handleTransition moves a version to another stage, after a confirmation page.
func (u *UI) handleTransition(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := u.csrf.checkPost(r); err != nil {
		u.renderError(w, r, err)
		return
	}
	name, version := r.PathValue("name"), r.PathValue("version")
	stage, err := tracking.ParseStage(r.PostFormValue("stage"))
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	archive := r.PostFormValue("archive_existing") == "true"
	v, err := u.store.GetModelVersion(ctx, name, version)
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	back := versionURL(name, version)
	if r.PostFormValue("confirm") != "yes" {
		data := confirmPage{
			page: page{Title: "Confirm stage change", Section: "models", Crumbs: []link{
				{"Models", "/models"}, {name, modelURL(name)}, {"Version " + version, back}}},
			Question: "Move version " + version + " of " + name + " from " + string(v.CurrentStage) + " to " + string(stage) + "?",
			Action:   back + "/stage",
			Fields:   []tracking.Tag{{Key: "stage", Value: string(stage)}},
			CSRF:     u.csrf.token(),
			Cancel:   back,
		}
		if archive && stage.Active() {
			data.Fields = append(data.Fields, tracking.Tag{Key: "archive_existing", Value: "true"})
			others, err := u.store.GetLatestVersions(ctx, name, []tracking.Stage{stage})
			if err != nil {
				u.renderError(w, r, err)
				return
			}
			for _, o := range others {
				if o.Version != version {
					data.Effects = append(data.Effects, "Version "+o.Version+" is in "+string(stage)+" and will be archived.")
				}
			}
		}
		u.render(w, r, http.StatusOK, "confirm", data)
		return
	}
	if _, err := u.store.TransitionModelVersionStage(ctx, name, version, stage, archive); err != nil {
		u.renderError(w, r, err)
		return
	}
	u.log.InfoContext(ctx, "ui: model version stage changed", "name", name, "version", version, "stage", stage, "archive_existing", archive)
	http.Redirect(w, r, back+"?done=stage", http.StatusSeeOther)
}

// handleAlias sets or deletes an alias, after a confirmation page.
func (u *UI) handleAlias(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := u.csrf.checkPost(r); err != nil {
		u.renderError(w, r, err)
		return
	}
	name := r.PathValue("name")
	action, alias, version := r.PostFormValue("action"), strings.TrimSpace(r.PostFormValue("alias")), r.PostFormValue("version")
	if alias == "" {
		u.renderError(w, r, tracking.Errorf(tracking.ErrInvalidParameterValue, "An alias name is required"))
		return
	}
	if _, err := u.store.GetRegisteredModel(ctx, name); err != nil {
		u.renderError(w, r, err)
		return
	}
	var question, done string
	fields := []tracking.Tag{{Key: "action", Value: action}, {Key: "alias", Value: alias}}
	switch action {
	case "set":
		if _, err := u.store.GetModelVersion(ctx, name, version); err != nil {
			u.renderError(w, r, err)
			return
		}
		question = "Point alias @" + alias + " of " + name + " at version " + version + "?"
		fields = append(fields, tracking.Tag{Key: "version", Value: version})
		done = "alias-set"
	case "delete":
		question = "Delete alias @" + alias + " of " + name + "?"
		done = "alias-deleted"
	default:
		u.renderError(w, r, tracking.Errorf(tracking.ErrInvalidParameterValue, "Unknown alias action %q: must be set or delete", action))
		return
	}
	back := modelURL(name)
	if returnTo := r.PostFormValue("return"); returnTo == "version" && version != "" {
		back = versionURL(name, version)
		fields = append(fields, tracking.Tag{Key: "return", Value: "version"})
	}
	if r.PostFormValue("confirm") != "yes" {
		u.render(w, r, http.StatusOK, "confirm", confirmPage{
			page: page{Title: "Confirm alias change", Section: "models", Crumbs: []link{
				{"Models", "/models"}, {name, modelURL(name)}}},
			Question: question, Action: modelURL(name) + "/aliases", Fields: fields, CSRF: u.csrf.token(), Cancel: back,
		})
		return
	}
	var err error
	if action == "set" {
		err = u.store.SetRegisteredModelAlias(ctx, name, alias, version)
	} else {
		err = u.store.DeleteRegisteredModelAlias(ctx, name, alias)
	}
	if err != nil {
		u.renderError(w, r, err)
		return
	}
	u.log.InfoContext(ctx, "ui: alias changed", "name", name, "alias", alias, "action", action, "version", version)
	http.Redirect(w, r, back+"?done="+done, http.StatusSeeOther)
}
