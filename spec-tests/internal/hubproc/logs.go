package hubproc

import (
	"bytes"
	"regexp"
	"sync"
)

// MaxLogBytes caps what a LogBuffer keeps: a runaway log must not eat the
// test's memory.
const MaxLogBytes = 4 << 20

// LogBuffer keeps what a child process writes, up to MaxLogBytes, for
// failure messages. It is safe for concurrent use; the zero value is
// ready.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write keeps p while the buffer is under MaxLogBytes and drops it after;
// it never fails, so that the child never sees a broken pipe.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keep(p)
	return len(p), nil
}

// keep appends p under the cap; b.mu is held.
func (b *LogBuffer) keep(p []byte) {
	if b.buf.Len() < MaxLogBytes {
		b.buf.Write(p[:min(len(p), MaxLogBytes-b.buf.Len())])
	}
}

// String is everything kept so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The start-up lines of `hermes serve`. Both log handlers quote the
// message (text: msg="…", JSON: "msg":"…"), so a URL is only taken once
// its closing quote is in: a line split across writes is never read
// half-way. Requiring msg before the phrase keeps the admin line from
// passing for the public one.
var (
	listeningRE = regexp.MustCompile(`msg"?[=:]"listening on (https?://[^\s"\\]+)"`)
	adminRE     = regexp.MustCompile(`msg"?[=:]"admin listening on (http://[^\s"\\]+)"`)
)

// startupLog is a hub's stderr: a LogBuffer that also watches for the
// listening lines until it has seen the ones the start waits for.
type startupLog struct {
	LogBuffer
	wantAdmin bool

	base, admin string        // set before ready is closed
	ready       chan struct{} // closed once the awaited lines are in
	readyClosed bool
}

func newStartupLog(wantAdmin bool) *startupLog {
	return &startupLog{wantAdmin: wantAdmin, ready: make(chan struct{})}
}

func (l *startupLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keep(p)
	if l.readyClosed {
		return len(p), nil
	}
	// The buffer as a whole is searched: slog writes a record in one call,
	// but nothing guarantees it.
	if l.base == "" {
		if m := listeningRE.FindSubmatch(l.buf.Bytes()); m != nil {
			l.base = string(m[1])
		}
	}
	if l.wantAdmin && l.admin == "" {
		if m := adminRE.FindSubmatch(l.buf.Bytes()); m != nil {
			l.admin = string(m[1])
		}
	}
	if l.base != "" && (l.admin != "" || !l.wantAdmin) {
		l.readyClosed = true
		close(l.ready)
	}
	return len(p), nil
}
