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
