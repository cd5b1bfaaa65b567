package ui

import (
	"net/http"
	"net/url"

	"github.com/mlops-lab/housing/tracking"
)

type experimentsPage struct {
	page
	Filter      string
	FilterError string
	Rows        []experimentRow
	Next        string // URL of the next page, "" on the last
	First       string // URL of the first page, "" on it
}

type experimentRow struct {
	Experiment tracking.Experiment
	URL        string
	Runs       int  // top-level runs, as the runs table lists them
	MoreRuns   bool // more than runCountCap runs: Runs is a lower bound
	Nested     int  // runs nested under others
	MoreNested bool
	LastRun    int64
}

// handleExperiments lists experiments matching the filter, with run counts.
func (u *UI) handleExperiments(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	data := experimentsPage{
		page:   page{Title: "Experiments", Section: "experiments", Crumbs: []link{{"Experiments", "/"}}},
		Filter: q.Get("filter"),
	}
	res, err := u.store.SearchExperiments(ctx, tracking.ExperimentQuery{
		Filter:     data.Filter,
		OrderBy:    []string{"last_update_time DESC"},
		MaxResults: defaultPageSize,
		PageToken:  q.Get("page_token"),
	})
	if err != nil {
		if tracking.ErrorCodeOf(err) != tracking.ErrInvalidParameterValue {
			u.renderError(w, r, err)
			return
		}
		data.FilterError = tracking.ErrorMessage(err)
	}
	for _, e := range res.Items {
		row := experimentRow{Experiment: e, URL: "/experiments/" + url.PathEscape(e.ID)}
		var nested tracking.Page[tracking.Run]
		runs, err := u.store.SearchRuns(ctx, tracking.RunQuery{
			ExperimentIDs: []string{e.ID},
			Filter:        topLevelFilter,
			OrderBy:       []string{"start_time DESC"},
			MaxResults:    runCountCap,
		})
		if err == nil {
			nested, err = u.store.SearchRuns(ctx, tracking.RunQuery{
				ExperimentIDs: []string{e.ID},
				Filter:        "tags.`" + tracking.TagParentRunID + "` IS NOT NULL",
				MaxResults:    runCountCap,
			})
		}
		if err != nil {
			u.renderError(w, r, err)
			return
		}
		row.Runs, row.MoreRuns = len(runs.Items), runs.NextPageToken != ""
		row.Nested, row.MoreNested = len(nested.Items), nested.NextPageToken != ""
		if len(runs.Items) > 0 {
			row.LastRun = runs.Items[0].Info.StartTime
		}
		data.Rows = append(data.Rows, row)
	}
	if res.NextPageToken != "" {
		data.Next = "/?" + url.Values{"filter": {data.Filter}, "page_token": {res.NextPageToken}}.Encode()
	}
	if q.Get("page_token") != "" {
		data.First = "/?" + url.Values{"filter": {data.Filter}}.Encode()
	}
	u.render(w, r, http.StatusOK, "experiments", data)
}
