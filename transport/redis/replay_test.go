package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/redis/redistest"
)

// TestReplayCorruptEntry: an entry whose payload does not decode (written
// behind the transport's back) ends a replay with an error wrapping
// errCorrupt after the events before it, with a filter (the route script
// cannot parse it) and without one.
func TestReplayCorruptEntry(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{NoPersistence: true})
	tr := openTest(t, srv, fastOpts("corrupt"))
	collect(tr)
	mustAppend(t, tr, "a")
	mustAppend(t, tr, "b")
	c := rawClient(t, srv)
	ctx := context.Background()
	// A header and then a Type claiming more bytes than there are.
	bad := append(bytes.Repeat([]byte{0}, 14), 0, 0x7f)
	bad[0] = 1
	if err := c.XAdd(ctx, &goredis.XAddArgs{Stream: tr.keys[0], ID: "3-0", Values: []any{"i", "bad", "t", "0", "d", string(bad)}}).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.HSet(ctx, tr.keys[1], "seq", "3").Err(); err != nil {
		t.Fatal(err)
	}
	for _, filter := range []func([]string, bool) bool{nil, func([]string, bool) bool { return true }} {
		var got []string
		err := tr.ReplayFiltered(ctx, 0, 10, transport.ReplayOptions{Filter: filter}, func(ev *transport.Event) error {
			got = append(got, ev.ID)
			return nil
		})
		if !errors.Is(err, errCorrupt) {
			t.Errorf("filter %v: replay over a corrupt entry: %v, want errCorrupt", filter != nil, err)
		}
		// Without a filter the page holding the corrupt entry fails as a
		// whole; with one, the routes are checked before anything is read.
		if len(got) != 0 && !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("filter %v: delivered %v", filter != nil, got)
		}
	}
}

// FuzzRouteScript: what scanScript cuts from a payload (a large one: the
// inline bound is 0 here) is what eventcodec reads as its route. When the script returns a route, it is a prefix of
// the payload that decodes to the payload's route (or both fail); when it
// finds none, the payload's route does not decode.
func FuzzRouteScript(f *testing.F) {
	srv := redistest.Start(f, redistest.Options{NoPersistence: true})
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	f.Cleanup(func() { _ = c.Close() })
	for _, ev := range []*transport.Event{
		{Topics: []string{"https://example.com/a"}, Data: "x"},
		{Private: true, Retry: 1 << 40, Type: "t", Topics: []string{"a", "b", ""}, Data: "data"},
		{Topics: nil},
		{Time: time.Unix(1, 2), Topics: []string{string(bytes.Repeat([]byte("é"), 200))}},
	} {
		b := encodePayload(ev)
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(b[:15])
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	ctx := context.Background()
	keys := []string{"{fuzz}:events"}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if err := c.Del(ctx, keys[0]).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.XAdd(ctx, &goredis.XAddArgs{Stream: keys[0], ID: "1-0", Values: []any{"i", "id", "t", "0", "d", string(payload)}}).Err(); err != nil {
			t.Fatal(err)
		}
		res, err := scanScript.Run(ctx, c, keys, "0-0", "1-0", 1<<30, 10, 0).Slice()
		if err != nil {
			t.Fatal(err)
		}
		items := res[2].([]any)
		if len(items) != 1 {
			t.Fatalf("%d items for one entry", len(items))
		}
		_, size, _, _, route, _, rerr := scanItem(items[0])
		wantTopics, wantPrivate, werr := codec.Route(payload)
		if rerr != nil {
			if !errors.Is(rerr, errCorrupt) {
				t.Fatalf("route of %x: %v, want errCorrupt", payload, rerr)
			}
			if werr == nil {
				t.Fatalf("the script finds no route in %x, eventcodec reads %q", payload, wantTopics)
			}
			return
		}
		if want := int64(64 + len("id") + len(payload)); size != want {
			t.Fatalf("size %d, want %d", size, want)
		}
		if !bytes.HasPrefix(payload, route) {
			t.Fatalf("route %x is not a prefix of %x", route, payload)
		}
		topics, private, err := codec.Route(route)
		if (err != nil) != (werr != nil) {
			t.Fatalf("route %x of %x: %v, the payload's: %v", route, payload, err, werr)
		}
		if err == nil && (!slices.Equal(topics, wantTopics) || private != wantPrivate) {
			t.Fatalf("route %x: %q %v, the payload's: %q %v", route, topics, private, wantTopics, wantPrivate)
		}
	})
}

