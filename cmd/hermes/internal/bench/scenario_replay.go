package bench

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/hermes-hub/hermes/cmd/hermes/internal/bench/histogram"
)

// ReplayResult is history replayed to reconnecting subscribers.
type ReplayResult struct {
	History     int            `json:"history"`
	PublishRate float64        `json:"history_publishes_per_second"`
	Errors      map[string]int `json:"publish_errors,omitempty"`
	Rounds      []ReplayRound  `json:"rounds"`
}

// ReplayRound is K subscribers reconnecting with one Last-Event-ID.
type ReplayRound struct {
	// Depth is how many events each subscriber missed.
	Depth       int   `json:"depth"`
	Subscribers int   `json:"subscribers"`
	Received    int64 `json:"received"`
	// EventsPerSec is all subscribers' events over the round's wall time.
	EventsPerSec float64        `json:"events_per_second"`
	FirstEvent   latencyFigures `json:"time_to_first_event"`
	Complete     latencyFigures `json:"time_to_last_event"`
	Gaps         int64          `json:"gaps"`
	Duplicates   int64          `json:"duplicates"`
	Order        int64          `json:"order_violations"`
	// Extra counts events that precede the cursor or were never published.
	Extra      int64 `json:"extra"`
	Reconnects int64 `json:"reconnects"`
}

// replay publishes the history, then runs one round per depth. The first
// round always replays everything (from an anchor event published before
// the history): it learns the order the hub stored, from which the cursors
// of the other depths are taken, and it is checked for completeness and
// per-publisher order.
func (e *env) replay(ctx context.Context, res *Result) error {
	o := e.o
	t := e.topic("replay")
	tok, err := e.subscriberToken([]string{t}, false)
	if err != nil {
		return err
	}
	e.pub = newPublisher(e, o.Publishers)
	mk := func(w int, _ int64, p payload) update { return update{topic: t, data: p.encode(o.PayloadSize)} }

	// The anchor: the cursor of the "all" round.
	e.status.Store(func() string { return "publishing the anchor" })
	st := e.newStep(0)
	e.publishPhase(ctx, publishPlan{step: 0, workers: 1, limit: 1, duration: time.Hour, make: mk, keepIDs: true})
	if st.acked.Load() != 1 {
		return fmt.Errorf("publishing the first event failed: %s", fmtErrors(st.errs))
	}
	anchorID := st.ids[st.ackedSeqs[0]]
	e.status.Store(func() string { return fmt.Sprintf("publishing history: %d/%d", st.acked.Load()-1, o.History) })
	elapsed := e.publishPhase(ctx, publishPlan{step: 0, workers: o.Publishers, limit: int64(o.History), duration: 24 * time.Hour, make: mk})
	r := &ReplayResult{History: int(st.acked.Load() - 1), PublishRate: float64(st.acked.Load()-1) / elapsed.Seconds()}
	st.mu.Lock()
	if len(st.errs) > 0 {
		r.Errors = st.errs
	}
	history := append([]int64(nil), st.ackedSeqs[1:]...)
	st.mu.Unlock()
	res.Replay = r
	if ctx.Err() != nil {
		return nil
	}

	// Round "all": its expected set is the history, in an order to learn.
	all, learned := e.replayRound(ctx, tok, t, anchorID, history, nil, res)
	r.Rounds = append(r.Rounds, all)
	for _, d := range o.Depths {
		if d == 0 || ctx.Err() != nil {
			continue // "all" ran first
		}
		if len(learned) < d+1 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("depth %d skipped: the full replay returned %d events", d, len(learned)))
			continue
		}
		cut := len(learned) - d
		round, _ := e.replayRound(ctx, tok, t, learned[cut-1].id, nil, learned[cut:], res)
		r.Rounds = append(r.Rounds, round)
	}
	return nil
}

type seqID struct {
	seq int64
	id  string
}

