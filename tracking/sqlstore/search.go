package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/search"
)

func (s *Store) searchDialect() search.Dialect {
	if s.dialect == dialectPostgres {
		return search.PostgreSQL
	}
	return search.SQLite
}

// params numbers placeholders for queries built around compiled search fragments,
// which already carry the dialect's placeholders (so these queries are not rebound).
type params struct {
	d    dialect
	n    int
	args []any
}

func (p *params) add(v any) string {
	p.args = append(p.args, v)
	p.n++
	if p.d == dialectPostgres {
		return "$" + strconv.Itoa(p.n)
	}
	return "?"
}

func (p *params) list(vs []any) string {
	ph := make([]string, len(vs))
	for i, v := range vs {
		ph[i] = p.add(v)
	}
	return strings.Join(ph, ", ")
}

// stages returns the lifecycle stages a view type selects.
func stages(v tracking.ViewType) ([]any, error) {
	switch v {
	case "", tracking.ViewActiveOnly:
		return []any{string(tracking.LifecycleActive)}, nil
	case tracking.ViewDeletedOnly:
		return []any{string(tracking.LifecycleDeleted)}, nil
	case tracking.ViewAll:
		return []any{string(tracking.LifecycleActive), string(tracking.LifecycleDeleted)}, nil
	}
	return nil, tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid view type '%s'", v)
}

func maxResults(n, def, limit int) (int, error) {
	if n == 0 {
		return def, nil
	}
	if n < 0 || n > limit {
		return 0, tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid value %d for parameter 'max_results' supplied:  "+
			"Hint: Value was of type 'int'. See the API docs for more information about request parameters.", n)
	}
	return n, nil
}

// SearchRuns returns a page of runs of the given experiments that match the
// filter, in the requested order. It selects the page of runs with one query per
// search segment (see search.CompileRunSegments) and then loads metrics, params, tags and inputs of just those runs with one
// query per table. A page of exactly MaxResults runs carries a next token, as in MLflow.
func (s *Store) SearchRuns(ctx context.Context, q tracking.RunQuery) (tracking.Page[tracking.Run], error) {
	var page tracking.Page[tracking.Run]
	limit, err := maxResults(q.MaxResults, tracking.DefaultSearchResults, tracking.MaxSearchResults)
	if err != nil {
		return page, err
	}
	lifecycle, err := stages(q.ViewType)
	if err != nil {
		return page, err
	}
	pos, err := search.DecodeRunPageToken(q.PageToken)
	if err != nil {
		return page, err
	}
	offset, after := pos.Offset, pos.After
	fingerprint := search.SearchFingerprint(q.ExperimentIDs, string(q.ViewType), q.Filter, q.OrderBy)
	if pos.Search != fingerprint {
		after = nil // a token of another search (or MLflow's): its offset stands
	}
	filter, err := search.ParseRunFilter(q.Filter)
	if err != nil {
		return page, err
	}
	order, err := search.ParseRunOrderBy(q.OrderBy)
	if err != nil {
		return page, err
	}
	expIDs, err := experimentIDArgs(q.ExperimentIDs)
	if err != nil {
		return page, err
	}
	if len(expIDs) == 0 {
		return page, nil
	}
	var last []any
	var lastNulls nullColumns // of the last run in infos
	err = s.readTx(ctx, func(tx *txn) error {
		want := offset + limit
		if after != nil {
			want = limit // the seek passes the runs before
		}
		segments, bound, err := runSegments(ctx, tx, filter, order, expIDs, lifecycle, want)
		if err != nil {
			return err
		}
		var infos []tracking.RunInfo
		// read reads the page from segments, each walk of one bounded to
		// capped index entries (0: unbounded), and reports whether a
		// bounded walk fell short: its page is then not the search's.
		read := func(segments []search.SQL, capped int) (short bool, err error) {
			infos = make([]tracking.RunInfo, 0, min(limit, 1000))
			skip := offset
			if after != nil {
				skip = 0
			}
			seeks := make([]seekCond, len(segments))
			for i, seg := range segments {
				if after == nil {
					break
				}
				var err error
				seeks[i].cond, seeks[i].args, seeks[i].skip, err = seg.After(order, after, s.searchDialect(), seg.NextArg)
				if err != nil {
					// Values that do not fit the ordering (a token made by
					// hand): its offset stands.
					after, skip, seeks = nil, offset, make([]seekCond, len(segments))
				}
			}
			for i, seg := range segments {
				if len(infos) == limit {
					break
				}
				seek := seeks[i]
				if seek.skip {
					continue // every run of it comes before the token's
				}
				segCap := capped
				if seg.Lead == "" || len(seg.OrderArgs) > 0 {
					segCap = 0 // not a walk of runs alone (see searchSegment)
				}
				asked := limit - len(infos)
				n, err := searchSegment(ctx, tx, seg, seek, expIDs, lifecycle, asked, skip, segCap, &infos, &lastNulls)
				if err != nil {
					return false, err
				}
				if segCap > 0 && n < asked {
					// The runs past the bound may hold the rest.
					return true, nil
				}
				switch {
				case n > 0:
					skip = 0
				case skip > 0:
					// The page starts after this segment: skip its rows.
					count, err := countSegment(ctx, tx, seg, expIDs, lifecycle)
					if err != nil {
						return false, err
					}
					skip -= count
				}
			}
			return false, nil
		}
		short, err := read(segments, bound.cap)
		if err != nil {
			return err
		}
		if short {
			// The walk met fewer matches than its estimate assumed (they
			// gather elsewhere in its order): drive by the counted clause.
			s.walkFallbacks.Add(1)
			if bound.few && s.dialect == dialectPostgres {
				if err := joinByLookups(ctx, tx); err != nil {
					return err
				}
			}
			if _, err := read([]search.SQL{bound.drive}, 0); err != nil {
				return err
			}
		}
		var keep *storedRun
		if len(infos) == limit {
			// The next page's token keeps the last run's sort keys, read
			// from its rows as they are loaded.
			keep = newStoredRun(limit-1, lastNulls)
		}
		if page.Items, err = loadRuns(ctx, tx, infos, keep); err != nil {
			return err
		}
		if keep != nil {
			keep.info = page.Items[keep.run].Info
			// Keys that do not fit the ordering (a column of an
			// unexpected type) leave the next token its offset alone.
			last, _ = search.RunKeyValues(order, keep)
		}
		return nil
	})
	if err != nil {
		return tracking.Page[tracking.Run]{}, err
	}
	if len(page.Items) == limit {
		page.NextPageToken = search.EncodeRunPageToken(search.RunPosition{Offset: offset + limit, After: last, Search: fingerprint})
	}
	return page, nil
}

