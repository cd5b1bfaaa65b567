package server

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"

	graphql "github.com/graph-gophers/graphql-go"
	gqlerrors "github.com/graph-gophers/graphql-go/errors"

	"github.com/mlops-lab/housing/tracking"
)

// graphqlSchema is MLflow 2.17.2's GraphQL schema, which its web UI queries.
//
//go:embed graphql.graphql
var graphqlSchema string

// Limits of one GraphQL request: MLflow 3's (graphql_no_batching.py and its
// MLFLOW_SERVER_GRAPHQL_MAX_ROOT_FIELDS default). MLflow 2.17.2 has none; a
// query of thousands of aliased root fields would be thousands of store calls.
const (
	graphqlMaxDepth      = 10
	graphqlMaxSelections = 1000
	graphqlMaxRootFields = 10
)

// graphqlRequest is the body of POST (and GET) /graphql.
type graphqlRequest struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName string         `json:"operationName"`
}

// graphqlResponse is MLflow's answer: the data, and the errors' messages alone
// (null when there are none), always with status 200 once the request is JSON.
type graphqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []string        `json:"errors"`
}

// handleGraphQL serves /graphql over store: the same Store calls as the REST
// handlers (artifacts through roots, as artifacts/list), so that the auth guard
// filters both alike. Syntax and validation errors, the limits above and
// resolver errors are in the answer's "errors" with status 200, as MLflow
// answers; a body that is not a JSON object with a query is the REST API's 400.
func handleGraphQL(store tracking.Store, roots artifactRoots, logger *slog.Logger) endpoint {
	schema := graphql.MustParseSchema(graphqlSchema, &graphqlResolver{store: store, roots: roots},
		graphql.UseStringDescriptions(),
		graphql.UseFieldResolvers(),
		graphql.MaxDepth(graphqlMaxDepth),
		graphql.MaxSelections(graphqlMaxSelections),
		graphql.Logger(graphqlPanics{logger}),
		graphql.PanicHandler(graphqlPanics{logger}),
	)
	return func(w http.ResponseWriter, r *http.Request) error {
		if r.Method == http.MethodPost {
			if err := checkContentType(r); err != nil {
				return err
			}
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		var req graphqlRequest
		if json.Unmarshal(body, &req) != nil || req.Query == "" {
			// MLflow fails with a 500 here (it calls .get on None, or executes None).
			return missingParam("query")
		}
		ctx := context.WithValue(r.Context(), graphqlStateKey{}, &graphqlState{})
		res := schema.Exec(ctx, req.Query, req.OperationName, req.Variables)
		out := graphqlResponse{Data: res.Data}
		if len(out.Data) == 0 {
			out.Data = json.RawMessage("null")
		}
		for _, e := range res.Errors {
			out.Errors = append(out.Errors, graphqlErrorMessage(r, logger, e))
		}
		// Flask's jsonify: compact, with a final newline.
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(out); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(buf.Bytes()) // the client went away: nothing left to tell it
		return nil
	}
}

// graphqlErrorMessage is the text MLflow gives an error: a store error's
// message without its code (str(MlflowException)), except that internal
// errors are logged and answered as writeError answers them.
func graphqlErrorMessage(r *http.Request, logger *slog.Logger, e *gqlerrors.QueryError) string {
	err := e.ResolverError
	if err == nil {
		return e.Message
	}
	if tracking.ErrorCodeOf(err) == tracking.ErrInternal {
		logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "field", e.Path, "err", err)
		if hidesInternals(err) {
			return "Internal server error"
		}
	}
	return tracking.ErrorMessage(err)
}

// graphqlPanics logs a resolver's panic with the server's logger and answers
// it as writeError answers internal errors. graphql-go's defaults print the
// request's context to the standard logger and the panic's value to the client.
type graphqlPanics struct{ logger *slog.Logger }

func (p graphqlPanics) LogPanic(ctx context.Context, value any) {
	p.logger.ErrorContext(ctx, "panic in a GraphQL resolver", "panic", value, "stack", string(debug.Stack()))
}

func (graphqlPanics) MakePanicError(context.Context, any) *gqlerrors.QueryError {
	return &gqlerrors.QueryError{Message: "Internal server error"}
}

// graphqlState is what the resolvers of one request share.
type graphqlState struct {
	rootFields atomic.Int32
	mu         sync.Mutex
	// experiments remembers the experiments of a search's runs, which most
	// often share one, so that MlflowRunExtension.experiment reads each once.
	experiments map[string]*gqlExperiment
}