// replayRound connects o.Subscribers subscribers with cursor and waits for
// what they must receive: the events of want in that order, or, when want
// is nil, the set anySet in any order that keeps each publisher's order.
// It returns the first subscriber's arrival order.
func (e *env) replayRound(ctx context.Context, tok, topicName, cursor string, anySet []int64, want []seqID, res *Result) (ReplayRound, []seqID) {
	o := e.o
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	expected := len(want)
	if want == nil {
		expected = len(anySet)
	}
	round := ReplayRound{Depth: expected, Subscribers: o.Subscribers}
	query := url.Values{e.matchParam(): {topicName}}.Encode()
	started := make([]time.Duration, o.Subscribers)
	start := e.now()
	e.status.Store(func() string { return fmt.Sprintf("replaying %d events to %d subscribers", expected, o.Subscribers) })
	subs, cs := e.connectAll(ctx, o.Subscribers, func(i int) *subscriber {
		tr := newTracker()
		tr.keepIDs = true
		started[i] = e.now()
		return &subscriber{i: i, tr: tr, req: streamRequest{query: query, token: tok, lastEventID: cursor, hasCursor: true}}
	})
	if cs.Opened < o.Subscribers {
		res.Warnings = append(res.Warnings, fmt.Sprintf("depth %d: %d subscribers failed to connect: %s", expected, o.Subscribers-cs.Opened, fmtErrors(cs.Failed)))
	}
	// Wait until each has all it must receive, or nothing arrives for
	// o.Drain (a hub that replays less must not hang the tool).
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	// Progress is counted in expected events only: extra ones (a hub that
	// replays too much) must not end the wait early.
	wantSlots := make([]int64, 0, expected)
	for _, w := range want {
		wantSlots = append(wantSlots, w.seq)
	}
	if want == nil {
		wantSlots = anySet
	}
	next := make([]int, len(subs))
	lastProgress, lastCount := time.Now(), int64(-1)
	for ctx.Err() == nil {
		var n int64
		done := true
		for i, s := range subs {
			next[i] = s.tr.advance(wantSlots, next[i])
			n += int64(next[i])
			if next[i] < len(wantSlots) {
				done = false
			}
		}
		if n != lastCount {
			lastProgress, lastCount = time.Now(), n
		}
		if done || time.Since(lastProgress) > o.Drain {
			break
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}

	var first, complete histogram.H
	var lastAt time.Duration
	var learned []seqID
	pos := make(map[int64]int, expected)
	for i, w := range want {
		pos[w.seq] = i
	}
	inSet := make(map[int64]bool, len(anySet))
	for _, s := range anySet {
		inSet[s] = true
	}
	for k, s := range subs {
		s.tr.mu.Lock()
		round.Received += int64(len(s.tr.seqs))
		round.Reconnects += s.tr.reconnects
		if s.tr.firstAt > 0 {
			first.Record(time.Duration(s.tr.firstAt) - started[s.i])
			complete.Record(time.Duration(s.tr.lastAt) - started[s.i])
			lastAt = max(lastAt, time.Duration(s.tr.lastAt))
		}
		seen := make(map[int64]bool, expected)
		last := -1
		for j, seq := range s.tr.seqs {
			p, known := pos[seq]
			if want == nil {
				known = inSet[seq]
			}
			switch {
			case !known:
				round.Extra++
			case seen[seq]:
				round.Duplicates++
			default:
				seen[seq] = true
				if k == 0 {
					learned = append(learned, seqID{seq, s.tr.ids[j]})
				}
				if want != nil {
					if p < last {
						round.Order++
					}
					last = max(last, p)
				}
			}
		}
		if want == nil {
			round.Order += s.tr.order // per-publisher order
		}
		round.Gaps += int64(expected - len(seen))
		s.tr.mu.Unlock()
	}
	round.FirstEvent, round.Complete = figures(&first), figures(&complete)
	if wall := lastAt - start; wall > 0 {
		round.EventsPerSec = float64(round.Received) / wall.Seconds()
	}
	return round, learned
}

func (r *ReplayResult) table(w io.Writer) {
	fmt.Fprintf(w, "history: %d events published at %.0f/s", r.History, r.PublishRate)
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, " (errors: %s)", fmtErrors(r.Errors))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "depth\tsubscribers\tevents/s\tfirst event p50\tp99\tall events p50\tp99\tgaps\tdup\torder\textra\t")
	for _, rd := range r.Rounds {
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t\n", rd.Depth, rd.Subscribers, rd.EventsPerSec,
			fmtMS(rd.FirstEvent.P50), fmtMS(rd.FirstEvent.P99), fmtMS(rd.Complete.P50), fmtMS(rd.Complete.P99),
			rd.Gaps, rd.Duplicates, rd.Order, rd.Extra)
	}
	tw.Flush()
}
