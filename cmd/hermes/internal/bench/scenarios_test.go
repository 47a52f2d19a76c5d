package bench

import (
	"os"
	"strings"
	"testing"
)

func TestIdleHoldsEverySubscriberAndMeasuresTheHub(t *testing.T) {
	url := hermesHub(t)
	res := runBench(t, "idle", "--hub", url, "--jwt-key", testKey, "--subscribers", "20", "--hold", "100ms",
		"--pid", itoa(os.Getpid()))
	if res.Connect.Opened != 20 || res.Connect.Failed != nil {
		t.Fatalf("connected %d, failures %v", res.Connect.Opened, res.Connect.Failed)
	}
	r := res.Idle
	if r.StillOpen != 20 || r.Dropped != 0 {
		t.Fatalf("still open %d, dropped %d", r.StillOpen, r.Dropped)
	}
	if r.Hub == nil || r.Hub.RSSAfter <= 0 || r.Hub.PeakRSS < r.Hub.RSSAfter {
		t.Fatalf("hub figures missing with --pid: %+v", r.Hub)
	}
}

// A hub that refuses the token: every connect fails with its status.
func TestIdleCountsRefusedConnections(t *testing.T) {
	url := hermesHub(t)
	o, err := Parse([]string{"idle", "--hub", url, "--jwt-key", "another key entirely", "--subscribers", "5", "--hold", "0s"},
		func(s string) ([]byte, error) { return []byte(s), nil })
	if err != nil {
		t.Fatal(err)
	}
	_, err = Run(t.Context(), o, nil, false)
	if err == nil || !strings.Contains(err.Error(), "status 401") {
		t.Fatalf("got %v, want a failure naming the hub's 401", err)
	}
}

func TestFanoutNoLossWithHermes(t *testing.T) {
	for _, dialect := range []string{DialectLegacy, DialectDraft08} {
		t.Run(dialect, func(t *testing.T) {
			url := hermesHub(t)
			args := append([]string{"fanout"}, sweepArgs(url, "--max-steps", "2", "--dialect", dialect, "--publishers", "4")...)
			if dialect == DialectDraft08 {
				args = append(args, "--issuer", testIssuer)
			}
			res := runBench(t, args...)
			s := res.Sweep
			// On a loaded machine the publishers may miss the offered rate,
			// which ends the sweep after one step: the only acceptable reason.
			if len(s.Steps) != 2 && !(len(s.Steps) == 1 && strings.HasPrefix(s.StopReason, "publishers reached")) {
				t.Fatalf("%d steps (%s)", len(s.Steps), s.StopReason)
			}
			for _, st := range s.Steps {
				if st.Acked == 0 || st.Deliveries != st.Acked*20 || st.Latency.Count != uint64(st.Deliveries) {
					t.Fatalf("step %d: %d acknowledged, %d deliveries, %d latencies: want 20 each", st.Step, st.Acked, st.Deliveries, st.Latency.Count)
				}
				if st.Lost+st.Duplicates+st.Order+st.Unauthorized != 0 {
					t.Fatalf("step %d: %+v", st.Step, st)
				}
			}
			if len(s.Steps) == 2 && s.Steps[1].Rate != 2*s.Steps[0].Rate {
				t.Fatalf("rates %v then %v with step x2", s.Steps[0].Rate, s.Steps[1].Rate)
			}
			if len(s.Steps) == 2 && s.Best == nil {
				t.Fatal("no best step")
			}
		})
	}
}

// Both ways of reading streams (the poller and a goroutine each) must come
// back after a hub ends a stream, with Last-Event-ID, and miss nothing: the
// fake hub ends every stream after 7 events.
func TestFanoutReconnectsAfterTheHubEndsStreams(t *testing.T) {
	for _, readers := range []string{ReadersPoll, ReadersGoroutine} {
		t.Run(readers, func(t *testing.T) {
			hub := &fakeHub{endEvery: 7}
			res := runBench(t, append([]string{"fanout"}, sweepArgs(fakeHubURL(t, hub), "--max-steps", "1", "--readers", readers)...)...)
			st := res.Sweep.Steps[0]
			if st.Acked == 0 || st.Deliveries != st.Acked*20 || st.Lost+st.Duplicates+st.Order != 0 {
				t.Fatalf("acked %d, deliveries %d (want 20 each), lost %d, dup %d, order %d", st.Acked, st.Deliveries, st.Lost, st.Duplicates, st.Order)
			}
			if res.Sweep.Totals.Reconnects == 0 {
				t.Fatal("the hub ended every stream after 7 events, yet no subscriber reconnected")
			}
		})
	}
}

// The tool must see what a broken hub does: exact counts, per subscriber.
func TestFanoutSeesLossDuplicatesAndReorder(t *testing.T) {
	// 30 updates per step (seq 0..29): positions 3, 13, 23 (drop), 5, 15,
	// 25 (duplicate), 7, 17, 27 (held behind the next one).
	cases := []struct {
		name string
		hub  *fakeHub
		want func(StepResult) bool
	}{
		{"drop", &fakeHub{drop: true}, func(s StepResult) bool { return s.Lost == 3*20 && s.Duplicates == 0 && s.Order == 0 }},
		{"duplicate", &fakeHub{duplicate: true}, func(s StepResult) bool { return s.Duplicates == 3*20 && s.Lost == 0 && s.Order == 0 }},
		{"reorder", &fakeHub{reorder: true}, func(s StepResult) bool { return s.Order == 3*20 && s.Lost == 0 && s.Duplicates == 0 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A short drain: the drop case waits for updates that never come.
			res := runBench(t, append([]string{"fanout"}, sweepArgs(fakeHubURL(t, c.hub), "--max-steps", "3", "--drain", "300ms")...)...)
			s := res.Sweep
			if len(s.Steps) != 1 {
				t.Fatalf("the sweep must stop at the first broken step, ran %d (%s)", len(s.Steps), s.StopReason)
			}
			st := s.Steps[0]
			if st.Acked != 30 || !c.want(st) || st.Within {
				t.Fatalf("acked %d, lost %d, dup %d, order %d, within %v", st.Acked, st.Lost, st.Duplicates, st.Order, st.Within)
			}
			if s.Best != nil {
				t.Fatal("a broken step cannot be the best")
			}
		})
	}
}

