package hub

import (
	"strconv"
	"strings"

	"github.com/hermes-hub/hermes/transport"
)

// heartbeat is the SSE comment sent on idle streams and as the first bytes of
// a stream, so that proxies and clients see the response at once (SSE-5, SSE-7).
var heartbeat = []byte(":\n")

// encodeEvent renders ev as one SSE event (SSE-1..4): `event:` when a type is
// set, `retry:` when non-zero, always `id:`, one `data:` line per line of the
// data, split on CRLF, CR and LF so that data can never inject fields
// (SSE-2), at least one `data:` line so EventSource fires (SSE-3), and the
// blank line that ends the event. It is called once per update; every
// subscriber is sent the same bytes.
func encodeEvent(ev *transport.Event) []byte {
	n := len("id: \n\n") + len(ev.ID) + len(ev.Data) + 8
	if ev.Type != "" {
		n += len("event: \n") + len(ev.Type)
	}
	if ev.Retry > 0 {
		n += len("retry: \n") + 20
	}
	// Most data has no line break: one scan each for CR and LF (both
	// vectorised) decides it, where IndexAny below would test each byte
	// against a set.
	cr, lf := strings.IndexByte(ev.Data, '\r') >= 0, strings.IndexByte(ev.Data, '\n') >= 0
	if cr {
		n += strings.Count(ev.Data, "\r") * len("data: ")
	}
	if lf {
		n += strings.Count(ev.Data, "\n") * len("data: ")
	}
	b := make([]byte, 0, n)
	if ev.Type != "" {
		b = append(b, "event: "...)
		b = append(b, ev.Type...)
		b = append(b, '\n')
	}
	if ev.Retry > 0 {
		b = append(b, "retry: "...)
		b = strconv.AppendUint(b, ev.Retry, 10)
		b = append(b, '\n')
	}
	b = append(b, "id: "...)
	b = append(b, ev.ID...)
	b = append(b, '\n')
	data := ev.Data
	for {
		var i int
		switch {
		case cr:
			i = strings.IndexAny(data, "\r\n")
		case lf:
			i = strings.IndexByte(data, '\n')
		default:
			i = -1
		}
		b = append(b, "data: "...)
		if i < 0 {
			b = append(b, data...)
			b = append(b, '\n')
			break
		}
		b = append(b, data[:i]...)
		b = append(b, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return append(b, '\n')
}

// frame returns the SSE encoding of ev, built at most once: live events carry
// the frame made at publish time; events read back from history are encoded
// here.
func frame(ev *transport.Event) []byte {
	if ev.Frame != nil {
		return ev.Frame
	}
	return encodeEvent(ev)
}
