package main

import (
	"strconv"
	"strings"
)

// shape is one search as a client types it, over the experiment of n runs.
type shape struct {
	name    string
	filter  string
	orderBy []string
	offset  int // > 0: a deep page, reached by its page token
	// follow: the deep page's token is the one the server hands out with
	// the page before, paging from the first as a client does; otherwise
	// it is forged, MLflow's {"offset": N}.
	follow   bool
	compound bool // in the four-client throughput mix
}

// deepOffset is where the deep pages start: page 51 of 100 runs.
const deepOffset = 5000

// shapes returns the query mix over an experiment of n runs (see genRun for
// the data: which values are broad and which selective).
func shapes(n int) []shape {
	at := func(frac float64) string { return strconv.FormatInt(t0+int64(frac*float64(n))*runEveryM, 10) }
	ids := []string{runID(n / 3), runID(n / 2), runID(n - 5)}
	s := []shape{
		// The table.
		{name: "default order", filter: ""},
		{name: "m0>0.5 by m1 DESC", filter: "metrics.m0 > 0.5", orderBy: []string{"metrics.m1 DESC"}},
		{name: "m0>0.5 p1=x3 by m1 DESC", filter: "metrics.m0 > 0.5 AND params.p1 = 'x3'", orderBy: []string{"metrics.m1 DESC"}, compound: true},
		{name: "p4=adam", filter: "params.p4 = 'adam'"},
		{name: "by p2 ASC", orderBy: []string{"params.p2 ASC"}},
		{name: "run_name LIKE run-12%", filter: "attributes.run_name LIKE 'run-12%'"},
		{name: "m4>0.99 by p3 DESC", filter: "metrics.m4 > 0.99", orderBy: []string{"params.p3 DESC"}, compound: true},

		// Metrics, each comparator, broad and selective.
		{name: "m1>=0.1 (broad)", filter: "metrics.m1 >= 0.1"},
		{name: "m2<=-2 (2%)", filter: "metrics.m2 <= -2"},
		{name: "m0<0.001 (0.1%)", filter: "metrics.m0 < 0.001"},
		{name: "m3!=0.5", filter: "metrics.m3 != 0.5"},
		{name: "m0=0.25 (none)", filter: "metrics.m0 = 0.25"},
		{name: "m1>0.9 m2>1 by m0 ASC", filter: "metrics.m1 > 0.9 AND metrics.m2 > 1", orderBy: []string{"metrics.m0 ASC"}, compound: true},

		// Params.
		{name: "p0!=7", filter: "params.p0 != '7'"},
		{name: "p0=42 (1%) by m0 DESC", filter: "params.p0 = '42'", orderBy: []string{"metrics.m0 DESC"}},
		{name: "p1 LIKE x1%", filter: "params.p1 LIKE 'x1%'"},
		{name: "p4 ILIKE %ADA%", filter: "params.p4 ILIKE '%ADA%'"},
		{name: "p3=500 (0.1%)", filter: "params.p3 = '500'"},

		// Tags.
		{name: "team=nlp", filter: "tags.team = 'nlp'"},
		{name: "stage=prod (2%)", filter: "tags.stage = 'prod'"},
		{name: "git_sha LIKE ab% (0.4%)", filter: "tags.git_sha LIKE 'ab%'"},
		{name: "team ILIKE N%", filter: "tags.team ILIKE 'N%'"},
		{name: "team!=vision", filter: "tags.team != 'vision'"},

		// Attributes.
		{name: "status=FAILED", filter: "attributes.status = 'FAILED'"},
		{name: "status!=FINISHED", filter: "attributes.status != 'FINISHED'"},
		{name: "user_id=alice", filter: "attributes.user_id = 'alice'"},
		{name: "start_time> last 10%", filter: "attributes.start_time > " + at(0.9)},
		{name: "start_time window 1%", filter: "attributes.start_time >= " + at(0.5) + " AND attributes.start_time <= " + at(0.51)},
		{name: "end_time< first 10%", filter: "attributes.end_time < " + at(0.1)},
		{name: "run_name ILIKE %-99%", filter: "attributes.run_name ILIKE '%-99%'"},
		{name: "run_id IN (3)", filter: "attributes.run_id IN ('" + strings.Join(ids, "', '") + "')"},
		{name: "run_id NOT IN (3)", filter: "attributes.run_id NOT IN ('" + strings.Join(ids, "', '") + "')"},

		// Compound filters.
		{name: "m0>0.5 adam nlp by m1 DESC", filter: "metrics.m0 > 0.5 AND params.p4 = 'adam' AND tags.team = 'nlp'", orderBy: []string{"metrics.m1 DESC"}, compound: true},
		{name: "m4>0.99 prod", filter: "metrics.m4 > 0.99 AND tags.stage = 'prod'", compound: true},
		{name: "p1=x3 FINISHED by start ASC", filter: "params.p1 = 'x3' AND attributes.status = 'FINISHED'", orderBy: []string{"attributes.start_time ASC"}, compound: true},
		{name: "nlp p3 LIKE 5% by m4 DESC", filter: "tags.team = 'nlp' AND params.p3 LIKE '5%'", orderBy: []string{"metrics.m4 DESC"}, compound: true},
		{name: "m0>0.5 by p2 ASC", filter: "metrics.m0 > 0.5", orderBy: []string{"params.p2 ASC"}, compound: true},
		{name: "alice sgd m2>0 by end DESC", filter: "attributes.user_id = 'alice' AND params.p4 = 'sgd' AND metrics.m2 > 0", orderBy: []string{"attributes.end_time DESC"}, compound: true},

		// Orderings alone.
		{name: "by m2 ASC", orderBy: []string{"metrics.m2 ASC"}},
		{name: "by m3 ASC, p0 DESC", orderBy: []string{"metrics.m3 ASC", "params.p0 DESC"}},
		{name: "by git_sha DESC", orderBy: []string{"tags.git_sha DESC"}},
		{name: "by run_name ASC", orderBy: []string{"attributes.run_name ASC"}},
		{name: "by end_time DESC", orderBy: []string{"attributes.end_time DESC"}},
		{name: "by start_time ASC", orderBy: []string{"attributes.start_time ASC"}},

		// Deep pages.
		{name: "deep: default order", offset: deepOffset},
		{name: "deep: by m1 DESC", orderBy: []string{"metrics.m1 DESC"}, offset: deepOffset},
		{name: "deep: by p2 ASC", orderBy: []string{"params.p2 ASC"}, offset: deepOffset},
		{name: "deep: m0>0.5 by m1 DESC", filter: "metrics.m0 > 0.5", orderBy: []string{"metrics.m1 DESC"}, offset: deepOffset / 2},
		{name: "deep: team=nlp by start ASC", filter: "tags.team = 'nlp'", orderBy: []string{"attributes.start_time ASC"}, offset: deepOffset / 2},
	}
	// The same deep pages reached by following the tokens.
	for _, d := range s {
		if d.offset > 0 {
			d.name, d.follow = strings.Replace(d.name, "deep:", "deep, followed:", 1), true
			s = append(s, d)
		}
	}
	return s
}