// storedRun is a run of a page as the database holds it (search.StoredRun):
// its runs row, NULLs included, and its latest metrics, params and tags as
// stored (loadRuns hands the run NaN for is_nan and "" for a NULL value).
type storedRun struct {
	run     int // its index in the page
	info    tracking.RunInfo
	nulls   nullColumns
	metrics map[string]keptMetric
	params  map[string]sql.NullString
	tags    map[string]sql.NullString
}

// keptMetric is a latest_metrics row's value and is_nan, as stored.
type keptMetric struct {
	value float64
	isNaN bool
}

func newStoredRun(run int, nulls nullColumns) *storedRun {
	return &storedRun{run: run, nulls: nulls, metrics: map[string]keptMetric{},
		params: map[string]sql.NullString{}, tags: map[string]sql.NullString{}}
}

func (r *storedRun) Column(name string) (any, bool) {
	str := func(v string, null bool) (any, bool) {
		if null {
			return nil, true
		}
		return v, true
	}
	num := func(v int64, null bool) (any, bool) {
		if null {
			return nil, true
		}
		return v, true
	}
	switch name {
	case "run_uuid":
		return r.info.RunID, true
	case "name":
		return str(r.info.RunName, r.nulls.name)
	case "user_id":
		return str(r.info.UserID, r.nulls.user)
	case "status":
		return str(string(r.info.Status), r.nulls.status)
	case "artifact_uri":
		return str(r.info.ArtifactURI, r.nulls.uri)
	case "start_time":
		return num(r.info.StartTime, r.nulls.start)
	case "end_time":
		return num(r.info.EndTime, r.nulls.end)
	}
	return nil, false
}

func (r *storedRun) Metric(key string) (float64, bool, bool) {
	m, ok := r.metrics[key]
	return m.value, m.isNaN, ok
}

func (r *storedRun) Param(key string) any { return keptValue(r.params[key]) }
func (r *storedRun) Tag(key string) any   { return keptValue(r.tags[key]) }

// keptValue is v's string, or nil for NULL (or a key the run does not hold).
func keptValue(v sql.NullString) any {
	if !v.Valid {
		return nil
	}
	return v.String
}

// experimentIDArgs turns the experiment ids a search names into bound values.
func experimentIDArgs(ids []string) ([]any, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid experiment id '%s': must be an integer", id)
		}
		args[i] = n
	}
	return args, nil
}

