package bench

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress prints the scenario's status line: rewritten in place on a
// terminal, a plain line every interval otherwise (logs, CI).
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
	tty  bool
	w    io.Writer
}

func startProgress(w io.Writer, tty bool, every time.Duration, e *env) *progress {
	p := &progress{done: make(chan struct{}), tty: tty, w: w}
	if w == nil {
		return p
	}
	interval := every
	if tty {
		interval = 250 * time.Millisecond
	}
	start := time.Now()
	p.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				if tty {
					fmt.Fprint(w, "\r\x1b[K")
				}
				return
			case <-t.C:
				line := fmt.Sprintf("[%s] %s: %s", time.Since(start).Truncate(time.Second), e.o.Scenario, e.status.Load().(func() string)())
				if tty {
					fmt.Fprintf(w, "\r%s\x1b[K", line)
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	})
	return p
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}
