package bench

import (
	"context"
	"fmt"
	"os"
	"time"
)

// PublishResult is C publishers posting as fast as the hub acknowledges.
type PublishResult struct {
	Publishers  int            `json:"publishers"`
	Duration    time.Duration  `json:"duration_ns"`
	Published   int64          `json:"published"`
	Acked       int64          `json:"acknowledged"`
	PerSecond   float64        `json:"publishes_per_second"`
	Latency     latencyFigures `json:"latency"`
	Errors      map[string]int `json:"errors,omitempty"`
	Hub         *procDelta     `json:"hub,omitempty"`
	CPUPerPubMS float64        `json:"hub_cpu_per_publish_ms,omitempty"`
	// Tool is this process: near 100 % per core it has, the publishers
	// and not the hub may be what limits the rate.
	Tool *procDelta `json:"tool,omitempty"`
}

// publishScenario: o.Publishers concurrent publishers, each waiting for the
// answer before its next publish (as PHP workers do), each on its own topic,
// for o.Duration.
func (e *env) publishScenario(ctx context.Context, res *Result) error {
	o := e.o
	e.pub = newPublisher(e, o.Publishers)
	proc, self := sampler{o.PID}, sampler{os.Getpid()}
	p0, s0 := proc.sample(), self.sample()
	st := e.newStep(0)
	e.status.Store(func() string {
		return fmt.Sprintf("%d acknowledged, p99 so far %s, %d errors", st.acked.Load(), fmtMS(ms(st.publish.Quantile(0.99))), st.published.Load()-st.acked.Load())
	})
	topics := make([]string, o.Publishers)
	for w := range topics {
		topics[w] = e.topic(fmt.Sprintf("publish/%d", w))
	}
	elapsed := e.publishPhase(ctx, publishPlan{
		step: 0, workers: o.Publishers, duration: o.Duration,
		make: func(w int, _ int64, p payload) update { return update{topic: topics[w], data: p.encode(o.PayloadSize)} },
	})
	p1, s1 := proc.sample(), self.sample()
	r := &PublishResult{
		Publishers: o.Publishers, Duration: elapsed, Published: st.published.Load(), Acked: st.acked.Load(),
		Latency: figures(&st.publish), Hub: delta(p0, p1), Tool: delta(s0, s1),
	}
	r.PerSecond = float64(r.Acked) / elapsed.Seconds()
	st.mu.Lock()
	if len(st.errs) > 0 {
		r.Errors = st.errs
	}
	st.mu.Unlock()
	if r.Hub != nil && r.Acked > 0 {
		r.CPUPerPubMS = 1000 * r.Hub.CPU / float64(r.Acked)
	}
	if r.Acked == 0 {
		return fmt.Errorf("no publish was acknowledged: %s", fmtErrors(r.Errors))
	}
	res.Publish = r
	return nil
}

func (r *PublishResult) table(row func(string, any)) {
	row("publishers", r.Publishers)
	row("acknowledged", fmt.Sprintf("%d in %s: %.0f publishes/s", r.Acked, r.Duration.Round(time.Millisecond), r.PerSecond))
	row("publish latency", r.Latency)
	row("errors", fmtErrors(r.Errors))
	if r.Hub != nil {
		row("hub CPU", fmt.Sprintf("%.3f ms per publish (%.0f%% of a core)", r.CPUPerPubMS, r.Hub.CPUPercent))
		row("hub RSS", fmt.Sprintf("%s before, %s after", fmtBytes(float64(r.Hub.RSSBefore)), fmtBytes(float64(r.Hub.RSSAfter))))
	}
	if r.Tool != nil {
		row("tool CPU", fmt.Sprintf("%.0f%% of a core", r.Tool.CPUPercent))
	}
}