// runSegments compiles a run search into the queries SearchRuns reads one after
// the other, choosing the plan (see bench/README.md, "How a search is planned"):
//
//   - driven (search.CompileRunsDriven): read the runs one selective clause
//     lists through its index, test the rest, sort them; chosen when a clause
//     matches fewer runs than the walk would visit (chooseDriver);
//   - walk (search.CompileRunSegments): read the runs in the order asked, along
//     an index, testing the filter on each, until the page is full;
//   - sort (search.CompileRuns): test and sort every run of the experiments,
//     where no index gives the order (or, on SQLite, for few runs).
//
// want is the offset plus the page size: how many runs the walk must find.
//
// A walk chosen over driving by a counted clause comes with a bound: the
// choice took the clauses' matches as spread evenly along the walked order,
// and where they gather at its far end (names or end times growing with
// start_time, walked newest first) the walk tests most of the experiments'
// runs to find a page (attributes.run_name LIKE 'run-12%' over 1,000,000
// runs: 861,350 runs tested, 4.7 s, where driving reads 11,111). So each
// segment of the walk reads at most walkBound.cap entries of its index, a
// few times what the choice expected it to, and a page that the bound cut
// short is read again driven by the clause (walkBound.drive): the error of
// the estimate costs at most that multiple of the walk it expected, plus
// the driving that it had weighed against the walk.
func runSegments(ctx context.Context, tx *txn, filter search.Filter, order []search.OrderBy, expIDs, lifecycle []any, want int) ([]search.SQL, walkBound, error) {
	firstArg := len(expIDs) + len(lifecycle) + 1
	d := tx.s.searchDialect()
	walks, err := walkable(ctx, tx, order, expIDs, lifecycle)
	if err != nil {
		return nil, walkBound{}, err
	}
	var driver int
	var few bool
	var bound walkBound
	switch plan := tx.s.plan; plan.kind {
	case planChosen:
		var c driverChoice
		if c, err = chooseDriver(ctx, tx, filter, walks, expIDs, lifecycle, want); err != nil {
			return nil, walkBound{}, err
		}
		driver, few = c.driver, c.few
		filter, driver = selectiveFirst(filter, c.counts, driver)
		if driver < 0 {
			var none bool
			if filter, driver, none, err = scanDriver(ctx, tx, filter, -1, scanBound(want)); err != nil || none {
				return nil, walkBound{}, err
			}
		}
		if driver < 0 && walks && c.walkCap > 0 {
			// selectiveFirst put the clause of fewest matches first.
			bound = walkBound{cap: c.walkCap, driver: 0, few: c.bestFew}
		}
	case planDriven:
		driver, few = plan.driver, true
	case planScan:
		var none bool
		if filter, driver, none, err = scanDriver(ctx, tx, filter, plan.driver, 0); err != nil || none {
			return nil, walkBound{}, err
		}
	case planBoundedWalk:
		driver, bound = -1, walkBound{cap: plan.cap, driver: plan.driver, few: true}
	default:
		driver, walks = -1, plan.kind == planWalk
	}
	if driver >= 0 {
		one, err := search.CompileRunsDriven(filter, order, driver, d, firstArg)
		if err != nil {
			return nil, walkBound{}, tracking.Errorf(tracking.ErrInvalidParameterValue, "%v", err)
		}
		if few && tx.s.dialect == dialectPostgres {
			if err := joinByLookups(ctx, tx); err != nil {
				return nil, walkBound{}, err
			}
		}
		return []search.SQL{one}, walkBound{}, nil
	}
	if !walks {
		one, err := search.CompileRuns(filter, order, d, firstArg)
		if err != nil {
			return nil, walkBound{}, tracking.Errorf(tracking.ErrInvalidParameterValue, "%v", err)
		}
		return []search.SQL{one}, walkBound{}, nil
	}
	segments, err := search.CompileRunSegments(filter, order, d, firstArg)
	if err != nil {
		return nil, walkBound{}, tracking.Errorf(tracking.ErrInvalidParameterValue, "%v", err)
	}
	if bound.cap > 0 {
		if bound.drive, err = search.CompileRunsDriven(filter, order, bound.driver, d, firstArg); err != nil {
			return nil, walkBound{}, tracking.Errorf(tracking.ErrInvalidParameterValue, "%v", err)
		}
	}
	return segments, bound, nil
}

// walkBound is the bound of a walk (see runSegments): cap index entries a
// segment (of runs alone, SQL.Lead) reads at most, 0 for none, and drive,
// the driven search by the clause driver that reads the page the bound cut
// short; few as for joinByLookups.
type walkBound struct {
	cap    int
	driver int
	few    bool
	drive  search.SQL
}

// walkCapTimes is how many times the runs chooseDriver expected a walk to
// test it may test before the search drives instead: the walk was chosen
// because driving reads more (for one clause, at least the bound
// sqrt(want*n) against want*n/bound), and past a few times its estimate the
// estimate is wrong and the clause's matches lie further on.
const walkCapTimes = 4

// joinByLookups tells PostgreSQL, for the rest of the transaction, to join
// a driven search's few candidates to runs (and its probes' tables) by index
// lookups rather than by hashing or merging: its estimate of a metric range
// mixes every key's values (metrics.m0 < 0.001 at 100,000 runs: 10,578 runs
// estimated, 105 found, the key's range being [0, 1) and another's normal),
// and for a few hundred candidates it hashed all the experiments' runs after
// a sequential scan (2,500 buffers at 100,000 runs, 25,000 at 1,000,000)
// where looking them up reads a few buffers each. Without those, a plan
// reading a few thousand candidates may be given a parallel worker, whose
// start cost more than the whole plan on this 2-core machine (26.9 ms for a
// 1.3 ms join at load 10), so none is started.
func joinByLookups(ctx context.Context, tx *txn) error {
	_, err := tx.ExecContext(ctx, `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true),
		set_config('max_parallel_workers_per_gather', '0', true)`)
	return dbError(err, "set the join methods of a driven search")
}

// planKind names the plans of runSegments, for tests that hold them to the
// same pages (Store.plan): planChosen, the default, lets runSegments choose.
type planKind int

