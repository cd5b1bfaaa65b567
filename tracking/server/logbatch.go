package server

import (
	"strconv"
	"unicode/utf8"

	"github.com/mlops-lab/housing/tracking/wire"
)

// parseLogBatch reads a runs/log-batch body of the shape clients send in one
// pass: a JSON object of run_id (a non-empty string), metrics (objects of
// key, value, timestamp and step, the first three set, value a number,
// timestamp and step integers) and params and tags (objects of key and value,
// key set), every string without escapes, every field once. It reports false
// for any other body, which decode then reads: every body decode refuses is
// one parseLogBatch declines (a missing or null field, a wrong type, an
// escape such as \u0000, a field it does not know, a field name in other
// case, which encoding/json would match), so MLflow's errors and their order
// stay decode's. What it accepts it reads to exactly what decode gives
// (TestParseLogBatchAgreesWithDecode, FuzzParseLogBatch). decode reads the
// body three times over (the raw fields for MLflow's error order, the
// request, and each list's elements for their required fields), which cost a
// log-batch more CPU than any of its other work outside the database.
func parseLogBatch(b []byte) (wire.LogBatchRequest, bool) {
	p := batchParser{b: b}
	req, ok := p.request()
	return req, ok && p.end()
}

type batchParser struct {
	b []byte
	i int
}

func (p *batchParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c, consuming it.
func (p *batchParser) next(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether nothing but white space is left.
func (p *batchParser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// str reads a string without escapes or control characters, of valid UTF-8
// (encoding/json would replace invalid bytes).
func (p *batchParser) str() (string, bool) {
	if !p.next('"') {
		return "", false
	}
	start := p.i
	ascii := true
	for ; p.i < len(p.b); p.i++ {
		switch c := p.b[p.i]; {
		case c == '"':
			s := p.b[start:p.i]
			p.i++
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// number reads a JSON number's text.
func (p *batchParser) number() ([]byte, bool) {
	p.ws()
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.digits() == 0:
		return nil, false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return nil, false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return nil, false
		}
	}
	return p.b[start:p.i], true
}

func (p *batchParser) digits() int {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	return p.i - start
}

// float reads a number as wire.Float reads one (strconv.ParseFloat, out of
// range refused).
func (p *batchParser) float() (float64, bool) {
	n, ok := p.number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(n), 64)
	return v, err == nil
}

// int reads a number as encoding/json reads one into an int64.
func (p *batchParser) int() (int64, bool) {
	n, ok := p.number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	return v, err == nil
}

// object reads an object, calling field for each member after its name and
// colon; field reads the value. A name seen twice is refused (encoding/json
// keeps the last, decode's raw fields too; not worth following here).
func (p *batchParser) object(field func(name string) bool) bool {
	if !p.next('{') {
		return false
	}
	if p.next('}') {
		return true
	}
	var seen [8]string
	for n := 0; ; n++ {
		name, ok := p.str()
		if !ok || !p.next(':') || n == len(seen) {
			return false
		}
		for _, s := range seen[:n] {
			if s == name {
				return false
			}
		}
		seen[n] = name
		if !field(name) {
			return false
		}
		if p.next('}') {
			return true
		}
		if !p.next(',') {
			return false
		}
	}
}

// array reads an array, calling elem for each element.
func (p *batchParser) array(elem func() bool) bool {
	if !p.next('[') {
		return false
	}
	if p.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if p.next(']') {
			return true
		}
		if !p.next(',') {
			return false
		}
	}
}

func (p *batchParser) request() (wire.LogBatchRequest, bool) {
	var req wire.LogBatchRequest
	ok := p.object(func(name string) bool {
		var ok bool
		switch name {
		case "run_id":
			req.RunID, ok = p.str()
		case "metrics":
			req.Metrics = make([]wire.Metric, 0, 16)
			ok = p.array(func() bool {
				m, ok := p.metric()
				req.Metrics = append(req.Metrics, m)
				return ok
			})
		case "params":
			req.Params = []wire.Param{}
			ok = p.array(func() bool {
				k, v, ok := p.keyValue()
				req.Params = append(req.Params, wire.Param{Key: k, Value: v})
				return ok
			})
		case "tags":
			req.Tags = []wire.Tag{}
			ok = p.array(func() bool {
				k, v, ok := p.keyValue()
				req.Tags = append(req.Tags, wire.Tag{Key: k, Value: v})
				return ok
			})
		}
		return ok
	})
	return req, ok && req.RunID != ""
}

// metric reads a metric with key (not empty), value and timestamp set.
func (p *batchParser) metric() (wire.Metric, bool) {
	var m wire.Metric
	var hasValue, hasTimestamp bool
	ok := p.object(func(name string) bool {
		var ok bool
		switch name {
		case "key":
			m.Key, ok = p.str()
		case "value":
			var v float64
			v, ok = p.float()
			m.Value, hasValue = wire.Float(v), true
		case "timestamp":
			m.Timestamp, ok = p.int()
			hasTimestamp = true
		case "step":
			m.Step, ok = p.int()
		}
		return ok
	})
	return m, ok && m.Key != "" && hasValue && hasTimestamp
}

// keyValue reads a param or tag with key set (not empty).
func (p *batchParser) keyValue() (key, value string, ok bool) {
	ok = p.object(func(name string) bool {
		var ok bool
		switch name {
		case "key":
			key, ok = p.str()
		case "value":
			value, ok = p.str()
		}
		return ok
	})
	return key, value, ok && key != ""
}
