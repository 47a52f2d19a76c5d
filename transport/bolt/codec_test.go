package bolt

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

func TestCodecRoundTrip(t *testing.T) {
	evs := []*transport.Event{
		{Time: time.Unix(0, 0)},
		{
			ID: "urn:uuid:0190d3c4-0000-7000-8000-000000000000", Topics: []string{"https://example.com/a", "", "é"},
			Private: true, Type: "update", Retry: 1<<64 - 1, Data: "line 1\nline 2\x00\xff",
			Time: time.Date(2026, 5, 6, 7, 8, 9, 999_999_999, time.UTC),
		},
		{ID: string(make([]byte, MaxIDLength)), Data: string(make([]byte, 1<<20)), Time: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC)},
	}
	for i, ev := range evs {
		got, err := decodeEvent(encodeEvent(ev))
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got.ID != ev.ID || !slices.Equal(got.Topics, ev.Topics) || got.Private != ev.Private ||
			got.Type != ev.Type || got.Retry != ev.Retry || got.Data != ev.Data || !got.Time.Equal(ev.Time) {
			t.Fatalf("event %d: decoded %+v, want %+v", i, got, ev)
		}
		if got.Frame != nil || got.Seq != 0 {
			t.Fatal("decoded event has a Frame or a Seq: neither is stored in the value")
		}
	}
}

func TestCodecRejectsCorruptData(t *testing.T) {
	good := encodeEvent(&transport.Event{ID: "id", Topics: []string{"t"}, Data: "d", Time: time.Unix(1, 0)})
	cases := map[string][]byte{
		"empty":           nil,
		"short header":    good[:headerSize-1],
		"version":         append([]byte{2}, good[1:]...),
		"nanoseconds":     func() []byte { b := slices.Clone(good); b[9] = 0xff; return b }(),
		"flags":           func() []byte { b := slices.Clone(good); b[13] = 0x80; return b }(),
		"truncated":       good[:len(good)-1],
		"trailing":        append(slices.Clone(good), 0),
		"topic count":     append(append(slices.Clone(good[:headerSize]), 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f), 0),
		"string length":   append(slices.Clone(good[:headerSize]), 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
		"varint overflow": append(slices.Clone(good[:headerSize]), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
	}
	for name, b := range cases {
		if _, err := decodeEvent(b); !errors.Is(err, errCorrupt) {
			t.Errorf("%s: decode = %v, want a corrupt-data error", name, err)
		}
	}
}

// FuzzDecodeEvent: any stored bytes decode to an event or an error, never a
// panic, and what decodes re-encodes to the same bytes (the encoding is
// canonical, so nothing is silently dropped).
func FuzzDecodeEvent(f *testing.F) {
	f.Add(encodeEvent(&transport.Event{}))
	f.Add(encodeEvent(&transport.Event{ID: "a", Topics: []string{"x", "y"}, Private: true, Type: "t", Retry: 300, Data: "d\n", Time: time.Unix(1700000000, 5)}))
	f.Add([]byte{1})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		topics, private, rerr := decodeRoute(b)
		if rerr != nil && !errors.Is(rerr, errCorrupt) {
			t.Fatalf("decodeRoute error %v does not wrap errCorrupt", rerr)
		}
		ev, err := decodeEvent(b)
		if err != nil {
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("error %v does not wrap errCorrupt", err)
			}
			return
		}
		// What a replay filter sees is what the full decoding gives.
		if rerr != nil || private != ev.Private || !slices.Equal(topics, ev.Topics) {
			t.Fatalf("decodeRoute gave %q, %v, %v; decodeEvent %q, %v", topics, private, rerr, ev.Topics, ev.Private)
		}
		if re := encodeEvent(ev); string(re) != string(b) {
			// Non-minimal varints decode fine but re-encode shorter;
			// anything else is a bug.
			again, err := decodeEvent(re)
			if err != nil || again.ID != ev.ID || again.Data != ev.Data || !slices.Equal(again.Topics, ev.Topics) ||
				again.Type != ev.Type || again.Retry != ev.Retry || again.Private != ev.Private || !again.Time.Equal(ev.Time) {
				t.Fatalf("re-encoding changed the event: %+v vs %+v (%v)", ev, again, err)
			}
		}
		if _, err := eventTime(b); err != nil {
			t.Fatalf("eventTime fails on a decodable event: %v", err)
		}
	})
}

func TestIndexKeysDoNotCollide(t *testing.T) {
	// An id that is a prefix of another, with bytes that look like a Seq.
	a := idKey("a", 1)
	b := idPrefix("a\x00\x00\x00\x00\x00\x00\x00\x01")
	if string(b[:len(a)]) == string(a) {
		t.Fatal("index key of one id is a prefix of another id's prefix")
	}
	if k := seqKey(0x0102030405060708); string(k) != "\x01\x02\x03\x04\x05\x06\x07\x08" {
		t.Fatalf("seqKey is not big-endian: %x", k)
	}
}
