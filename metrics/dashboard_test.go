package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/hermes-hub/hermes/metrics"
)

// dashboardPath is the Grafana dashboard shipped for these metrics.
const dashboardPath = "../docker/grafana/hermes.json"

// dashboard is the part of Grafana's JSON model the test reads.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// promqlFuncs are the functions and aggregations an expression may call;
// any other name before "(" is an error, so that a typo is not taken for
// a function.
var promqlFuncs = []string{
	"sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile",
	"rate", "irate", "increase", "delta", "histogram_quantile", "clamp_min",
	"abs", "label_values", "vector", "time",
}

var (
	stringRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	matcherRE  = regexp.MustCompile(`\{([^}]*)\}`)
	rangeRE    = regexp.MustCompile(`\[[^\]]*\]`)
	groupingRE = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	identRE    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	labelRE    = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// parsedExpr is what an expression refers to.
type parsedExpr struct {
	metrics []string // metric names, as written (with _bucket, ...)
	labels  []string // label names in matchers and by/without clauses
	funcs   []string
}

// parsePromQL extracts the metric, label and function names of an
// expression: strings, range selectors and Grafana variables are
// dropped, matcher and grouping label names are set aside, and what is
// left is either a function (followed by "(") or a metric name.
func parsePromQL(expr string) parsedExpr {
	var p parsedExpr
	s := stringRE.ReplaceAllString(expr, `""`)
	for _, m := range matcherRE.FindAllStringSubmatch(s, -1) {
		for _, l := range labelRE.FindAllStringSubmatch(m[1], -1) {
			p.labels = append(p.labels, l[1])
		}
	}
	s = matcherRE.ReplaceAllString(s, " ")
	s = rangeRE.ReplaceAllString(s, " ")
	for _, m := range groupingRE.FindAllStringSubmatch(s, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				p.labels = append(p.labels, l)
			}
		}
	}
	s = groupingRE.ReplaceAllString(s, " ")
	s = regexp.MustCompile(`\$\{?\w+\}?`).ReplaceAllString(s, " ")
	for _, m := range identRE.FindAllStringSubmatch(s, -1) {
		name := strings.TrimRight(strings.TrimSuffix(strings.TrimSpace(m[0]), "("), " ")
		if m[1] != "" {
			p.funcs = append(p.funcs, name)
			continue
		}
		switch name {
		case "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "offset", "bool", "e", "Inf", "NaN":
			continue
		}
		p.metrics = append(p.metrics, name)
	}
	return p
}

func TestParsePromQL(t *testing.T) {
	p := parsePromQL(`histogram_quantile(0.99, sum by (le, job) (rate(hermes_x_bucket{job=~"$job", a!="}"}[$__rate_interval]))) / hermes_y`)
	if !slices.Equal(p.metrics, []string{"hermes_x_bucket", "hermes_y"}) {
		t.Errorf("metrics %q", p.metrics)
	}
	if !slices.Equal(p.funcs, []string{"histogram_quantile", "sum", "rate"}) {
		t.Errorf("funcs %q", p.funcs)
	}
	if !slices.Equal(p.labels, []string{"job", "a", "le", "job"}) {
		t.Errorf("labels %q", p.labels)
	}
}

// TestDashboardQueriesExportedMetrics reads every PromQL expression of the
// Grafana dashboard and checks that each metric it names is one the hub
// exports (a histogram's _bucket, _sum and _count series included), that
// every label it groups or filters by exists on those metrics, and that
// every hermes_ metric has a panel.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	// The Redis and bolt metrics are registered when their transport
	// asks for them, the auth caches' when the command wires them, the publish
	// loop's when a hub is built; the dashboard
	// has panels for them, so they count here.
	m := metrics.New()
	m.Redis()
	m.Bolt()
	m.AuthCaches(func() []metrics.CacheStats { return nil })
	m.PublishLoop(func() (uint64, uint64, uint64) { return 0, 0, 0 })
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	// series maps every series name a scrape shows to its family.
	series := map[string]*dto.MetricFamily{}
	for _, f := range families {
		series[f.GetName()] = f
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				series[f.GetName()+suffix] = f
			}
		}
	}
	labelsOf := func(name string) []string {
		f := series[name]
		out := []string{"job", "instance"} // added by Prometheus at scrape
		if strings.HasSuffix(name, "_bucket") && f.GetType() == dto.MetricType_HISTOGRAM {
			out = append(out, "le")
		}
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				out = append(out, lp.GetName())
			}
		}
		return out
	}

	used := map[string]bool{}
	exprs := 0
	for _, panel := range d.Panels {
		for _, target := range panel.Targets {
			exprs++
			p := parsePromQL(target.Expr)
			if len(p.metrics) == 0 {
				t.Errorf("panel %q: no metric in %q", panel.Title, target.Expr)
			}
			for _, fn := range p.funcs {
				if !slices.Contains(promqlFuncs, fn) {
					t.Errorf("panel %q: unknown function %q in %q", panel.Title, fn, target.Expr)
				}
			}
			var known []string
			for _, name := range p.metrics {
				f, ok := series[name]
				if !ok {
					t.Errorf("panel %q queries %q, which the hub does not export", panel.Title, name)
					continue
				}
				used[f.GetName()] = true
				known = append(known, labelsOf(name)...)
			}
			for _, l := range p.labels {
				if !slices.Contains(known, l) {
					t.Errorf("panel %q uses label %q, which none of %q has", panel.Title, l, p.metrics)
				}
			}
		}
	}
	if exprs == 0 {
		t.Fatal("the dashboard has no queries")
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), "hermes_") && !used[f.GetName()] {
			t.Errorf("metric %s has no panel on the dashboard", f.GetName())
		}
	}
}