type graphqlStateKey struct{}

func stateOf(ctx context.Context) *graphqlState {
	if s, ok := ctx.Value(graphqlStateKey{}).(*graphqlState); ok {
		return s
	}
	return &graphqlState{}
}

// rootField counts one root field of the request and refuses those past
// graphqlMaxRootFields. Unlike MLflow 3, which refuses the whole query before
// running it, the first ones resolve (in order for mutations, in no set order
// for queries, whose root fields run in parallel) and the rest answer null with
// this error: graphql-go does not show the parsed query to count beforehand.
func rootField(ctx context.Context) error {
	if stateOf(ctx).rootFields.Add(1) > graphqlMaxRootFields {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "GraphQL queries should have at most %d root fields", graphqlMaxRootFields)
	}
	return nil
}

// graphqlResolver resolves Query's and Mutation's fields.
type graphqlResolver struct {
	store tracking.Store
	roots artifactRoots
}

func (q *graphqlResolver) MlflowGetExperiment(ctx context.Context, args struct{ Input *gqlGetExperimentInput }) (*gqlGetExperimentResponse, error) {
	if err := rootField(ctx); err != nil {
		return nil, err
	}
	in := deref(args.Input)
	e, err := q.store.GetExperiment(ctx, deref(in.ExperimentID))
	if err != nil {
		return nil, err
	}
	return &gqlGetExperimentResponse{Experiment: gqlExperimentOf(*e)}, nil
}

func (q *graphqlResolver) MlflowGetRun(ctx context.Context, args struct{ Input *gqlGetRunInput }) (*gqlGetRunResponse, error) {
	if err := rootField(ctx); err != nil {
		return nil, err
	}
	in := deref(args.Input)
	id, err := runID(deref(in.RunID), deref(in.RunUUID))
	if err != nil {
		return nil, err
	}
	run, err := q.store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	return &gqlGetRunResponse{Run: q.run(*run)}, nil
}

func (q *graphqlResolver) MlflowSearchRuns(ctx context.Context, args struct{ Input *gqlSearchRunsInput }) (*gqlSearchRunsResponse, error) {
	if err := rootField(ctx); err != nil {
		return nil, err
	}
	in := deref(args.Input)
	view := tracking.ViewType(deref(in.RunViewType)) // the schema's enum has the domain's names
	if view == "" {
		view = tracking.ViewActiveOnly
	}
	max := deref(in.MaxResults)
	if max < 0 || max > tracking.MaxSearchResults {
		return nil, invalidValue("max_results", json.RawMessage(strconv.Itoa(int(max))))
	}
	page, err := q.store.SearchRuns(ctx, tracking.RunQuery{
		ExperimentIDs: stringsOf(in.ExperimentIDs),
		Filter:        deref(in.Filter),
		OrderBy:       stringsOf(in.OrderBy),
		ViewType:      view,
		MaxResults:    int(max),
		PageToken:     deref(in.PageToken),
	})
	if err != nil {
		return nil, err
	}
	return &gqlSearchRunsResponse{Runs: each(page.Items, q.run), NextPageToken: ptr(page.NextPageToken)}, nil
}

func (q *graphqlResolver) MlflowListArtifacts(ctx context.Context, args struct{ Input *gqlListArtifactsInput }) (*gqlListArtifactsResponse, error) {
	if err := rootField(ctx); err != nil {
		return nil, err
	}
	in := deref(args.Input)
	id, err := runID(deref(in.RunID), deref(in.RunUUID))
	if err != nil {
		return nil, err
	}
	rootURI, files, err := listRunArtifacts(ctx, q.store, q.roots, id, deref(in.Path))
	if err != nil {
		return nil, err
	}
	return &gqlListArtifactsResponse{RootURI: ptr(rootURI), Files: each(files, gqlFileInfoOf), NextPageToken: ptr("")}, nil
}

