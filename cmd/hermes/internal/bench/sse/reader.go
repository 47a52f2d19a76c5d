// Package sse parses a text/event-stream body as the WHATWG HTML standard's
// event stream interpretation does, so that the load tool sees exactly the
// events a browser's EventSource would dispatch, and nothing a lenient
// parser would invent.
package sse

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrTooLarge is returned when a line or the data of one event exceeds the
// reader's limit: the tool must never buffer without bound what a hub sends.
var ErrTooLarge = errors.New("sse: event larger than the limit")

// Event is one dispatched event.
type Event struct {
	// ID is the last event ID buffer at dispatch time: an event without an
	// id field carries the previous one, as in EventSource.
	ID string
	// Type is the event field; empty means "message".
	Type string
	// Data is the data lines joined with "\n".
	Data string
}

// Reader reads events from a stream. It is not safe for concurrent use.
type Reader struct {
	src        io.Reader
	buf        []byte
	start, end int
	limit      int
	err        error // the source's error, returned once the buffer is used up

	started bool // the BOM check of the stream's first line is done
	skipLF  bool // the previous line ended with CR: a following LF is part of it

	lastID   string
	retry    int64
	comments uint64
	data     []byte // data buffer of the event being read
	typ      string // event type buffer of the event being read
}

// ErrWouldBlock is what a source returns when it has no bytes for now but
// the stream goes on (a source fed by a poller). Next returns it with the
// event being read kept, and reads on from there at the next call.
var ErrWouldBlock = errors.New("sse: no input for now")

// NewReader reads from src with an initial buffer of bufSize bytes, growing
// it up to limit bytes for one line; the data of one event is bounded by
// limit too.
func NewReader(src io.Reader, bufSize, limit int) *Reader {
	if bufSize < 16 {
		bufSize = 16
	}
	if limit < bufSize {
		limit = bufSize
	}
	return &Reader{src: src, buf: make([]byte, bufSize), limit: limit, retry: -1}
}

// LastEventID is the last event ID buffer: what an EventSource would send
// as Last-Event-ID when it reconnects.
func (r *Reader) LastEventID() string { return r.lastID }

// Retry is the last valid retry value in milliseconds, -1 if none was seen.
func (r *Reader) Retry() int64 { return r.retry }

// Comments counts the comment lines read so far (heartbeats).
func (r *Reader) Comments() uint64 { return r.comments }

// Next returns the next dispatched event. At the end of the stream it
// returns io.EOF (an event not terminated by a blank line is discarded, as
// the standard says), or the source's error.
func (r *Reader) Next() (Event, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return Event{}, err
		}
		if !r.started {
			r.started = true
			if len(line) >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF {
				line = line[3:]
			}
		}
		if len(line) == 0 {
			if len(r.data) == 0 {
				// Nothing to dispatch: the type is reset all the same.
				r.typ = ""
				continue
			}
			ev := Event{ID: r.lastID, Type: r.typ, Data: string(r.data[:len(r.data)-1])}
			r.data, r.typ = r.data[:0], ""
			return ev, nil
		}
		if line[0] == ':' {
			r.comments++
			continue
		}
		field, value := line, []byte(nil)
		for i, c := range line {
			if c == ':' {
				field, value = line[:i], line[i+1:]
				if len(value) > 0 && value[0] == ' ' {
					value = value[1:]
				}
				break
			}
		}
		switch string(field) {
		case "event":
			r.typ = string(value)
		case "data":
			if len(r.data)+len(value)+1 > r.limit {
				return Event{}, ErrTooLarge
			}
			r.data = append(r.data, value...)
			r.data = append(r.data, '\n')
		case "id":
			if !containsNUL(value) {
				r.lastID = string(value)
			}
		case "retry":
			if n, ok := parseRetry(value); ok {
				r.retry = n
			}
		}
	}
}

func containsNUL(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			return true
		}
	}
	return false
}

// parseRetry accepts ASCII digits only, as the standard does; a value too
// large for int64 is ignored like any other invalid one.
func parseRetry(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

// readLine returns the next line without its terminator (CRLF, LF or CR).
// The slice is valid until the next call.
func (r *Reader) readLine() ([]byte, error) {
	for {
		if r.skipLF && r.start < r.end {
			if r.buf[r.start] == '\n' {
				r.start++
			}
			r.skipLF = false
		}
		if !r.skipLF {
			for i := r.start; i < r.end; i++ {
				if c := r.buf[i]; c == '\n' || c == '\r' {
					line := r.buf[r.start:i]
					r.skipLF = c == '\r'
					r.start = i + 1
					return line, nil
				}
			}
		}
		if r.err != nil {
			return nil, r.err
		}
		if err := r.fill(); err != nil {
			return nil, err
		}
	}
}

// fill reads more bytes, compacting or growing the buffer first.
func (r *Reader) fill() error {
	if r.start > 0 {
		n := copy(r.buf, r.buf[r.start:r.end])
		r.start, r.end = 0, n
	}
	if r.end == len(r.buf) {
		if len(r.buf) >= r.limit {
			return ErrTooLarge
		}
		size := min(2*len(r.buf), r.limit)
		nb := make([]byte, size)
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	n, err := r.src.Read(r.buf[r.end:])
	if n < 0 || n > len(r.buf)-r.end {
		return fmt.Errorf("sse: source returned an invalid count %d", n)
	}
	r.end += n
	if errors.Is(err, ErrWouldBlock) {
		if n > 0 {
			return nil
		}
		return err
	}
	if err != nil {
		r.err = err
	}
	return nil
}
