package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/redis/redistest"
)

// benchEvent is a typical small update, as in bolt's benchmarks.
func benchEvent(i int) *transport.Event {
	return &transport.Event{
		ID:     fmt.Sprintf("urn:uuid:%08x-0000-7000-8000-%012x", i, uint64(i)*2654435761%(1<<48)),
		Topics: []string{"https://example.com/books/" + strconv.Itoa(i%1000)},
		Data:   `{"id":1,"title":"The Name of the Rose","status":"available"}`,
	}
}

// redisCPU returns the CPU time redis-server has used so far.
func redisCPU(b *testing.B, srv *redistest.Server) time.Duration {
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer c.Close()
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// processCPU returns the CPU time this process has used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAppend measures publish throughput through Redis with
// appendfsync always, for 1, 8 and 64 concurrent publishers (compare with
// transport/bolt's BenchmarkAppend on the same machine).
func BenchmarkAppend(b *testing.B) {
	for _, publishers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("publishers=%d", publishers), func(b *testing.B) {
			srv := redistest.Start(b, redistest.Options{})
			tr := openTest(b, srv, Options{Stream: "bench"})
			go func() {
				for range tr.Feed() {
				}
			}()
			cpu0 := redisCPU(b, srv)
			b.ResetTimer()
			var wg sync.WaitGroup
			for p := range publishers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := p; i < b.N; i += publishers {
						if err := tr.Append(context.Background(), benchEvent(i)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.N)/float64(max(tr.commits.Load(), 1)), "events/commit")
			b.ReportMetric(float64((redisCPU(b, srv)-cpu0).Microseconds())/float64(b.N), "redis-cpu-µs/event")
		})
	}
}

// fill stores n events in the stream of tr in batches.
func fill(b testing.TB, tr *Transport, n int) {
	const chunk = 1000
	for from := 0; from < n; from += chunk {
		evs := make([]*transport.Event, 0, chunk)
		for i := from; i < min(from+chunk, n); i++ {
			evs = append(evs, benchEvent(i))
		}
		if err := tr.AppendBatch(context.Background(), evs); err != nil {
			b.Fatal(err)
		}
	}
}

// replayHistory starts a server holding a history of n events and
// returns once the transport's feed has read them all: its reader is idle
// again and does not compete with the replay measured.
func replayHistory(b *testing.B, n int) (*redistest.Server, *Transport) {
	srv := redistest.Start(b, redistest.Options{})
	tr := openTest(b, srv, Options{Stream: "replay"})
	fed := make(chan struct{})
	go func() {
		i := 0
		for range tr.Feed() {
			if i++; i == n {
				close(fed)
			}
		}
	}()
	fill(b, tr, n)
	<-fed
	return srv, tr
}