const (
	planChosen      planKind = iota
	planSorted               // search.CompileRuns
	planWalk                 // search.CompileRunSegments
	planDriven               // search.CompileRunsDriven by clause driver
	planScan                 // scanDriver of clause driver, without a bound
	planBoundedWalk          // search.CompileRunSegments bounded to cap entries, then driver
)

type planChoice struct {
	kind   planKind
	driver int
	cap    int
}

// walkable reports whether search.CompileRunSegments walks an index in the
// order asked (rather than sorting every run) and should: no ordering or an
// indexed column (start_time, end_time, run_name); a metric, unless SQLite
// holds few runs in the experiments (fewRuns); a param or a tag where the
// database compares strings bytewise (see search.CompileRunSegments).
func walkable(ctx context.Context, tx *txn, order []search.OrderBy, expIDs, lifecycle []any) (bool, error) {
	if len(order) == 0 {
		return true, nil
	}
	switch order[0].Type {
	case search.Attribute:
		switch order[0].Key {
		case "start_time", "end_time", "run_name":
			return true, nil
		}
		return false, nil
	case search.Metric:
		few, err := fewRuns(ctx, tx, expIDs, lifecycle)
		return !few, err
	case search.Param, search.Tag:
		return tx.s.bytewise(ctx, tx)
	}
	return false, nil
}

// chooseDriver returns the filter clause whose index should drive the search,
// or -1 for none. Of the experiments' n runs, a driver clause i matches about
// m_i (its index entries, counted); taking the clauses as independent, the
// walk visits about want * n/m_1 * n/m_2 ... runs to find want, and driving by
// the clause with the fewest reads m_min runs and sorts them. The plan with
// fewer runs to read wins; when the search cannot walk, the other plan reads
// all n. Counting stops at a bound (sqrt(want*n), doubled for each driver
// clause past the first, since together they narrow the walk), so that it
// passes few index entries for a broad clause; all of them are counted in
// one query. It returns the counts too, by clause index, whether the
// driver lists few of the n runs (see fewCandidatesPer), and for a walk
// its bound (see runSegments).
func chooseDriver(ctx context.Context, tx *txn, filter search.Filter, walks bool, expIDs, lifecycle []any, want int) (driverChoice, error) {
	none := driverChoice{driver: -1}
	d := tx.s.searchDialect()
	bytewise, err := tx.s.bytewise(ctx, tx)
	if err != nil {
		return none, err
	}
	drivers := search.RunDrivers(filter, bytewise)
	if len(drivers) == 0 {
		return none, nil
	}
	n, err := runCount(ctx, tx, expIDs, lifecycle)
	if err != nil {
		return none, err
	}
	bound := n
	if walks {
		bound = min(n, int(math.Sqrt(float64(want)*float64(n))*math.Pow(2, float64(len(drivers)-1))))
	}
	if bound < 1 {
		return none, nil
	}
	p := &params{d: tx.s.dialect}
	counts := make([]string, len(drivers))
	for i, c := range drivers {
		sq, err := search.CompileDriverCount(filter, c, d, p.n+1)
		if err != nil {
			return none, tracking.Errorf(tracking.ErrInvalidParameterValue, "%v", err)
		}
		p.args = append(p.args, sq.Args...)
		p.n = sq.NextArg - 1
		counts[i] = `(SELECT COUNT(*) FROM (SELECT 1 FROM ` + sq.From + ` WHERE ` + sq.Where + ` LIMIT ` + p.add(bound) + `) AS c)`
	}
	query := `SELECT ` + strings.Join(counts, ", ")
	// Remembered as runCount's answers: paging through a search, or a page
	// polling one, counts once (up to 11,000 index entries, 1.6 ms on
	// SQLite, for a filter of three broad clauses over 10,000 runs).
	memo, now := query+fmt.Sprint(p.args), tx.s.now()
	ns, ok := tx.s.driverCounts.get(memo, now)
	if !ok {
		got := make([]any, len(drivers))
		ns = make([]int, len(drivers))
		for i := range ns {
			got[i] = &ns[i]
		}
		if err := tx.QueryRowContext(ctx, query, p.args...).Scan(got...); err != nil {
			return none, dbError(err, "count the runs of the search's clauses")
		}
		tx.s.driverCounts.put(memo, ns, now)
	}
	matches := make(map[int]int, len(ns))
	best := 0
	walked := float64(want)
	for i, m := range ns {
		matches[drivers[i]] = m
		if m < ns[best] {
			best = i
		}
		walked *= float64(n) / float64(max(m, 1))
	}
	m := ns[best]
	few := m <= n/fewCandidatesPer
	if m >= bound || walks && float64(m) >= walked {
		c := driverChoice{driver: -1, counts: matches, bestFew: few}
		// A bound near n would spare few runs, and reading the walk
		// through a subquery costs per run (a deep page of 5,100 matches
		// at 100,000 runs bounded to 90,000: 45-62 ms on SQLite, 31-36
		// unbounded), so only a bound of at most a quarter of them is set.
		if limit := walkCapTimes * walked; limit <= float64(n)/4 {
			c.walkCap = max(int(limit), want)
		}
		return c, nil
	}
	return driverChoice{driver: drivers[best], counts: matches, few: few}, nil
}

