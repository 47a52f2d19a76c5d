package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hermes-hub/hermes/cmd/hermes/internal/bench/histogram"
)

// Result is everything a run measured; --json prints it as is.
type Result struct {
	Scenario string `json:"scenario"`
	Hub      string `json:"hub"`
	// PublishHub is where updates were published, when not Hub.
	PublishHub string   `json:"publish_hub,omitempty"`
	Dialect    string   `json:"dialect"`
	Run        string   `json:"run"`
	Warnings   []string `json:"warnings,omitempty"`
	Limits     struct {
		NoFile uint64 `json:"nofile"`
	} `json:"limits"`

	Connect *connectStats  `json:"connect,omitempty"`
	Idle    *IdleResult    `json:"idle,omitempty"`
	Sweep   *SweepResult   `json:"sweep,omitempty"`
	Publish *PublishResult `json:"publish,omitempty"`
	Replay  *ReplayResult  `json:"replay,omitempty"`
}

// latencyFigures are the percentiles of a histogram, in milliseconds.
type latencyFigures struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func figures(h *histogram.H) latencyFigures {
	return latencyFigures{
		Count: h.Count(),
		P50:   ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)),
		Max: ms(h.Max()), Mean: ms(h.Mean()),
	}
}

func (l latencyFigures) String() string {
	if l.Count == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", fmtMS(l.P50), fmtMS(l.P90), fmtMS(l.P99), fmtMS(l.Max))
}

func fmtMS(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.2fs", v/1000)
	case v >= 10:
		return fmt.Sprintf("%.0fms", v)
	default:
		return fmt.Sprintf("%.2fms", v)
	}
}

func fmtBytes(b float64) string {
	switch {
	case b >= 1<<30 || b <= -(1<<30):
		return fmt.Sprintf("%.2f GiB", b/(1<<30))
	case b >= 1<<20 || b <= -(1<<20):
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10 || b <= -(1<<10):
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", b)
	}
}

func fmtErrors(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func (r *Result) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable prints the summary for a person sizing a deployment.
func (r *Result) writeTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	row("scenario", r.Scenario)
	row("hub", r.Hub+" ("+r.Dialect+" dialect)")
	if r.PublishHub != "" {
		row("published to", r.PublishHub)
	}
	if c := r.Connect; c != nil {
		row("subscribers connected", fmt.Sprintf("%d in %s (%.0f/s)", c.Opened, c.Elapsed.Round(time.Millisecond), c.PerSec))
		row("connect latency", c.Latency)
		if len(c.Failed) > 0 {
			row("connect failures", fmtErrors(c.Failed))
		}
	}
	switch {
	case r.Idle != nil:
		r.Idle.table(row)
	case r.Publish != nil:
		r.Publish.table(row)
	case r.Replay != nil:
		tw.Flush()
		r.Replay.table(w)
	case r.Sweep != nil:
		tw.Flush()
		r.Sweep.table(w)
	}
	for _, wr := range r.Warnings {
		row("warning", wr)
	}
	return tw.Flush()
}
