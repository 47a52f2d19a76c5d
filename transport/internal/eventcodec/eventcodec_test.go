package eventcodec

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

var errTest = errors.New("test: corrupt")

var (
	withID    = Format{WithID: true, Corrupt: errTest}
	withoutID = Format{Corrupt: errTest}
)

// TestEncodingIsPinned: the bytes are what bolt files and Redis streams
// written by earlier versions hold, so a change to the encoder must show
// here (and needs a new format version instead).
func TestEncodingIsPinned(t *testing.T) {
	ev := &transport.Event{
		ID: "a", Type: "t", Retry: 300, Topics: []string{"x", "y"}, Private: true, Data: "d",
		Time: time.Unix(1700000000, 5),
	}
	head := "\x01" + "\x00\x00\x00\x00\x65\x53\xf1\x00" + "\x00\x00\x00\x05" + "\x01" + "\xac\x02"
	tail := "\x01t" + "\x02\x01x\x01y" + "\x01d"
	if got, want := string(withID.Encode(ev)), head+"\x01a"+tail; got != want {
		t.Errorf("with the ID: %q, want %q", got, want)
	}
	if got, want := string(withoutID.Encode(ev)), head+tail; got != want {
		t.Errorf("without the ID: %q, want %q", got, want)
	}
}

func TestRoundTripWithoutID(t *testing.T) {
	ev := &transport.Event{
		ID: "not stored", Topics: []string{"https://example.com/a", "", "é"}, Private: true, Type: "update",
		Retry: 1<<64 - 1, Data: "line 1\nline 2\x00\xff", Time: time.Date(2026, 5, 6, 7, 8, 9, 999_999_999, time.UTC),
	}
	got, err := withoutID.Decode(withoutID.Encode(ev))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "" || !slices.Equal(got.Topics, ev.Topics) || got.Private != ev.Private ||
		got.Type != ev.Type || got.Retry != ev.Retry || got.Data != ev.Data || !got.Time.Equal(ev.Time) {
		t.Fatalf("decoded %+v, want %+v without its ID", got, ev)
	}
}

func TestDecodeErrorsWrapTheFormatsError(t *testing.T) {
	for _, f := range []Format{withID, withoutID} {
		good := f.Encode(&transport.Event{ID: "id", Topics: []string{"t"}, Data: "d", Time: time.Unix(1, 0)})
		for name, b := range map[string][]byte{
			"empty":     nil,
			"version":   append([]byte{2}, good[1:]...),
			"flags":     func() []byte { b := slices.Clone(good); b[13] = 0x80; return b }(),
			"nanos":     func() []byte { b := slices.Clone(good); b[9] = 0xff; return b }(),
			"truncated": good[:len(good)-1],
			"trailing":  append(slices.Clone(good), 0),
		} {
			if _, err := f.Decode(b); !errors.Is(err, errTest) {
				t.Errorf("WithID %v, %s: Decode = %v, want an error wrapping Corrupt", f.WithID, name, err)
			}
		}
		if _, _, err := f.Route(good[:HeaderSize+1]); !errors.Is(err, errTest) {
			t.Errorf("WithID %v: Route of a cut event = %v, want an error wrapping Corrupt", f.WithID, err)
		}
	}
}

// FuzzDecode: any bytes decode to an event or an error wrapping Corrupt,
// never a panic, in both layouts; Route, Head and Time agree with Decode;
// and what decodes re-encodes to an equal event.
func FuzzDecode(f *testing.F) {
	f.Add(withID.Encode(&transport.Event{}))
	f.Add(withID.Encode(&transport.Event{ID: "a", Topics: []string{"x", "y"}, Private: true, Type: "t", Retry: 300, Data: "d\n", Time: time.Unix(1700000000, 5)}))
	f.Add(withoutID.Encode(&transport.Event{Topics: []string{"x"}, Data: "d"}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fm := range []Format{withID, withoutID} {
			topics, private, rerr := fm.Route(b)
			if rerr != nil && !errors.Is(rerr, errTest) {
				t.Fatalf("Route error %v does not wrap Corrupt", rerr)
			}
			ev, err := fm.Decode(b)
			if err != nil {
				if !errors.Is(err, errTest) {
					t.Fatalf("Decode error %v does not wrap Corrupt", err)
				}
				continue
			}
			if rerr != nil || private != ev.Private || !slices.Equal(topics, ev.Topics) {
				t.Fatalf("Route gave %q, %v, %v; Decode %q, %v", topics, private, rerr, ev.Topics, ev.Private)
			}
			head, err := fm.Head(b)
			if err != nil || head.ID != ev.ID || head.Retry != ev.Retry || !head.Time.Equal(ev.Time) {
				t.Fatalf("Head gave %+v, %v; Decode %+v", head, err, ev)
			}
			if tm, err := fm.Time(b); err != nil || !tm.Equal(ev.Time) {
				t.Fatalf("Time gave %v, %v; Decode %v", tm, err, ev.Time)
			}
			again, err := fm.Decode(fm.Encode(ev))
			if err != nil || again.ID != ev.ID || again.Data != ev.Data || !slices.Equal(again.Topics, ev.Topics) ||
				again.Type != ev.Type || again.Retry != ev.Retry || again.Private != ev.Private || !again.Time.Equal(ev.Time) {
				t.Fatalf("re-encoding changed the event: %+v vs %+v (%v)", ev, again, err)
			}
		}
	})
}