// MlflowGetMetricHistoryBulkInterval takes maxResults, startStep and endStep
// from its input. MLflow 2.17.2 reads them from the request's query string
// (get_metric_history_bulk_interval_impl reads flask.request.args), where a
// GraphQL request has none, so that it ignores the input's.
func (q *graphqlResolver) MlflowGetMetricHistoryBulkInterval(ctx context.Context, args struct {
	Input *gqlGetMetricHistoryBulkIntervalInput
}) (*gqlGetMetricHistoryBulkIntervalResponse, error) {
	if err := rootField(ctx); err != nil {
		return nil, err
	}
	in := deref(args.Input)
	step := func(p *int32) *int64 {
		if p == nil {
			return nil
		}
		return ptr(int64(*p))
	}
	out, err := bulkInterval(ctx, q.store, bulkIntervalQuery{
		RunIDs: stringsOf(in.RunIDs), MetricKey: deref(in.MetricKey),
		StartStep: step(in.StartStep), EndStep: step(in.EndStep), MaxResults: int64(deref(in.MaxResults)),
	})
	if err != nil {
		return nil, err
	}
	return &gqlGetMetricHistoryBulkIntervalResponse{Metrics: each(out, gqlMetricWithRunIDOf)}, nil
}

func (q *graphqlResolver) MlflowSearchDatasets(ctx context.Context, args struct{ Input *gqlSearchDatasetsInput }) (*gqlSearchDatasetsResponse, error) {
	if err := rootField(ctx); err != nil {
		return nil, err
	}
	summaries, err := q.store.SearchDatasets(ctx, stringsOf(deref(args.Input).ExperimentIDs))
	if err != nil {
		return nil, err
	}
	return &gqlSearchDatasetsResponse{DatasetSummaries: each(summaries, gqlDatasetSummaryOf)}, nil
}

func (q *graphqlResolver) MlflowSearchModelVersions(ctx context.Context, args struct {
	Input *gqlSearchModelVersionsInput
}) (*gqlSearchModelVersionsResponse, error) {
	if err := rootField(ctx); err != nil {
		return nil, err
	}
	in := deref(args.Input)
	max := deref(in.MaxResults)
	if max < 0 {
		return nil, invalidValue("max_results", json.RawMessage(strconv.FormatInt(int64(max), 10)))
	}
	page, err := q.store.SearchModelVersions(ctx, tracking.ModelQuery{
		Filter: deref(in.Filter), OrderBy: stringsOf(in.OrderBy), MaxResults: int(max), PageToken: deref(in.PageToken),
	})
	if err != nil {
		return nil, err
	}
	return &gqlSearchModelVersionsResponse{ModelVersions: each(page.Items, gqlModelVersionOf), NextPageToken: ptr(page.NextPageToken)}, nil
}

// Test and TestMutation echo their input (graphql_schema_extensions.py).
func (q *graphqlResolver) Test(ctx context.Context, args struct{ InputString *string }) (*gqlEcho, error) {
	if err := rootField(ctx); err != nil {
		return nil, err
	}
	return &gqlEcho{Output: args.InputString}, nil
}

func (q *graphqlResolver) TestMutation(ctx context.Context, args struct{ InputString *string }) (*gqlEcho, error) {
	return q.Test(ctx, args)
}

func (q *graphqlResolver) run(r tracking.Run) *gqlRun {
	return &gqlRun{
		Info: gqlRunInfoOf(r.Info), Data: gqlRunDataOf(r.Data), Inputs: gqlRunInputsOf(r.Inputs),
		store: q.store, runID: r.Info.RunID, experimentID: r.Info.ExperimentID,
	}
}

// gqlRun is MlflowRunExtension: a run, and two fields MLflow's UI asks of it.
type gqlRun struct {
	Info   *gqlRunInfo
	Data   *gqlRunData
	Inputs *gqlRunInputs

	store               tracking.Store
	runID, experimentID string
}

// Experiment is the run's experiment, read once per request.
func (r *gqlRun) Experiment(ctx context.Context) (*gqlExperiment, error) {
	s := stateOf(ctx)
	s.mu.Lock()
	e, ok := s.experiments[r.experimentID]
	s.mu.Unlock()
	if ok {
		return e, nil
	}
	exp, err := r.store.GetExperiment(ctx, r.experimentID)
	if err != nil {
		return nil, err
	}
	e = gqlExperimentOf(*exp)
	s.mu.Lock()
	if s.experiments == nil {
		s.experiments = map[string]*gqlExperiment{}
	}
	s.experiments[r.experimentID] = e
	s.mu.Unlock()
	return e, nil
}

// ModelVersions are the model versions registered from the run: the first
// page of a search by run_id, as MLflow's resolver asks.
func (r *gqlRun) ModelVersions(ctx context.Context) (*[]*gqlModelVersion, error) {
	page, err := r.store.SearchModelVersions(ctx, tracking.ModelQuery{Filter: fmt.Sprintf("run_id = '%s'", r.runID)})
	if err != nil {
		return nil, err
	}
	return each(page.Items, gqlModelVersionOf), nil
}