// driverChoice is chooseDriver's answer: the driver clause or -1, the
// counts by clause index, whether the driver lists few runs; for a walk,
// walkCap, how many index entries it may read (0: no bound), and bestFew,
// whether the clause of fewest matches, which the walk falls back on,
// lists few.
type driverChoice struct {
	driver  int
	counts  map[int]int
	few     bool
	walkCap int
	bestFew bool
}

// selectiveFirst returns filter with its counted driver clauses (counts
// from chooseDriver, by clause index) first, fewest matches first, and the
// others after them in their order, and where clause i went. A walk or a
// driven read stops testing a run at its first false probe, so the most
// selective one first spares probes (a walk of m1 DESC testing m0 > 0.5,
// p4 = 'adam' and team = 'nlp' over 10,000 runs: 2.9-3.7 ms in that order,
// 2.5-3.2 ms with team first).
func selectiveFirst(filter search.Filter, counts map[int]int, i int) (search.Filter, int) {
	idx := make([]int, len(filter.Clauses))
	for k := range idx {
		idx[k] = k
	}
	rank := func(k int) int {
		if m, ok := counts[k]; ok {
			return m
		}
		return math.MaxInt
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(rank(a), rank(b)) })
	out := search.Filter{Entity: filter.Entity, Clauses: make([]search.Comparison, len(idx))}
	at := i
	for to, from := range idx {
		out.Clauses[to] = filter.Clauses[from]
		if from == i {
			at = to
		}
	}
	return out, at
}

// scanBound is how many runs a scanned clause (scanDriver) may list for
// driving by them to win over a walk that finds want runs: per entry a scan
// costs about a sixth of a walked run's probes (SQLite, 10,000 runs: 3 ms
// to scan 10,000 entries, 16 ms to walk 8,900 runs), so listing wins while
// the clause matches fewer than ~6 × want runs. Capped: the runs become
// bound arguments.
func scanBound(want int) int {
	return min(max(5*want, 500), 2000)
}

// scanDriver lists the runs that a clause no index range lists (a LIKE
// without a prefix, ILIKE, !=; search.RunScans) matches, by scanning its
// key's entries (search.CompileRunScan), and returns the filter with that
// clause replaced by "run_id IN (those runs)" and the clause's index, to
// drive the search by: for a selective clause, far fewer runs to read than a
// walk testing it on each. It tries clause i, or with i < 0 the first that
// can be scanned, and gives up (driver -1, the filter unchanged) when the
// clause matches more than bound runs (bound 0: no bound). none reports that
// the clause matches no run at all, so neither does the search.
func scanDriver(ctx context.Context, tx *txn, filter search.Filter, i, bound int) (_ search.Filter, driver int, none bool, err error) {
	if i < 0 {
		bytewise, err := tx.s.bytewise(ctx, tx)
		if err != nil {
			return filter, -1, false, err
		}
		scans := search.RunScans(filter, bytewise)
		if len(scans) == 0 {
			return filter, -1, false, nil
		}
		i = scans[0]
	}
	sq, err := search.CompileRunScan(filter, i, tx.s.searchDialect(), 1)
	if err != nil {
		return filter, -1, false, tracking.Errorf(tracking.ErrInvalidParameterValue, "%v", err)
	}
	p := &params{d: tx.s.dialect, n: sq.NextArg - 1, args: sq.Args}
	query := `SELECT drv.run_uuid FROM ` + sq.From + ` WHERE ` + sq.Where
	if bound > 0 {
		query += ` LIMIT ` + p.add(bound+1)
	}
	// That a clause is too broad to list is remembered as runCount's
	// answers; the runs it lists are not, being the search's answer.
	memo, now := query+fmt.Sprint(p.args), tx.s.now()
	if _, broad := tx.s.broadScans.get(memo, now); broad {
		return filter, -1, false, nil
	}
	var ids []string
	err = eachRowRaw(ctx, tx, query, customPlan(tx.s.dialect, p.args), func(r *sql.Rows) error {
		var id string
		err := r.Scan(&id)
		ids = append(ids, id)
		return err
	})
	if err != nil {
		return filter, -1, false, dbError(err, "list the runs of a search's clause")
	}
	if bound > 0 && len(ids) > bound {
		tx.s.broadScans.put(memo, true, now)
		return filter, -1, false, nil
	}
	if len(ids) == 0 {
		return filter, -1, true, nil
	}
	listed := search.Filter{Entity: filter.Entity, Clauses: slices.Clone(filter.Clauses)}
	listed.Clauses[i] = search.Comparison{Type: search.Attribute, Key: "run_id", Comparator: search.OpIn,
		Value: search.Value{Kind: search.ListValue, List: ids}}
	return listed, i, false, nil
}