// TestReplayFilteredMixesInlineAndFetched: a filtered page holds small
// events read whole by the scan and large ones fetched after it, in Seq
// order, with their data, whichever of them the filter keeps.
func TestReplayFilteredMixesInlineAndFetched(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{NoPersistence: true})
	tr := openTest(t, srv, fastOpts("mixed"))
	collect(tr)
	var all []*transport.Event
	for i := range 40 {
		n := 10
		if i%3 != 0 {
			n = 2 * inlineBytes // large: fetched
		}
		ev := &transport.Event{ID: fmt.Sprint("e", i), Topics: []string{fmt.Sprint("t", i%4)}, Data: strings.Repeat(string(rune('a'+i%26)), n)}
		if err := tr.Append(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		all = append(all, ev)
	}
	for _, keep := range []string{"t0", "t1", ""} {
		var want []*transport.Event
		for _, ev := range all {
			if keep == "" || ev.Topics[0] == keep {
				want = append(want, ev)
			}
		}
		var got []*transport.Event
		filter := func(topics []string, _ bool) bool { return keep == "" || topics[0] == keep }
		err := tr.ReplayFiltered(context.Background(), 0, tr.LastSeq(), transport.ReplayOptions{Filter: filter}, func(ev *transport.Event) error {
			got = append(got, ev)
			return nil
		})
		if err != nil {
			t.Fatalf("keep %q: %v", keep, err)
		}
		if len(got) != len(want) {
			t.Fatalf("keep %q: %d events, want %d", keep, len(got), len(want))
		}
		for i := range got {
			if got[i].Seq != want[i].Seq || got[i].ID != want[i].ID || got[i].Data != want[i].Data {
				t.Fatalf("keep %q: event %d is %d %q (%d bytes), want %d %q (%d bytes)", keep, i, got[i].Seq, got[i].ID, len(got[i].Data), want[i].Seq, want[i].ID, len(want[i].Data))
			}
		}
	}
}

// evalCalls is how many scripts Redis has run (EVALSHA and EVAL).
func evalCalls(t *testing.T, c *goredis.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, line := range strings.Split(info, "\n") {
		if !strings.HasPrefix(line, "cmdstat_evalsha:") && !strings.HasPrefix(line, "cmdstat_eval:") {
			continue
		}
		_, rest, _ := strings.Cut(line, "calls=")
		v, _, _ := strings.Cut(rest, ",")
		var k int64
		_, _ = fmt.Sscan(v, &k)
		n += k
	}
	return n
}

