package bench

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// IdleResult is what N idle subscribers cost the hub.
type IdleResult struct {
	Subscribers int `json:"subscribers"`
	// StillOpen is how many streams were open at the end of the hold.
	StillOpen int64 `json:"still_open"`
	// Dropped counts streams the hub ended during the run.
	Dropped int64         `json:"dropped"`
	Hold    time.Duration `json:"hold_ns"`
	// Hub figures with --pid: memory before connecting and after the
	// hold, CPU over the connect phase.
	Hub           *procDelta `json:"hub,omitempty"`
	ConnectCPU    *procDelta `json:"hub_connect,omitempty"`
	RSSPerSub     float64    `json:"rss_per_subscriber_bytes,omitempty"`
	CPUPerConnect float64    `json:"cpu_per_connect_ms,omitempty"`
}

// idle opens o.Subscribers streams, each on its own topic (a page per user),
// holds them, and measures what they cost the hub.
func (e *env) idle(ctx context.Context, res *Result) error {
	o := e.o
	e.reconnect = false // a dropped idle stream is what this scenario counts
	proc := sampler{o.PID}
	before := proc.sample()
	_, cs := e.connectAll(ctx, o.Subscribers, func(i int) *subscriber {
		t := e.topic(fmt.Sprintf("idle/%d", i))
		// The subscriber key was checked by minting in newEnv: an error
		// here cannot happen, and an empty token would show as 401s.
		tok, _ := e.subscriberToken([]string{t}, false)
		return &subscriber{i: i, tr: newTracker(), req: streamRequest{
			query: url.Values{e.matchParam(): {t}}.Encode(), token: tok, bufSize: 512,
		}}
	})
	connected := proc.sample()
	res.Connect = &cs
	if cs.Opened == 0 {
		return fmt.Errorf("no subscriber could connect: %v", cs.firstErr)
	}
	e.status.Store(func() string {
		return fmt.Sprintf("holding %d streams (%d dropped)", e.open.Load(), e.dropped.Load())
	})
	t := time.NewTimer(o.Hold)
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	t.Stop()
	after := proc.sample()
	r := &IdleResult{
		Subscribers: o.Subscribers, StillOpen: e.open.Load(), Dropped: e.dropped.Load(), Hold: o.Hold,
		Hub: delta(before, after), ConnectCPU: delta(before, connected),
	}
	if r.Hub != nil && cs.Opened > 0 {
		r.RSSPerSub = float64(r.Hub.RSSAfter-r.Hub.RSSBefore) / float64(cs.Opened)
		r.CPUPerConnect = 1000 * r.ConnectCPU.CPU / float64(cs.Opened)
	}
	res.Idle = r
	return nil
}

func (r *IdleResult) table(row func(string, any)) {
	row("held", fmt.Sprintf("%d streams open after %s, %d dropped", r.StillOpen, r.Hold, r.Dropped))
	if r.Hub == nil {
		row("hub memory", "give --pid to measure")
		return
	}
	row("hub RSS", fmt.Sprintf("%s before, %s after (peak %s)", fmtBytes(float64(r.Hub.RSSBefore)), fmtBytes(float64(r.Hub.RSSAfter)), fmtBytes(float64(r.Hub.PeakRSS))))
	row("hub RSS per subscriber", fmtBytes(r.RSSPerSub))
	row("hub CPU per connect", fmt.Sprintf("%.3f ms (%.0f%% of a core while connecting)", r.CPUPerConnect, r.ConnectCPU.CPUPercent))
}