// customPlan returns the arguments of a query that PostgreSQL should plan
// with their values each time. pgx keeps statements prepared, and after five
// executions PostgreSQL may run a prepared statement's generic plan, which
// knows no value: for a scan (scanDriver) it reads every row of tags testing
// the pattern on each, where planned with the key it reads the key's entries
// alone (10,000 runs: 50,000 ILIKEs instead of 10,000, 34 ms instead of 17 at
// load 19). pgx.QueryExecModeExec, as the first argument, sends the query as
// an unnamed statement, planned at each execution with its values.
func customPlan(d dialect, args []any) []any {
	if d != dialectPostgres {
		return args
	}
	return append([]any{pgx.QueryExecModeExec}, args...)
}

// fewCandidatesPer: a driver clause matching at most 1/fewCandidatesPer of
// the experiments' runs lists few enough that looking each up by the primary
// key of runs (~5 buffers each) costs less than reading every run once (a
// page holds ~40). Measured with EXPLAIN (ANALYZE, BUFFERS): at 1/1,000
// (metrics.m0 < 0.001) the lookups read 0.17-0.18 of the buffers of
// PostgreSQL's hash join, at 100k and 1M runs; at 1/50 (metrics.m2 <= -2)
// the two cost about the same (1M: 100,762 and 100,772 buffers; 100k: 8,766
// against 2,534, in about the same time). So the bound is 1/50: above 1/100
// PostgreSQL is not always given a hash join to choose, and for
// metrics.m4 > 0.99 AND tags.stage = 'prod' at 100k runs (996 candidates,
// 1/99; 5,631 estimated) it sorted every run by the order and probed the
// candidates' index for each, 364 ms, where the lookups take 12 ms.
const fewCandidatesPer = 50

// runCount returns how many runs the experiments hold in the lifecycle stages,
// as counted at most runCountsFor ago: it only weighs plans that give the same
// pages, and counting 1,000,000 runs takes PostgreSQL ~40 ms.
func runCount(ctx context.Context, tx *txn, expIDs, lifecycle []any) (int, error) {
	s := tx.s
	key := fmt.Sprint(expIDs, lifecycle)
	now := s.now()
	if n, ok := s.runCounts.get(key, now); ok {
		return n, nil
	}
	p := &params{d: s.dialect}
	query := `SELECT COUNT(*) FROM runs WHERE experiment_id IN (` + p.list(expIDs) + `) AND lifecycle_stage IN (` + p.list(lifecycle) + `)`
	var n int
	if err := tx.QueryRowContext(ctx, query, p.args...).Scan(&n); err != nil {
		return 0, dbError(err, "count runs")
	}
	s.runCounts.put(key, n, now)
	return n, nil
}

// bytewise reports whether the database compares strings bytewise, so that
// ordering by a value's prefix first keeps the value's order (see
// search.CompileRunSegments): always on SQLite (MLflow's columns have the BINARY
// collation), on PostgreSQL when the database's collation is C or POSIX.
func (s *Store) bytewise(ctx context.Context, tx *txn) (bool, error) {
	if s.dialect == dialectSQLite {
		return true, nil
	}
	s.collationMu.Lock()
	defer s.collationMu.Unlock()
	if s.collation == "" {
		if err := tx.QueryRowContext(ctx, `SELECT datcollate FROM pg_database WHERE datname = current_database()`).Scan(&s.collation); err != nil {
			return false, dbError(err, "read the database's collation")
		}
	}
	return s.collation == "C" || s.collation == "POSIX", nil
}

// defaultSortRunsBelow is the number of runs in the searched experiments
// below which a SQLite search ordered by a metric reads those runs and sorts
// them (one query, search.CompileRuns) rather than walk the metric's index in
// value order (search.CompileRunSegments). The walk passes the index entries
// of every experiment's runs with that metric key, so where other experiments
// log the same metric a small experiment's search walked them all: 10 ms for
// 10 runs beside an experiment of 10,000 (0.4 ms sorted), 11.8 ms for 100
// (1.6 ms); at 1,000 runs both took 5.5 ms, at 3,000 the walk 4.4 ms and the
// sort 10.5 ms. PostgreSQL's planner weighs the LIMIT and the experiments'
// share of the runs itself and is left to choose.
const defaultSortRunsBelow = 1000

// fewRuns reports whether a SQLite search should sort the runs of the
// experiments rather than walk the metric's index: whether they hold fewer
// than s.sortRunsBelow runs in the lifecycle stages, counting no further.
func fewRuns(ctx context.Context, tx *txn, expIDs, lifecycle []any) (bool, error) {
	s := tx.s
	if s.dialect != dialectSQLite {
		return false, nil
	}
	key := fmt.Sprint(s.sortRunsBelow, expIDs, lifecycle)
	now := s.now()
	if few, ok := s.fewRunsSeen.get(key, now); ok {
		return few, nil
	}
	p := &params{d: s.dialect}
	query := `SELECT COUNT(*) FROM (SELECT 1 FROM runs WHERE experiment_id IN (` + p.list(expIDs) +
		`) AND lifecycle_stage IN (` + p.list(lifecycle) + `) LIMIT ` + p.add(s.sortRunsBelow) + `) AS counted`
	var n int
	if err := tx.QueryRowContext(ctx, query, p.args...).Scan(&n); err != nil {
		return false, dbError(err, "count runs")
	}
	few := n < s.sortRunsBelow
	s.fewRunsSeen.put(key, few, now)
	return few, nil
}

