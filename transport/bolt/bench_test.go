package bolt

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hermes-hub/hermes/transport"
)

// benchEvent is a typical small update.
func benchEvent(i int) *transport.Event {
	return &transport.Event{
		ID:     benchID(i),
		Topics: []string{"https://example.com/books/" + fmt.Sprint(i%1000)},
		Data:   `{"id":1,"title":"The Name of the Rose","status":"available"}`,
	}
}

// benchID is a time-ordered URN (as a UUIDv7 would be). BenchmarkAppend's
// random-ids cases use random (v4) ids instead, as the hub generated before
// it used the transport's, and its minted cases ids from MintID, as the hub
// generates now.
func benchID(i int) string {
	return fmt.Sprintf("urn:uuid:%08x-0000-7000-8000-%012x", i, uint64(i)*2654435761%(1<<48))
}

// BenchmarkAppend measures durable publish throughput (fsync on) for 1, 16
// and 64 concurrent appenders, each waiting for its answer before the next
// append as a PHP worker does: group commit shares the fsyncs between them.
// It reports events/s, the mean events per commit and the p99 latency of
// one Append (the goal for 64 publishers is a p99 under 20 ms), and the
// pages each commit writes.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		name      string
		appenders int
		noSync    bool
		randomIDs bool
		minted    bool
	}{
		{"appenders=1", 1, false, false, false}, {"appenders=16", 16, false, false, false}, {"appenders=64", 64, false, false, false},
		{"appenders=64/random-ids", 64, false, true, false}, {"appenders=64/minted-ids", 64, false, false, true},
		{"appenders=64/nosync", 64, true, false, false}, {"appenders=64/nosync/random-ids", 64, true, true, false},
		{"appenders=64/nosync/minted-ids", 64, true, false, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			tr := openTest(b, filepath.Join(b.TempDir(), "hermes.db"), Options{NoSync: c.noSync})
			drainFeed(tr)
			lat := make([][]time.Duration, c.appenders)
			writes := pagesWritten(tr)
			b.ResetTimer()
			var wg sync.WaitGroup
			for p := range c.appenders {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := p; i < b.N; i += c.appenders {
						ev := benchEvent(i)
						switch {
						case c.randomIDs:
							ev.ID = fmt.Sprintf("urn:uuid:%016x-%016x", rand.Uint64(), rand.Uint64())
						case c.minted:
							ev.ID = tr.MintID()
						}
						start := time.Now()
						if err := tr.Append(context.Background(), ev); err != nil {
							b.Error(err)
							return
						}
						lat[p] = append(lat[p], time.Since(start))
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.N)/float64(max(tr.commits.Load(), 1)), "events/commit")
			// Pages written per commit: what an index in random order costs,
			// measured without the noise of a shared disk.
			b.ReportMetric(float64(pagesWritten(tr)-writes)/float64(max(tr.commits.Load(), 1)), "pages/commit")
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			}
		})
	}
}

// pagesWritten is how many page writes the committed transactions of tr
// have made.
func pagesWritten(tr *Transport) int64 {
	st := tr.db.Stats()
	return st.TxStats.GetWrite()
}