// TestReplaySizeRecords: appends record the largest entry of each block
// of seqs, retention drops the records of blocks it removed whole, and a
// replay over blocks of small entries reads them with plain XRANGEs (no
// script) while one over a block holding a large entry uses the script;
// both deliver every event.
func TestReplaySizeRecords(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{NoPersistence: true})
	tr := openTest(t, srv, Options{Stream: "sizes", Size: 3 * sizeBlock})
	collect(tr)
	c := rawClient(t, srv)
	ctx := context.Background()
	evs := make([]*transport.Event, 3*sizeBlock)
	for i := range evs {
		evs[i] = &transport.Event{ID: fmt.Sprint(i), Topics: []string{"t"}, Data: "x"}
	}
	evs[sizeBlock+5].Data = strings.Repeat("y", 100<<10) // in block 1
	if err := tr.AppendBatch(ctx, evs); err != nil {
		t.Fatal(err)
	}
	rec, err := c.HGetAll(ctx, tr.keys[4]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if rec["from"] != "0" || rec["0"] == "" || rec["1"] == "" || rec["2"] == "" {
		t.Fatalf("records %v, want from 0 and blocks 0 to 3", rec)
	}
	if n, want := rec["1"], fmt.Sprint(len(encodePayload(evs[sizeBlock+5]))+len(evs[sizeBlock+5].ID)); n != want {
		t.Fatalf("block 1 records %s bytes, want %s", n, want)
	}
	replay := func(after, until uint64, filter func([]string, bool) bool) (n int, scripts int64) {
		before := evalCalls(t, c)
		err := tr.ReplayFiltered(ctx, after, until, transport.ReplayOptions{Filter: filter}, func(ev *transport.Event) error {
			if want := evs[ev.Seq-1]; ev.ID != want.ID || ev.Data != want.Data {
				t.Fatalf("event %d: %q, want %q", ev.Seq, ev.ID, want.ID)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, evalCalls(t, c) - before
	}
	all := func([]string, bool) bool { return true }
	if n, scripts := replay(2*sizeBlock, 3*sizeBlock, nil); n != sizeBlock || scripts != 0 {
		t.Errorf("block 2 unfiltered: %d events with %d scripts, want %d with none", n, scripts, sizeBlock)
	}
	if n, scripts := replay(2*sizeBlock, 3*sizeBlock, all); n != sizeBlock || scripts != 0 {
		t.Errorf("block 2 filtered: %d events with %d scripts, want %d with none", n, scripts, sizeBlock)
	}
	if n, scripts := replay(sizeBlock, 2*sizeBlock, all); n != sizeBlock || scripts == 0 {
		t.Errorf("block 1 (a large entry) filtered: %d events with %d scripts, want %d with some", n, scripts, sizeBlock)
	}
	// Retention removes blocks 0 and 1 whole, and part of block 2.
	more := make([]*transport.Event, 2*sizeBlock+10)
	for i := range more {
		more[i] = &transport.Event{ID: fmt.Sprint("m", i), Topics: []string{"t"}, Data: "z"}
	}
	if err := tr.AppendBatch(ctx, more); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "retention to remove blocks 0 and 1", func() bool {
		rec, err = c.HGetAll(ctx, tr.keys[4]).Result()
		return err == nil && rec["0"] == "" && rec["1"] == ""
	})
	if rec["2"] == "" || rec["from"] != "0" {
		t.Fatalf("records after retention %v, want block 2 and from kept", rec)
	}
}

// TestReplayStreamWithoutRecords: a stream written before size records
// existed gets records from its next whole block on; its older blocks are
// replayed through the script, and every event arrives.
func TestReplayStreamWithoutRecords(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{NoPersistence: true})
	tr := openTest(t, srv, Options{Stream: "old"})
	collect(tr)
	c := rawClient(t, srv)
	ctx := context.Background()
	for i := range 10 {
		mustAppend(t, tr, fmt.Sprint("old-", i))
	}
	if err := c.Del(ctx, tr.keys[4]).Err(); err != nil { // as an older version left it
		t.Fatal(err)
	}
	mustAppend(t, tr, "new")
	from, err := c.HGet(ctx, tr.keys[4], "from").Result()
	if err != nil || from != "1" {
		t.Fatalf(`records "from" = %q (%v), want 1: block 0 holds unrecorded entries`, from, err)
	}
	before := evalCalls(t, c)
	var ids []string
	err = tr.ReplayFiltered(ctx, 0, tr.LastSeq(), transport.ReplayOptions{}, func(ev *transport.Event) error {
		ids = append(ids, ev.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 11 || ids[0] != "old-0" || ids[10] != "new" {
		t.Fatalf("replayed %q", ids)
	}
	if evalCalls(t, c) == before {
		t.Fatal("block 0 was replayed without the script although its sizes are unknown")
	}
}

// TestReplaySizeRecordsAtTheHead: the size records a replay read hold for
// the entries stored then; past them (entries appended since, which may be
// larger) the records are read again.
func TestReplaySizeRecordsAtTheHead(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{NoPersistence: true})
	tr := openTest(t, srv, Options{Stream: "head"})
	collect(tr)
	ctx := context.Background()
	for i := range 5 {
		mustAppend(t, tr, fmt.Sprint("small-", i))
	}
	z := &blockSizes{t: tr}
	small, known, upto, err := z.bound(ctx, 0)
	if err != nil || !known || upto != 5 {
		t.Fatalf("bound at the start: %d, %v, upto %d, %v; want known up to 5", small, known, upto, err)
	}
	big := &transport.Event{ID: "big", Topics: []string{"t"}, Data: strings.Repeat("b", 50<<10)}
	if err := tr.Append(ctx, big); err != nil {
		t.Fatal(err)
	}
	if n, _, upto, _ := z.bound(ctx, 4); n != small || upto != 5 {
		t.Fatalf("bound before the head: %d up to %d, want the cached %d up to 5", n, upto, small)
	}
	n, known, upto, err := z.bound(ctx, 5)
	if err != nil || !known || upto != 6 || n < int64(len(big.Data)) {
		t.Fatalf("bound past the cached head: %d, %v, upto %d, %v; want at least %d up to 6", n, known, upto, err, len(big.Data))
	}
}

// TestScanLoadsBoundedBytes: a scan over large entries stops once it has
// read about twice the page's limit, although their routes would fit many
// times over: a page that keeps one large event is scanned again from it,
// and reading the whole history at every page made stalled replays of
// large events keep Redis busy.
func TestScanLoadsBoundedBytes(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{NoPersistence: true})
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	keys := []string{"{scan}:events"}
	const entry = 100 << 10
	payload := encodePayload(&transport.Event{Topics: []string{"t"}, Data: strings.Repeat("x", entry)})
	for i := 1; i <= 40; i++ {
		if err := c.XAdd(ctx, &goredis.XAddArgs{Stream: keys[0], ID: fmt.Sprint(i, "-0"), Values: []any{"i", fmt.Sprint(i), "t", "0", "d", string(payload)}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	const limit = 256 << 10
	res, err := scanScript.Run(ctx, c, keys, "0-0", "40-0", limit, 1000, inlineBytes).Slice()
	if err != nil {
		t.Fatal(err)
	}
	items := res[2].([]any)
	if most := 2*limit/entry + 1; len(items) == 0 || len(items) > most || res[0] != int64(0) {
		t.Fatalf("a scan returned %d routes of %d-byte entries (done %v), want 1 to %d for a %d-byte page", len(items), entry, res[0], most, limit)
	}
}
