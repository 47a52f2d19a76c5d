package bench

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// payload is what the tool writes in the data of each update it publishes:
// enough for every subscriber to check what it receives on its own.
type payload struct {
	run    string        // the run's id: events of another run are foreign
	step   int           // the sweep step it was published in
	pub    int           // the publisher worker: its updates are ordered
	seq    int64         // unique in the run, increasing per publisher
	target int           // the subscriber it is meant for; -1: everyone
	sent   time.Duration // when the publish request started, on the run's monotonic clock
}

const payloadMagic = "hermes-bench"

// encode writes the fields, then pads with 'x' up to size bytes.
func (p payload) encode(size int) string {
	var b strings.Builder
	b.Grow(max(size, 64))
	b.WriteString(payloadMagic)
	for _, f := range []string{
		p.run,
		strconv.Itoa(p.step),
		strconv.Itoa(p.pub),
		strconv.FormatInt(p.seq, 10),
		strconv.Itoa(p.target),
		strconv.FormatInt(int64(p.sent), 10),
	} {
		b.WriteByte(' ')
		b.WriteString(f)
	}
	if n := size - b.Len(); n > 1 {
		b.WriteByte(' ')
		b.WriteString(strings.Repeat("x", n-1))
	}
	return b.String()
}

var errNotOurs = errors.New("not a hermes-bench payload")

// parsePayload reads what encode wrote; anything else is errNotOurs or a
// malformed-field error.
func parsePayload(s string) (payload, error) {
	var p payload
	rest, ok := strings.CutPrefix(s, payloadMagic+" ")
	if !ok {
		return p, errNotOurs
	}
	var fields [6]string
	for i := range fields {
		var f string
		f, rest, _ = strings.Cut(rest, " ")
		fields[i] = f
	}
	p.run = fields[0]
	var err error
	var n [5]int64
	for i, f := range fields[1:] {
		if n[i], err = strconv.ParseInt(f, 10, 64); err != nil {
			return p, errors.New("malformed payload field")
		}
	}
	p.step, p.pub, p.seq, p.target, p.sent = int(n[0]), int(n[1]), n[2], int(n[3]), time.Duration(n[4])
	if p.step < 0 || p.pub < 0 || p.seq < 0 || p.target < -1 {
		return p, errors.New("payload field out of range")
	}
	return p, nil
}
