package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServeOpsDefaults(t *testing.T) {
	c := mustParse(t, nil)
	if c.ShutdownDrain != 5*time.Second {
		t.Errorf("ShutdownDrain = %v, want 5s", c.ShutdownDrain)
	}
	if c.MaxBody != 1<<20 || c.QueueBytes != 1<<20 {
		t.Errorf("MaxBody, QueueBytes = %d, %d; want 1 MiB each", c.MaxBody, c.QueueBytes)
	}
	if c.MaxSubscribers != 0 || c.MaxSubscribersPerClient != 0 {
		t.Errorf("subscriber limits = %d, %d; want 0 (unlimited)", c.MaxSubscribers, c.MaxSubscribersPerClient)
	}
	if c.AdminAddr != "" || c.PProf {
		t.Errorf("admin = %q, pprof %v; want none", c.AdminAddr, c.PProf)
	}
	if c = mustParse(t, nil, "--shutdown-drain", "0"); c.ShutdownDrain != 0 {
		t.Errorf("--shutdown-drain 0 = %v, want 0 (all at once)", c.ShutdownDrain)
	}
}

func TestServeOpsBadValuesNameTheFlag(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--shutdown-drain", "-1s"}, `hermes: --shutdown-drain: invalid duration "-1s"`},
		{[]string{"--shutdown-drain", "soon"}, `hermes: --shutdown-drain: invalid duration "soon"`},
		{[]string{"--max-subscribers", "-1"}, `hermes: --max-subscribers: invalid number "-1"`},
		{[]string{"--max-subscribers-per-client", "ten"}, `hermes: --max-subscribers-per-client: invalid number "ten"`},
		{[]string{"--max-body", "1MB"}, `hermes: --max-body: invalid size "1MB"`},
		{[]string{"--max-body", "10"}, `hermes: --max-body: size "10" out of range`},
		{[]string{"--queue-bytes", "2GiB"}, `hermes: --queue-bytes: size "2GiB" out of range`},
		{[]string{"--admin-addr", "9090"}, `hermes: --admin-addr: invalid address "9090" (want HOST:PORT)`},
		{[]string{"--pprof"}, `hermes: --pprof: needs --admin-addr`},
	} {
		t.Run(tt.want, func(t *testing.T) {
			env := map[string]string{"HERMES_JWT_KEY": "secret", "HERMES_TRANSPORT": "memory://"}
			code, _, stderr := runApp(t, env, append([]string{"serve", "--addr", "127.0.0.1:0"}, tt.args...)...)
			if code != exitUsage || !strings.HasPrefix(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and prefix %q", code, stderr, tt.want)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	good := map[string]int64{
		"1024": 1024, "1024B": 1024, "1KiB": 1 << 10, "512KiB": 512 << 10, "1MiB": 1 << 20,
		"1GiB": 1 << 30, "0001MiB": 1 << 20,
	}
	for in, want := range good {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "+1024", "1.5MiB", "1 MiB", "1mib", "1MB", "1023", "2GiB",
		"9999999999GiB", "99999999999", "0x400"} {
		if got, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", in, got)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"1024", "1MiB", "512KiB", "1GiB", "-1", "9999999999GiB", "1.5MiB", "B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseBytes(s)
		if err != nil {
			return
		}
		if n < minSizeBytes || n > maxSizeBytes {
			t.Fatalf("parseBytes(%q) = %d, outside the bounds", s, n)
		}
	})
}

var adminRE = regexp.MustCompile(`admin listening on (http://[^\s"\\]+)`)

func adminURL(t *testing.T, s *server) string {
	t.Helper()
	var u string
	waitFor(t, 10*time.Second, "the admin listening line", func() bool {
		m := adminRE.FindStringSubmatch(s.Stderr.String())
		if m != nil {
			u = m[1]
		}
		return m != nil
	})
	return u
}

func getBody(t *testing.T, target string) (int, string) {
	t.Helper()
	return getBodyWith(t, http.DefaultClient, target)
}

// getBodyWith is getBody through client.
func getBodyWith(t *testing.T, client *http.Client, target string) (int, string) {
	t.Helper()
	resp, err := client.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// checkMetrics scrapes the admin listener's /metrics, reports every sample
// of want whose value differs, and returns the scrape.
func checkMetrics(t *testing.T, admin string, want map[string]string) string {
	t.Helper()
	_, body := getBody(t, admin+"/metrics")
	for name, v := range want {
		if got := metricValue(body, name); got != v {
			t.Errorf("%s = %q, want %s", name, got, v)
		}
	}
	return body
}

// metricValue returns the value of an unlabelled sample line "name value".
func metricValue(body, name string) string {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// The admin listener serves metrics, probes and (with --pprof) profiles;
// the public listener serves none of the admin-only paths.
func TestServeAdminListener(t *testing.T) {
	s := startServe(t, nil, "--dev", "--addr", "127.0.0.1:0", "--transport", "memory://",
		"--admin-addr", "127.0.0.1:0", "--pprof")
	admin := adminURL(t, s)
	pubToken := stdoutField(t, s, "Publisher token")

	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/debug/pprof/": 200, "/nope": 404} {
		if code, _ := getBody(t, admin+path); code != want {
			t.Errorf("admin %s: %d, want %d", path, code, want)
		}
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 404, "/debug/pprof/": 404} {
		if code, _ := getBody(t, s.URL+path); code != want {
			t.Errorf("public %s: %d, want %d", path, code, want)
		}
	}

	_, before := getBody(t, admin+"/metrics")
	if v := metricValue(before, "hermes_updates_published_total"); v != "0" {
		t.Fatalf("hermes_updates_published_total before any publish = %q, want 0", v)
	}
	client := &http.Client{}
	hubURL := s.URL + "/.well-known/mercure"
	st := subscribe(t, client, hubURL+"?topic="+url.QueryEscape(devTopic), "", nil)
	mustPublish(t, client, hubURL, pubToken, url.Values{"topic": {devTopic}, "data": {"counted"}})
	if got := st.nextData(t, 10*time.Second); got != "counted" {
		t.Fatalf("got %q", got)
	}
	after := checkMetrics(t, admin, map[string]string{
		"hermes_subscribers":                    "1",
		"hermes_updates_published_total":        "1",
		"hermes_updates_delivered_total":        "1",
		"hermes_publish_duration_seconds_count": "1",
		// The publisher's token, verified once, is the grant cache's
		// one entry (a miss); the auth caches are wired to the metrics.
		`hermes_auth_cache_entries{cache="grant"}`:      "1",
		`hermes_auth_cache_misses_total{cache="grant"}`: "1",
	})
	if !strings.Contains(after, `hermes_auth_failures_total{reason="invalid_token"} 0`) {
		t.Errorf("auth failure series are not initialized at 0")
	}
}

// Operators see whether their keep-alive publishers are served by the
// publish loop (hub/h1publish.go): connections taken over, publishes the
// loop served, connections handed back to net/http.
func TestServeMetricsCountThePublishLoop(t *testing.T) {
	s := startServe(t, nil, "--dev", "--addr", "127.0.0.1:0", "--transport", "memory://", "--admin-addr", "127.0.0.1:0")
	admin := adminURL(t, s)
	pubToken := stdoutField(t, s, "Publisher token")
	// One connection for every request: the first publish goes through
	// net/http and hands the connection to the loop, which serves the next.
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	hubURL := s.URL + "/.well-known/mercure"
	for i := range 3 {
		mustPublish(t, client, hubURL, pubToken, url.Values{"topic": {devTopic}, "data": {fmt.Sprint(i)}})
	}
	// Not a publish: the loop gives the connection back to net/http.
	if code, _ := getBodyWith(t, client, s.URL+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz on the taken-over connection: %d", code)
	}
	checkMetrics(t, admin, map[string]string{
		"hermes_publish_connections_taken_over_total":  "1",
		"hermes_publish_loop_requests_total":           "2",
		"hermes_publish_connections_handed_back_total": "1",
	})
}

// A bolt history reports its commits: how long they take (fsync included)
// and how many events they store.
func TestServeMetricsObserveHistoryCommits(t *testing.T) {
	s := startServe(t, nil, "--dev", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--transport", "bolt://"+filepath.Join(t.TempDir(), "hermes.db"))
	admin := adminURL(t, s)
	checkMetrics(t, admin, map[string]string{
		"hermes_history_commit_duration_seconds_count": "0",
		"hermes_history_committed_events_total":        "0",
	})
	pubToken := stdoutField(t, s, "Publisher token")
	for i := range 2 {
		mustPublish(t, http.DefaultClient, s.URL+"/.well-known/mercure", pubToken, url.Values{"topic": {devTopic}, "data": {fmt.Sprint(i)}})
	}
	body := checkMetrics(t, admin, map[string]string{
		"hermes_history_commit_duration_seconds_count": "2",
		"hermes_history_committed_events_total":        "2",
	})
	if sum, err := strconv.ParseFloat(metricValue(body, "hermes_history_commit_duration_seconds_sum"), 64); err != nil || sum <= 0 {
		t.Errorf("hermes_history_commit_duration_seconds_sum = %q, want a positive duration", metricValue(body, "hermes_history_commit_duration_seconds_sum"))
	}
}

func TestServeAdminWithoutPProf(t *testing.T) {
	s := startServe(t, map[string]string{"HERMES_JWT_KEY": "secret"},
		"--addr", "127.0.0.1:0", "--transport", "memory://", "--admin-addr", "127.0.0.1:0")
	admin := adminURL(t, s)
	if code, _ := getBody(t, admin+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without --pprof: %d, want 404", code)
	}
	if code, body := getBody(t, admin+"/metrics"); code != 200 || !strings.Contains(body, "hermes_subscribers 0") {
		t.Errorf("/metrics: %d, want 200 with hermes_subscribers 0", code)
	}
}