// answerMemory keeps recent answers about the database that only choose
// between plans giving the same pages (fewRuns, runCount, chooseDriver's
// counts, scanDriver's broad clauses): counting up to 1,000
// index entries costs ~0.15 ms, a twentieth of a search of 10,000 runs.
type answerMemory[T any] struct {
	mu   sync.Mutex
	seen map[string]answer[T]
}

type answer[T any] struct {
	v  T
	at time.Time
}

const (
	answersFor     = 10 * time.Second
	answersMaxSeen = 1024 // answers kept; when full, the memory starts over
)

func (m *answerMemory[T]) get(key string, now time.Time) (v T, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.seen[key]
	if !ok || now.Sub(a.at) >= answersFor || now.Before(a.at) {
		return v, false
	}
	return a.v, true
}

func (m *answerMemory[T]) put(key string, v T, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil || len(m.seen) >= answersMaxSeen {
		m.seen = map[string]answer[T]{}
	}
	m.seen[key] = answer[T]{v, now}
}

// segmentWhere starts a query on a search segment: FROM, the experiments and
// lifecycle stages, and the segment's own conditions, with their arguments.
func segmentWhere(d dialect, seg search.SQL, expIDs, lifecycle []any) (string, *params) {
	p := &params{d: d}
	if d == dialectSQLite {
		// Positional placeholders: the arguments of From's come first.
		p.args = append(p.args, seg.Args[:seg.FromArgs]...)
	}
	q := ` FROM ` + seg.From + ` WHERE runs.experiment_id IN (` + p.list(expIDs) +
		`) AND runs.lifecycle_stage IN (` + p.list(lifecycle) + `) AND ` + seg.Where
	if d == dialectSQLite {
		p.args = append(p.args, seg.Args[seg.FromArgs:]...)
	} else {
		p.args = append(p.args, seg.Args...)
	}
	p.n += len(seg.Args)
	return q, p
}

// seekCond is the condition of SQL.After that starts a segment after a page
// token's run, with its arguments; none for a page read by its offset.
type seekCond struct {
	cond string
	args []any
	skip bool // no run of the segment comes after the token's
}

// searchSegment appends to infos at most limit runs of the segment, after skipping
// offset (and those before seek), and returns how many it appended;
// lastNulls receives the NULL columns of the last run appended. With capped
// > 0 (a segment of runs alone, with its Lead and no OrderArgs) it tests
// only the first capped runs of the segment's walk (after seek).
func searchSegment(ctx context.Context, tx *txn, seg search.SQL, seek seekCond, expIDs, lifecycle []any, limit, offset, capped int,
	infos *[]tracking.RunInfo, lastNulls *nullColumns) (int, error) {
	if capped > 0 {
		return searchCapped(ctx, tx, seg, seek, expIDs, lifecycle, limit, offset, capped, infos, lastNulls)
	}
	from, p := segmentWhere(tx.s.dialect, seg, expIDs, lifecycle)
	if seek.cond != "" {
		// On SQLite the arguments go in the order of the text; on
		// PostgreSQL the condition's placeholders follow OrderBy's.
		from += ` AND ` + seek.cond
		if tx.s.dialect == dialectSQLite {
			p.args = append(p.args, seek.args...)
			p.args = append(p.args, seg.OrderArgs...)
		} else {
			p.args = append(p.args, seg.OrderArgs...)
			p.args = append(p.args, seek.args...)
		}
	} else {
		p.args = append(p.args, seg.OrderArgs...)
	}
	p.n = seg.NextArg - 1 + len(seek.args)
	query := `SELECT ` + prefixColumns("runs.", runColumns) + from + ` ORDER BY ` + seg.OrderBy +
		` LIMIT ` + p.add(limit) + ` OFFSET ` + p.add(offset)
	return scanRuns(ctx, tx, query, p.args, infos, lastNulls)
}