func TestPublishCountsAcknowledgementsAndErrors(t *testing.T) {
	res := runBench(t, "publish", "--hub", hermesHub(t), "--jwt-key", testKey, "--publishers", "2", "--duration", "200ms")
	p := res.Publish
	if p.Acked == 0 || p.Acked != p.Published || p.Errors != nil || p.Latency.Count != uint64(p.Published) {
		t.Fatalf("%+v", p)
	}
	// The tool's own CPU is reported (on systems with /proc), so that a
	// reader can tell a hub that limits the rate from a tool that does.
	if _, err := os.Stat("/proc/self/stat"); err == nil && (p.Tool == nil || p.Tool.CPU <= 0) {
		t.Fatalf("no CPU time of the tool reported: %+v", p.Tool)
	}

	res = runBench(t, "publish", "--hub", fakeHubURL(t, &fakeHub{fail: true}), "--jwt-key", testKey, "--publishers", "1", "--duration", "200ms")
	p = res.Publish
	if p.Errors["503"] == 0 || int64(p.Errors["503"])+p.Acked != p.Published {
		t.Fatalf("errors %v, %d acknowledged of %d", p.Errors, p.Acked, p.Published)
	}
}

func TestReplayExactWithHermes(t *testing.T) {
	for _, dialect := range []string{DialectLegacy, DialectDraft08} {
		t.Run(dialect, func(t *testing.T) {
			args := []string{"replay", "--hub", hermesHub(t), "--jwt-key", testKey, "--history", "200",
				"--depths", "1,50,all", "--subscribers", "5", "--publishers", "4", "--drain", "1s", "--dialect", dialect}
			if dialect == DialectDraft08 {
				args = append(args, "--issuer", testIssuer)
			}
			r := runBench(t, args...).Replay
			if r.History != 200 || len(r.Rounds) != 3 {
				t.Fatalf("history %d, %d rounds", r.History, len(r.Rounds))
			}
			for i, want := range []int{200, 1, 50} {
				rd := r.Rounds[i]
				if rd.Depth != want || rd.Received != int64(5*want) || rd.Gaps+rd.Duplicates+rd.Order+rd.Extra != 0 {
					t.Fatalf("round %d: %+v", i, rd)
				}
				if rd.FirstEvent.Count != 5 {
					t.Fatalf("round %d: %d first-event times", i, rd.FirstEvent.Count)
				}
			}
		})
	}
}

// A hub that ignores Last-Event-ID replays what the subscriber already had.
func TestReplaySeesIgnoredCursor(t *testing.T) {
	r := runBench(t, "replay", "--hub", fakeHubURL(t, &fakeHub{replayAll: true}), "--jwt-key", testKey,
		"--history", "50", "--depths", "10", "--subscribers", "2", "--publishers", "1", "--drain", "300ms").Replay
	if len(r.Rounds) != 2 {
		t.Fatalf("%d rounds", len(r.Rounds))
	}
	// All of history (anchor included) comes back: the anchor is extra in
	// the full round; in the depth-10 round the 41 events before the
	// cursor (anchor included) are extra.
	if r.Rounds[0].Extra != 2*1 || r.Rounds[1].Extra != 2*41 || r.Rounds[1].Gaps != 0 {
		t.Fatalf("rounds %+v", r.Rounds)
	}
}

func TestPrivateOnlyAuthorizedWithHermes(t *testing.T) {
	for _, dialect := range []string{DialectLegacy, DialectDraft08} {
		t.Run(dialect, func(t *testing.T) {
			args := append([]string{"private"}, sweepArgs(hermesHub(t), "--max-steps", "1", "--patterns", "20", "--dialect", dialect)...)
			if dialect == DialectDraft08 {
				args = append(args, "--issuer", testIssuer)
			}
			s := runBench(t, args...).Sweep
			st := s.Steps[0]
			// Each update is for exactly one of the 20 subscribers.
			if st.Acked != 30 || st.Deliveries != 30 || st.Unauthorized+st.Lost+st.Duplicates+st.Order != 0 {
				t.Fatalf("%+v", st)
			}
			if s.Totals.Received != 30 {
				t.Fatalf("received %d in all, want 30", s.Totals.Received)
			}
		})
	}
}

// A hub that sends private updates to everyone is caught by every
// subscriber an update was not meant for.
func TestPrivateSeesUnauthorizedDeliveries(t *testing.T) {
	s := runBench(t, append([]string{"private"}, sweepArgs(fakeHubURL(t, &fakeHub{}), "--max-steps", "3", "--patterns", "5")...)...).Sweep
	if len(s.Steps) != 1 {
		t.Fatalf("%d steps: %s", len(s.Steps), s.StopReason)
	}
	// Each subscriber stops waiting once it has its own updates; leaked
	// ones still in flight then are not counted, so at most 30*19.
	if st := s.Steps[0]; st.Unauthorized == 0 || st.Unauthorized > 30*19 || st.Lost != 0 || st.Within {
		t.Fatalf("%+v", st)
	}
}
