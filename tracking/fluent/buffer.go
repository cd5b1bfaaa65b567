package fluent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// batchBytes keeps a batch well under MLflow's 1 MiB request limit, counting
// keys, values and a generous allowance for the JSON around each entity.
const (
	batchBytes     = tracking.MaxBatchRequestBytes * 3 / 4
	entityOverhead = 64
)

// buffer holds what was logged and not yet sent, in logging order.
type buffer struct {
	metrics []tracking.Metric
	params  []tracking.Param
	tags    []tracking.Tag
	tagAt   map[string]int // index in tags of a pending tag, so a re-set replaces it
}

func (b *buffer) empty() bool { return len(b.metrics)+len(b.params)+len(b.tags) == 0 }

// full reports whether a whole batch is waiting.
func (b *buffer) full() bool {
	return len(b.metrics) >= tracking.MaxMetricsPerBatch || len(b.params) >= tracking.MaxParamsPerBatch ||
		len(b.tags) >= tracking.MaxTagsPerBatch || len(b.metrics)+len(b.params)+len(b.tags) >= tracking.MaxEntitiesPerBatch
}

func (b *buffer) setTag(t tracking.Tag) {
	if i, ok := b.tagAt[t.Key]; ok {
		b.tags[i].Value = t.Value
		return
	}
	if b.tagAt == nil {
		b.tagAt = map[string]int{}
	}
	b.tagAt[t.Key] = len(b.tags)
	b.tags = append(b.tags, t)
}

// take removes and returns the next batch that fits MLflow's LogBatch limits:
// params and tags first (they are few), then as many metrics as fit.
func (b *buffer) take() (metrics []tracking.Metric, params []tracking.Param, tags []tracking.Tag) {
	size := 0
	np := 0
	for np < len(b.params) && np < tracking.MaxParamsPerBatch {
		s := len(b.params[np].Key) + len(b.params[np].Value) + entityOverhead
		if np > 0 && size+s > batchBytes {
			break
		}
		size += s
		np++
	}
	nt := 0
	for nt < len(b.tags) && nt < tracking.MaxTagsPerBatch {
		s := len(b.tags[nt].Key) + len(b.tags[nt].Value) + entityOverhead
		if np+nt > 0 && size+s > batchBytes {
			break
		}
		size += s
		nt++
	}
	nm := 0
	for nm < len(b.metrics) && nm < min(tracking.MaxMetricsPerBatch, tracking.MaxEntitiesPerBatch-np-nt) {
		s := len(b.metrics[nm].Key) + entityOverhead
		if np+nt+nm > 0 && size+s > batchBytes {
			break
		}
		size += s
		nm++
	}
	params, b.params = b.params[:np:np], b.params[np:]
	tags, b.tags = b.tags[:nt:nt], b.tags[nt:]
	metrics, b.metrics = b.metrics[:nm:nm], b.metrics[nm:]
	clear(b.tagAt)
	for i, t := range b.tags {
		b.tagAt[t.Key] = i
	}
	return metrics, params, tags
}

// LogMetric buffers one value of metric key at step, stamped with the
// client's clock. It returns an error for an invalid key, after End, and when
// the buffer was full and sending it failed.
func (r *Run) LogMetric(key string, value float64, step int64) error {
	return r.LogMetrics(map[string]float64{key: value}, step)
}

// LogMetrics buffers one value of each metric at step, all with one timestamp.
func (r *Run) LogMetrics(values map[string]float64, step int64) error {
	ts := r.c.millis()
	ms := make([]tracking.Metric, 0, len(values))
	for _, k := range slices.Sorted(maps.Keys(values)) {
		m := tracking.Metric{Key: k, Value: values[k], Timestamp: ts, Step: step}
		if err := tracking.ValidateMetric("", m); err != nil {
			return err
		}
		ms = append(ms, m)
	}
	return r.add(func(b *buffer) error {
		b.metrics = append(b.metrics, ms...)
		return nil
	})
}

// LogParam buffers a param. value is formatted like Python's str() for
// numbers and booleans, with %v otherwise. Logging a param again with the same
// value does nothing; with another value it is an INVALID_PARAMETER_VALUE
// error at once, since MLflow params are written once.
func (r *Run) LogParam(key string, value any) error {
	return r.LogParams(map[string]any{key: value})
}