// searchCapped is searchSegment bounded to the first capped runs of the
// walk: they are read through a LIMIT in a subquery, which walks the index
// of seg.Lead's column and stops there, and the filter tests them outside
// it. The subquery is named runs and yields the columns a filter or an
// ordering names (those of runColumns), so that they and the probes refer to
// it as they would to the table.
func searchCapped(ctx context.Context, tx *txn, seg search.SQL, seek seekCond, expIDs, lifecycle []any, limit, offset, capped int,
	infos *[]tracking.RunInfo, lastNulls *nullColumns) (int, error) {
	// On PostgreSQL the placeholders of the experiments and stages (and of
	// seek, numbered after seg's) stand in both the subquery and the
	// filter; on SQLite every placeholder takes its argument in the order
	// of the text.
	p := &params{d: tx.s.dialect}
	inner := `SELECT ` + prefixColumns("runs.", runColumns) + ` FROM runs WHERE runs.experiment_id IN (` + p.list(expIDs) +
		`) AND runs.lifecycle_stage IN (` + p.list(lifecycle) + `) AND ` + seg.Lead
	if seek.cond != "" {
		inner += ` AND ` + seek.cond
	}
	inner += ` ORDER BY ` + seg.OrderBy + ` LIMIT ` + strconv.Itoa(capped)
	if tx.s.dialect == dialectSQLite {
		p.args = append(append(p.args, seek.args...), seg.Args...)
	} else {
		p.args = append(append(p.args, seg.Args...), seek.args...)
	}
	p.n = seg.NextArg - 1 + len(seek.args)
	query := `SELECT ` + prefixColumns("runs.", runColumns) + ` FROM (` + inner + `) runs WHERE ` + seg.Where +
		` ORDER BY ` + seg.OrderBy + ` LIMIT ` + p.add(limit) + ` OFFSET ` + p.add(offset)
	return scanRuns(ctx, tx, query, p.args, infos, lastNulls)
}

// scanRuns appends the runs query returns to infos and returns how many.
func scanRuns(ctx context.Context, tx *txn, query string, args []any, infos *[]tracking.RunInfo, lastNulls *nullColumns) (int, error) {
	n := 0
	err := eachRowRaw(ctx, tx, query, args, func(r *sql.Rows) error {
		info, nulls, err := scanRunRow(r)
		if err == nil {
			*infos = append(*infos, info)
			*lastNulls = nulls
			n++
		}
		return err
	})
	return n, dbError(err, "search runs")
}

// countSegment counts the runs of a segment.
func countSegment(ctx context.Context, tx *txn, seg search.SQL, expIDs, lifecycle []any) (int, error) {
	from, p := segmentWhere(tx.s.dialect, seg, expIDs, lifecycle)
	var n int
	err := tx.QueryRowContext(ctx, `SELECT COUNT(*)`+from, p.args...).Scan(&n)
	return n, dbError(err, "count runs")
}

// prefixColumns qualifies each column of a comma-separated list with prefix.
func prefixColumns(prefix, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// SearchExperiments returns a page of experiments matching the filter (default
// order creation_time DESC, experiment_id ASC), with their tags.
func (s *Store) SearchExperiments(ctx context.Context, q tracking.ExperimentQuery) (tracking.Page[tracking.Experiment], error) {
	var page tracking.Page[tracking.Experiment]
	limit, err := maxResults(q.MaxResults, tracking.DefaultSearchResults, tracking.MaxSearchResults)
	if err != nil {
		return page, err
	}
	lifecycle, err := stages(q.ViewType)
	if err != nil {
		return page, err
	}
	offset, err := search.DecodePageToken(q.PageToken)
	if err != nil {
		return page, err
	}
	filter, err := search.ParseExperimentFilter(q.Filter)
	if err != nil {
		return page, err
	}
	order, err := search.ParseExperimentOrderBy(q.OrderBy)
	if err != nil {
		return page, err
	}
	p := &params{d: s.dialect}
	prefix := `SELECT ` + prefixColumns("experiments.", experimentColumns) +
		` FROM experiments WHERE experiments.lifecycle_stage IN (` + p.list(lifecycle) + `) AND `
	compiled, err := search.CompileExperiments(filter, order, s.searchDialect(), p.n+1)
	if err != nil {
		return page, tracking.Errorf(tracking.ErrInvalidParameterValue, "%v", err)
	}
	p.args = append(p.args, compiled.Args...)
	p.args = append(p.args, compiled.OrderArgs...)
	p.n = compiled.NextArg - 1
	query := prefix + compiled.Where + ` ORDER BY ` + compiled.OrderBy + ` LIMIT ` + p.add(limit+1) + ` OFFSET ` + p.add(offset)
	more := false
	err = s.readTx(ctx, func(tx *txn) error {
		var exps []*tracking.Experiment
		if err := eachRowRaw(ctx, tx, query, p.args, func(r *sql.Rows) error {
			e, err := scanExperiment(r)
			if err == nil {
				exps = append(exps, e)
			}
			return err
		}); err != nil {
			return dbError(err, "search experiments")
		}
		exps, more = onePage(exps, limit)
		if err := loadExperimentTags(ctx, tx, exps); err != nil {
			return err
		}
		for _, e := range exps {
			page.Items = append(page.Items, *e)
		}
		return nil
	})
	if err != nil {
		return tracking.Page[tracking.Experiment]{}, err
	}
	if more {
		page.NextPageToken = search.EncodePageToken(offset + limit)
	}
	return page, nil
}

// eachRowRaw is eachRow for queries that already carry the dialect's placeholders.
func eachRowRaw(ctx context.Context, tx *txn, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// onePage trims rows read with LIMIT limit+1 to the page and reports whether
// there is a next one. MLflow's stores page experiments, registered models and
// model versions so: a next page token only when there is a next page (runs
// get one whenever a page is full).
func onePage[T any](rows []*T, limit int) ([]*T, bool) {
	if len(rows) > limit {
		return rows[:limit], true
	}
	return rows, false
}
