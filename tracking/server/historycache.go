package server

import (
	"cmp"
	"context"
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/wire"
)

// historyStamper is offered by a store that can tell cheaply whether a run's
// metric histories changed (sqlstore on SQLite): see
// sqlstore.(*Store).MetricHistoryStamp.
type historyStamper interface {
	MetricHistoryStamp(ctx context.Context, runID string) (stamp int64, ok bool, err error)
}

// historySincer is offered by a store that can hand over the points of a
// metric written after a stamp (sqlstore on SQLite): see
// sqlstore.(*Store).MetricHistorySince.
type historySincer interface {
	MetricHistorySince(ctx context.Context, runID, key string, stamp int64, fn func(tracking.Metric) error) (int64, bool, error)
}

// historyStreamer is offered by a store that can hand a metric's history over
// a point at a time (sqlstore): see sqlstore.(*Store).EachMetricHistory.
type historyStreamer interface {
	EachMetricHistory(ctx context.Context, runID, key string, maxResults int, pageToken string, fn func(tracking.Metric) error) (string, error)
}

// Bounds of the get-history answers kept. Only long answers are worth keeping
// (a 100,000-point history is ~10 MB and ~200 ms to read from SQLite; a
// 1,000-point one is read in a few ms); the total stays well inside the
// server's 64 MiB soft memory limit.
const (
	minCachedHistory = 256 << 10
	maxCachedHistory = 32 << 20
)

// historyCache keeps encoded get-history answers of this process, each with
// the stamp of the run's histories it was read at. An answer is given again
// only while the database's stamp is the same, read on every request: a point
// written by any process (another replica, MLflow's server on the same
// database) changes the stamp, so a replica can never answer from an older
// history than the database holds.
type historyCache struct {
	mu      sync.Mutex
	entries map[historyKey]*historyEntry
	size    int
	clock   uint64
}

// historyKey is one get-history request: a run's key, and which page.
type historyKey struct {
	run, key   string
	maxResults int
	pageToken  string
}

type historyEntry struct {
	stamp int64
	body  []byte
	used  uint64 // the cache's clock when last given
	// last is the answer's last point, nil for an empty one: the points
	// written since may follow it (see extend).
	last *tracking.Metric
}

// get returns the answer kept for k at stamp, or nil.
func (c *historyCache) get(k historyKey, stamp int64) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil || e.stamp != stamp {
		return nil
	}
	c.clock++
	e.used = c.clock
	return e.body
}

// older returns the answer kept for k at another stamp than stamp, or nil.
func (c *historyCache) older(k historyKey, stamp int64) *historyEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[k]; e != nil && e.stamp != stamp {
		return e
	}
	return nil
}

// extend returns the answer of a whole history (k asks no page) kept at an
// older stamp brought up to the database's, from the points written since,
// and keeps it; nil when it cannot be (store offers no since, a point written
// since sorts before the kept answer's last, the answer was empty). The
// bytes are those of a fresh read: the new points come in history order and
// after the kept ones.
func (c *historyCache) extend(ctx context.Context, since historySincer, k historyKey, stamp int64) []byte {
	e := c.older(k, stamp)
	if since == nil || e == nil || e.last == nil || k.maxResults != 0 || k.pageToken != "" {
		return nil
	}
	var more []tracking.Metric
	newStamp, ok, err := since.MetricHistorySince(ctx, k.run, k.key, e.stamp, func(m tracking.Metric) error {
		more = append(more, m)
		return nil
	})
	if err != nil || !ok || len(more) > 0 && historyOrder(more[0], *e.last) <= 0 {
		return nil
	}
	body, last := e.body, e.last
	if len(more) > 0 {
		if body, ok = wire.AppendMetricHistoryPoints(e.body, more); !ok {
			return nil
		}
		last = &more[len(more)-1]
	}
	c.put(k, newStamp, body, last)
	return body
}

// historyOrder compares two points of one history as the store orders them:
// timestamp, step, stored value (NaN is stored as 0) and is_nan.
func historyOrder(a, b tracking.Metric) int {
	stored := func(m tracking.Metric) (float64, int) {
		if math.IsNaN(m.Value) {
			return 0, 1
		}
		return m.Value, 0
	}
	av, an := stored(a)
	bv, bn := stored(b)
	return cmp.Or(cmp.Compare(a.Timestamp, b.Timestamp), cmp.Compare(a.Step, b.Step), cmp.Compare(av, bv), cmp.Compare(an, bn))
}

// put keeps body as the answer to k at stamp, whose last point is last (nil
// for none), dropping the least recently given answers to stay within
// maxCachedHistory.
func (c *historyCache) put(k historyKey, stamp int64, body []byte, last *tracking.Metric) {
	if len(body) < minCachedHistory || len(body) > maxCachedHistory/2 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[historyKey]*historyEntry{}
	}
	if old := c.entries[k]; old != nil {
		c.size -= len(old.body)
		delete(c.entries, k)
	}
	for c.size+len(body) > maxCachedHistory {
		var oldest historyKey
		var oldestUsed uint64 = ^uint64(0)
		for k, e := range c.entries {
			if e.used < oldestUsed {
				oldest, oldestUsed = k, e.used
			}
		}
		c.size -= len(c.entries[oldest].body)
		delete(c.entries, oldest)
	}
	c.clock++
	c.entries[k] = &historyEntry{stamp: stamp, body: body, used: c.clock, last: last}
	c.size += len(body)
}

// startStreaming is how much of a get-history answer is held before it is
// sent: an answer up to it goes out whole with its Content-Length (and a
// failure before it is still a proper error answer); a longer one goes out in
// chunks as the rows are read, so that a history of a million points (~100 MB)
// does not sit in the server's memory.
const startStreaming = 1 << 20

// historyAnswer is the http.ResponseWriter side of a streamed get-history
// answer. With keep it also copies the answer, for historyCache, while the
// answer stays within what the cache takes.
type historyAnswer struct {
	w       http.ResponseWriter
	keep    bool
	buf     []byte // what is held: all of it before started, the copy after
	started bool   // the status and part of the answer are out
}

func (a *historyAnswer) Write(p []byte) (int, error) {
	if !a.started {
		a.buf = append(a.buf, p...)
		if len(a.buf) <= startStreaming {
			return len(p), nil
		}
		a.started = true
		a.w.Header().Set("Content-Type", "application/json")
		a.w.WriteHeader(http.StatusOK)
		if _, err := a.w.Write(a.buf); err != nil {
			return 0, err
		}
		if !a.keep {
			a.buf = nil
		}
		return len(p), nil
	}
	if a.keep {
		if len(a.buf)+len(p) <= maxCachedHistory/2 {
			a.buf = append(a.buf, p...)
		} else {
			a.keep, a.buf = false, nil
		}
	}
	return a.w.Write(p)
}

// finish sends what is held, if nothing was sent yet, and returns the whole
// answer when it was kept (nil when it was not, or is too long to keep).
func (a *historyAnswer) finish() []byte {
	if !a.started {
		writeAnswer(a.w, a.buf)
		a.started = true
	}
	if !a.keep {
		return nil
	}
	return a.buf
}

// writeAnswer writes a JSON success answer of body.
func writeAnswer(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // the client went away: nothing left to tell it
}
