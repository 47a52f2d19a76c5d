package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"
)

// SweepResult is a rate sweep: one step per offered rate, until the p99
// objective is missed or the hub stops delivering every update.
type SweepResult struct {
	Subscribers int            `json:"subscribers"`
	Patterns    int            `json:"patterns_per_token,omitempty"`
	ObjectiveMS float64        `json:"p99_objective_ms"`
	Steps       []StepResult   `json:"steps"`
	Best        *StepResult    `json:"best,omitempty"`
	StopReason  string         `json:"stop_reason"`
	Totals      totals         `json:"totals"`
	Errors      map[string]int `json:"publish_errors,omitempty"`
}

// StepResult is one step of a sweep.
type StepResult struct {
	Step           int            `json:"step"`
	Rate           float64        `json:"offered_rate"`
	Published      int64          `json:"published"`
	Acked          int64          `json:"acknowledged"`
	PublishRate    float64        `json:"publishes_per_second"`
	PublishErrors  map[string]int `json:"publish_errors,omitempty"`
	PublishLatency latencyFigures `json:"publish_latency"`
	Deliveries     int64          `json:"deliveries"`
	DeliveriesRate float64        `json:"deliveries_per_second"`
	Latency        latencyFigures `json:"latency"`
	Lost           int64          `json:"lost"`
	Duplicates     int64          `json:"duplicates"`
	Order          int64          `json:"order_violations"`
	Unauthorized   int64          `json:"unauthorized"`
	Reconnects     int64          `json:"reconnects"`
	Hub            *procDelta     `json:"hub,omitempty"`
	// Tool is this process: near 100 % per core it has, the tool and not
	// the hub may be what limits the step.
	Tool           *procDelta `json:"tool,omitempty"`
	CPUPerUpdateMS float64    `json:"hub_cpu_per_update_ms,omitempty"`
	Within         bool       `json:"within_objective"`
}

// sweepSpec is what differs between the fan-out and private sweeps.
type sweepSpec struct {
	subs []*subscriber
	// make builds the update of seq.
	make func(w int, seq int64, p payload) update
	// target is the subscriber an update is for; nil: every subscriber.
	target func(seq int64) int
}

func (e *env) sweep(ctx context.Context, spec sweepSpec, r *SweepResult) {
	o := e.o
	proc, self := sampler{o.PID}, sampler{os.Getpid()}
	trackers := make([]*tracker, len(spec.subs))
	for i, s := range spec.subs {
		trackers[i] = s.tr
	}
	r.ObjectiveMS = ms(o.P99)
	r.Errors = map[string]int{}
	rate := o.Rate
	for k := 0; ; k++ {
		if ctx.Err() != nil {
			r.StopReason = "interrupted"
			break
		}
		if k >= o.MaxSteps {
			r.StopReason = fmt.Sprintf("--max-steps %d reached", o.MaxSteps)
			break
		}
		if o.MaxRate > 0 && rate > o.MaxRate {
			r.StopReason = fmt.Sprintf("--max-rate %g reached", o.MaxRate)
			break
		}
		before, p0, s0 := sumTrackers(trackers), proc.sample(), self.sample()
		st := e.newStep(k)
		e.status.Store(func() string {
			return fmt.Sprintf("step %d at %.0f/s: %d published, %d deliveries, p99 so far %s, %d streams open",
				k+1, rate, st.acked.Load(), st.deliveries.Load(), fmtMS(ms(st.latency.Quantile(0.99))), e.open.Load())
		})
		elapsed := e.publishPhase(ctx, publishPlan{
			step: k, workers: o.Publishers, rate: rate, duration: o.StepDuration,
			make: spec.make, target: spec.target,
		})
		lost := e.drain(ctx, k, st, spec, trackers)
		after, p1, s1 := sumTrackers(trackers), proc.sample(), self.sample()

		st.mu.Lock()
		errs := map[string]int{}
		var nerr int64
		for key, n := range st.errs {
			errs[key] = n
			r.Errors[key] += n
			nerr += int64(n)
		}
		st.mu.Unlock()
		sr := StepResult{
			Step: k + 1, Rate: rate, Published: st.published.Load(), Acked: st.acked.Load(),
			PublishErrors: errs, PublishLatency: figures(&st.publish),
			Deliveries: st.deliveries.Load(), Latency: figures(&st.latency),
			Lost: lost, Duplicates: after.Duplicates - before.Duplicates, Order: after.Order - before.Order,
			Unauthorized: after.Unauthorized - before.Unauthorized, Reconnects: after.Reconnects - before.Reconnects,
			Hub: delta(p0, p1), Tool: delta(s0, s1),
		}
		if len(errs) == 0 {
			sr.PublishErrors = nil
		}
		sr.PublishRate = float64(sr.Acked) / elapsed.Seconds()
		sr.DeliveriesRate = float64(sr.Deliveries) / elapsed.Seconds()
		if sr.Hub != nil && sr.Acked > 0 {
			sr.CPUPerUpdateMS = 1000 * sr.Hub.CPU / float64(sr.Acked)
		}
		reason := ""
		switch {
		case sr.Unauthorized > 0:
			reason = fmt.Sprintf("%d unauthorized deliveries", sr.Unauthorized)
		case sr.Lost > 0:
			reason = fmt.Sprintf("%d updates lost", sr.Lost)
		case sr.Duplicates > 0 || sr.Order > 0:
			reason = fmt.Sprintf("%d duplicates, %d order violations", sr.Duplicates, sr.Order)
		case sr.Latency.Count == 0:
			reason = "nothing was delivered"
		case sr.Latency.P99 > ms(o.P99):
			reason = fmt.Sprintf("p99 %s over the %s objective", fmtMS(sr.Latency.P99), o.P99)
		case nerr*100 > sr.Published:
			reason = "publish errors: " + fmtErrors(errs)
		case sr.PublishRate < 0.9*rate:
			reason = fmt.Sprintf("publishers reached %.0f/s of the %.0f/s offered (the hub answers publishes too slowly; try more --publishers)", sr.PublishRate, rate)
		}
		sr.Within = reason == ""
		r.Steps = append(r.Steps, sr)
		if sr.Within && (r.Best == nil || sr.DeliveriesRate > r.Best.DeliveriesRate) {
			b := sr
			r.Best = &b
		}
		if reason != "" {
			r.StopReason = reason
			break
		}
		rate = o.nextRate(rate)
	}
	r.Totals = sumTrackers(trackers)
	if len(r.Errors) == 0 {
		r.Errors = nil
	}
}