// LogParams buffers several params (see LogParam); none is logged when one is invalid.
func (r *Run) LogParams(values map[string]any) error {
	ps := make([]tracking.Param, 0, len(values))
	for _, k := range slices.Sorted(maps.Keys(values)) {
		p := tracking.Param{Key: k, Value: paramString(values[k])}
		if err := tracking.ValidateParam("", p); err != nil {
			return err
		}
		ps = append(ps, p)
	}
	// Compared and sent as the store keeps them (values cut to MLflow's limit).
	ps = tracking.StoredParams(ps)
	return r.add(func(b *buffer) error {
		var fresh []tracking.Param
		for _, p := range ps {
			old, ok := r.params[p.Key]
			if ok && old != p.Value {
				return tracking.Errorf(tracking.ErrInvalidParameterValue,
					"Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for run ID='%s'. Attempted logging new value '%s'.",
					p.Key, old, r.info.RunID, p.Value)
			}
			if !ok {
				fresh = append(fresh, p)
			}
		}
		for _, p := range fresh {
			r.params[p.Key] = p.Value
		}
		b.params = append(b.params, fresh...)
		return nil
	})
}

// paramString formats v as MLflow's Python client would with str(v).
func paramString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		return pyFloat(x, 64)
	case float32:
		return pyFloat(float64(x), 32)
	case nil:
		return "None"
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// pyFloat formats f as Python's repr of a float: the shortest digits that
// read back to f, positional between 1e-4 and 1e16 (always with a decimal
// point), in exponent notation outside.
func pyFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, bits)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, bits)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// SetTag buffers a run tag; setting a key again replaces its value.
func (r *Run) SetTag(key, value string) error {
	return r.SetTags(map[string]string{key: value})
}

// SetTags buffers several run tags.
func (r *Run) SetTags(tags map[string]string) error {
	// Cut as the store keeps them (values to MLflow's limit).
	ts := tracking.StoredTags(mergeTags(nil, tags))
	for _, t := range ts {
		if err := tracking.ValidateTag("", t); err != nil {
			return err
		}
	}
	return r.add(func(b *buffer) error {
		for _, t := range ts {
			b.setTag(t)
		}
		return nil
	})
}

// add applies put to the buffer and sends a batch when one is full, in the
// caller's goroutine, so a fast logger cannot outrun the store.
func (r *Run) add(put func(*buffer) error) error {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return fmt.Errorf("fluent: run %s has ended", r.info.RunID)
	}
	err := put(&r.buf)
	full := r.buf.full()
	r.mu.Unlock()
	if err != nil || !full {
		return err
	}
	return r.flushFull()
}

// flushFull sends whole batches while there are any.
func (r *Run) flushFull() error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	for {
		r.mu.Lock()
		full := r.buf.full()
		r.mu.Unlock()
		if !full {
			return nil
		}
		if err := r.sendOne(r.ctx); err != nil {
			return err
		}
	}
}

// Flush sends everything buffered now.
func (r *Run) Flush(ctx context.Context) error {
	return r.flush(ctx)
}

func (r *Run) flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	var errs []error
	for {
		r.mu.Lock()
		empty := r.buf.empty()
		r.mu.Unlock()
		if empty {
			return errors.Join(errs...)
		}
		// A failed batch is reported and dropped: retrying a batch the store
		// refused would fail again, and the rest must still be sent.
		if err := r.sendOne(ctx); err != nil {
			errs = append(errs, err)
		}
	}
}

// sendOne sends the next batch; the caller holds flushMu. A failure is also
// recorded for End.
func (r *Run) sendOne(ctx context.Context) error {
	r.mu.Lock()
	metrics, params, tags := r.buf.take()
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, batchTimeout)
	defer cancel()
	err := r.c.store.LogBatch(ctx, r.info.RunID, metrics, params, tags)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("fluent: log batch of %d metrics, %d params, %d tags to run %s: %w",
		len(metrics), len(params), len(tags), r.info.RunID, err)
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	return err
}

// flushEvery sends the buffer every interval until End stops it.
func (r *Run) flushEvery(interval time.Duration) {
	defer close(r.done)
	if interval < 0 {
		<-r.stop
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			if err := r.flush(r.ctx); err != nil {
				r.c.log.Warn("background flush failed; End will report it", "run_id", r.info.RunID, "err", err)
			}
		}
	}
}