// BenchmarkReplay measures how fast one consumer reads a 100,000-event
// history.
func BenchmarkReplay(b *testing.B) {
	const n = 100_000
	srv, tr := replayHistory(b, n)
	cpu0, redis0 := processCPU(), redisCPU(b, srv)
	b.ResetTimer()
	read := 0
	for read < b.N {
		err := tr.Replay(context.Background(), 0, n, func(*transport.Event) error {
			read++
			if read == b.N {
				return errDone
			}
			return nil
		})
		if err != nil && err != errDone {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	// CPU per event, of this process and of Redis: steadier than time on
	// a loaded machine.
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/event")
	b.ReportMetric(float64((redisCPU(b, srv)-redis0).Nanoseconds())/float64(b.N), "redis-cpu-ns/event")
}

// BenchmarkReplayFiltered is BenchmarkReplay through ReplayFiltered with
// the filter of a subscriber that receives every event, one in two, or
// none (the route scans, then the fetches of what it keeps); events/s
// counts the events scanned.
func BenchmarkReplayFiltered(b *testing.B) {
	const n = 100_000
	srv, tr := replayHistory(b, n)
	for _, c := range []struct {
		name string
		keep func(i int) bool
	}{
		{"all", func(int) bool { return true }},
		{"half", func(i int) bool { return i%2 == 0 }},
		{"none", func(int) bool { return false }},
	} {
		b.Run(c.name, func(b *testing.B) {
			cpu0, redis0 := processCPU(), redisCPU(b, srv)
			scanned := 0
			filter := func([]string, bool) bool { scanned++; return c.keep(scanned) }
			for scanned < b.N {
				// Exactly the events left to scan: a filter cannot stop a
				// replay that delivers nothing.
				until := uint64(min(n, b.N-scanned))
				err := tr.ReplayFiltered(context.Background(), 0, until, transport.ReplayOptions{Filter: filter}, func(*transport.Event) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/event")
			b.ReportMetric(float64((redisCPU(b, srv)-redis0).Nanoseconds())/float64(b.N), "redis-cpu-ns/event")
		})
	}
}

var errDone = fmt.Errorf("done")

// BenchmarkTail measures what one node spends to tail the stream: a
// history of b.N events is stored first, then the node's reader is moved
// back to its start and the time and CPU (of this process, and of Redis)
// to feed them all are measured. Publishing is not included.
func BenchmarkTail(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	writer := openTest(b, srv, Options{Stream: "tail"})
	go func() {
		for range writer.Feed() {
		}
	}()
	fill(b, writer, b.N+1)
	tr := openTest(b, srv, Options{Stream: "tail"})
	first, done := make(chan struct{}), make(chan struct{})
	go func() {
		n := 0
		for range tr.Feed() {
			n++
			if n == 1 {
				close(first)
			}
			if n == b.N+1 {
				close(done)
			}
		}
	}()
	// Move the reader back to the start of the history; the measure
	// starts once it feeds its first event (so it is not the wait for
	// its blocking read to end), and covers the b.N events after it.
	tr.mu.Lock()
	tr.pos, tr.check, tr.posID = 0, false, ""
	tr.mu.Unlock()
	<-first
	cpu0, rcpu0 := processCPU(), redisCPU(b, srv)
	b.ResetTimer()
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/1e3/float64(b.N), "node-cpu-µs/event")
	b.ReportMetric(float64((redisCPU(b, srv)-rcpu0).Nanoseconds())/1e3/float64(b.N), "redis-cpu-µs/event")
}

// BenchmarkTailLive measures what one more tailing node costs Redis (and
// the node) per event in the live case: events published one at a time,
// each read by the readers as it arrives, who then wait again. b.N events
// are published with only the publisher's own reader, then b.N more with
// extraReaders more nodes tailing; the difference, per event and per extra
// reader, is the cost of tailing.
func BenchmarkTailLive(b *testing.B) {
	const extraReaders = 4
	srv := redistest.Start(b, redistest.Options{})
	writer := openTest(b, srv, Options{Stream: "live"})
	go func() {
		for range writer.Feed() {
		}
	}()
	publish := func(from int) {
		for i := from; i < from+b.N; i++ {
			if err := writer.Append(context.Background(), benchEvent(i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	cpu0, rcpu0 := processCPU(), redisCPU(b, srv)
	publish(0)
	cpu1, rcpu1 := processCPU(), redisCPU(b, srv)

	var fed sync.WaitGroup
	for range extraReaders {
		tr := openTest(b, srv, Options{Stream: "live"})
		fed.Add(1)
		go func() {
			n := 0
			for range tr.Feed() {
				if n++; n == b.N {
					fed.Done()
				}
			}
		}()
	}
	cpu2, rcpu2 := processCPU(), redisCPU(b, srv)
	publish(b.N)
	fed.Wait()
	cpu3, rcpu3 := processCPU(), redisCPU(b, srv)
	b.StopTimer()

	perReader := func(alone, with time.Duration) float64 {
		return float64((with - alone).Nanoseconds()) / 1e3 / float64(b.N) / extraReaders
	}
	b.ReportMetric(perReader(rcpu1-rcpu0, rcpu3-rcpu2), "redis-cpu-µs/event/reader")
	b.ReportMetric(perReader(cpu1-cpu0, cpu3-cpu2), "node-cpu-µs/event/reader")
	b.ReportMetric(float64((rcpu1-rcpu0).Nanoseconds())/1e3/float64(b.N), "redis-cpu-µs/event-publish-alone")
}