// BenchmarkAppendBatch compares storing 1,000 events (a legacy subscriber
// with 1,000 topic= parameters announcing its subscriptions) in one
// AppendBatch with 1,000 sequential Appends, fsync on. One op is the whole
// set of 1,000 events; the ratio of the two ns/op is the gain.
func BenchmarkAppendBatch(b *testing.B) {
	const n = 1000
	for _, c := range []struct {
		name  string
		store func(tr *Transport, evs []*transport.Event) error
	}{
		{"batch", func(tr *Transport, evs []*transport.Event) error {
			return tr.AppendBatch(context.Background(), evs)
		}},
		{"sequential", func(tr *Transport, evs []*transport.Event) error {
			for _, ev := range evs {
				if err := tr.Append(context.Background(), ev); err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		b.Run(fmt.Sprintf("%s/events=%d", c.name, n), func(b *testing.B) {
			tr := openTest(b, filepath.Join(b.TempDir(), "hermes.db"), Options{})
			drainFeed(tr)
			sets := make([][]*transport.Event, b.N)
			for i := range sets {
				sets[i] = make([]*transport.Event, n)
				for j := range n {
					sets[i][j] = benchEvent(i*n + j)
				}
			}
			before := tr.commits.Load()
			b.ResetTimer()
			for i := range b.N {
				if err := c.store(tr, sets[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(tr.commits.Load()-before)/float64(b.N), "commits/op")
		})
	}
}

// fillFixture writes n events straight into a new history at path, in large
// transactions, far faster than appending them one by one.
func fillFixture(b *testing.B, path string, n int) {
	b.Helper()
	tr, err := Open(path, Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	const chunk = 50_000
	for from := 1; from <= n; from += chunk {
		err := tr.db.Update(func(tx *bbolt.Tx) error {
			events, ids := tx.Bucket(bucketEvents), tx.Bucket(bucketIDs)
			events.FillPercent, ids.FillPercent = eventsFill, 0.9 // ids arrive in order here
			to := min(from+chunk-1, n)
			for seq := from; seq <= to; seq++ {
				ev := benchEvent(seq)
				ev.Time = now
				if err := events.Put(seqKey(uint64(seq)), encodeEvent(ev)); err != nil {
					return err
				}
				if err := ids.Put(idKey(ev.ID, uint64(seq)), []byte{}); err != nil {
					return err
				}
			}
			return tx.Bucket(bucketMeta).Put(keyLastSeq, seqKey(uint64(to)))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := tr.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkReplay measures how fast one consumer reads history.
func BenchmarkReplay(b *testing.B) {
	const n = 100_000
	path := filepath.Join(b.TempDir(), "hermes.db")
	fillFixture(b, path, n)
	tr := openTest(b, path, Options{})
	b.ResetTimer()
	read := 0
	for read < b.N {
		err := tr.Replay(context.Background(), 0, n, func(ev *transport.Event) error {
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
}

var errDone = fmt.Errorf("done")

// BenchmarkLookup measures the time to resolve a cursor in histories of
// 10k, 100k and 1M events; it must not grow with the history's length.
func BenchmarkLookup(b *testing.B) {
	sizes := []int{10_000, 100_000, 1_000_000}
	if testing.Short() {
		sizes = sizes[:2]
	}
	dir := b.TempDir() // built once for every b.N of the sub-benchmarks
	for _, n := range sizes {
		path := filepath.Join(dir, fmt.Sprintf("h%d.db", n))
		start := time.Now()
		fillFixture(b, path, n)
		b.Logf("fixture of %d events built in %v", n, time.Since(start).Round(time.Millisecond))
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			tr := openTest(b, path, Options{})
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			ids := make([]string, 1024)
			for i := range ids {
				ids[i] = benchID(1 + rng.IntN(n))
			}
			b.ResetTimer()
			for i := range b.N {
				id := ids[i%len(ids)]
				if _, ok, err := tr.Lookup(context.Background(), id); err != nil || !ok {
					b.Fatalf("Lookup(%q) = %v, %v", id, ok, err)
				}
			}
		})
	}
}

// BenchmarkOpen measures the cost of the consistency check at Open on a
// history of 2 million small events (about 400 MB), against Open without
// it (SkipCheck).
func BenchmarkOpen(b *testing.B) {
	const n = 2_000_000
	path := filepath.Join(b.TempDir(), "hermes.db")
	fillFixture(b, path, n)
	if fi, err := os.Stat(path); err == nil {
		b.Logf("history file: %d MB, %d events", fi.Size()>>20, n)
	}
	for _, skip := range []bool{false, true} {
		b.Run(fmt.Sprintf("skipCheck=%v", skip), func(b *testing.B) {
			for b.Loop() {
				tr, err := Open(path, Options{NoSync: true, SkipCheck: skip})
				if err != nil {
					b.Fatal(err)
				}
				if err := tr.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