// drain waits until every subscriber has received every acknowledged
// update of step k meant for it, or o.Drain passes, then counts what is
// missing (arrivals after this count show as late).
func (e *env) drain(ctx context.Context, k int, st *stepStats, spec sweepSpec, trackers []*tracker) (lost int64) {
	st.mu.Lock()
	acked := append([]int64(nil), st.ackedSeqs...)
	st.mu.Unlock()
	want := make([][]int64, len(spec.subs))
	if spec.target == nil {
		for i := range want {
			want[i] = acked
		}
	} else {
		index := make(map[int]int, len(spec.subs))
		for i, s := range spec.subs {
			index[s.i] = i
		}
		for _, seq := range acked {
			if i, ok := index[spec.target(seq)]; ok {
				want[i] = append(want[i], e.slot(seq))
			}
		}
	}
	deadline := time.Now().Add(e.o.Drain)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		done := true
		for i, t := range trackers {
			if t.stepReceived(k) < int64(len(want[i])) {
				done = false
				break
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return 0
		case <-tick.C:
		}
	}
	for i, t := range trackers {
		lost += t.missing(want[i], k+1)
	}
	return lost
}

func (r *SweepResult) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\toffered/s\tpublished/s\tdeliveries/s\tp50\tp90\tp99\tmax\tlost\tdup\torder\tunauth\thub CPU/update\ttool CPU\t")
	for _, s := range r.Steps {
		cpu := "-"
		if s.Hub != nil {
			cpu = fmt.Sprintf("%.2fms (%.0f%%)", s.CPUPerUpdateMS, s.Hub.CPUPercent)
		}
		tool := "-"
		if s.Tool != nil {
			tool = fmt.Sprintf("%.0f%%", s.Tool.CPUPercent)
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t\n", s.Step, s.Rate, s.PublishRate, s.DeliveriesRate,
			fmtMS(s.Latency.P50), fmtMS(s.Latency.P90), fmtMS(s.Latency.P99), fmtMS(s.Latency.Max),
			s.Lost, s.Duplicates, s.Order, s.Unauthorized, cpu, tool)
	}
	tw.Flush()
	fmt.Fprintf(w, "stopped: %s\n", r.StopReason)
	if r.Best != nil {
		fmt.Fprintf(w, "best within p99 %s: %.0f publishes/s, %.0f deliveries/s to %d subscribers (p99 %s)\n",
			fmtMS(r.ObjectiveMS), r.Best.PublishRate, r.Best.DeliveriesRate, r.Subscribers, fmtMS(r.Best.Latency.P99))
	} else {
		fmt.Fprintf(w, "no step met the p99 objective of %s without loss\n", fmtMS(r.ObjectiveMS))
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "publish errors: %s\n", fmtErrors(r.Errors))
	}
	t := r.Totals
	if t.Reconnects+t.Foreign+t.Malformed+t.Late > 0 {
		fmt.Fprintf(w, "reconnects: %d, late: %d, foreign events: %d, malformed: %d\n", t.Reconnects, t.Late, t.Foreign, t.Malformed)
	}
}
