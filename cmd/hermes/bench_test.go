package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// `hermes bench` is dispatched to the bench package: a usage mistake exits
// 2, a run prints its JSON result.
func TestBenchCommand(t *testing.T) {
	code, _, stderr := runApp(t, nil, "bench", "nosuch")
	if code != exitUsage || !strings.Contains(stderr, `unknown scenario "nosuch"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runApp(t, nil, "bench", "idle", "--hub", "http://x/.well-known/mercure", "--jwt-key", "k", "--rate", "5")
	if code != exitUsage || !strings.Contains(stderr, "--rate: not used by the idle scenario") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	code, stdout, _ := runApp(t, nil, "bench", "-h")
	if code != exitOK || !strings.Contains(stdout, "Usage: hermes bench SCENARIO") {
		t.Fatalf("exit %d, stdout %q", code, stdout)
	}

	// A hub that acknowledges every publish: the publish scenario runs.
	srv := httptest.NewServer(okHub{})
	defer srv.Close()
	code, stdout, stderr = runApp(t, nil, "bench", "publish", "--hub", srv.URL+"/.well-known/mercure",
		"--jwt-key", "bench-secret", "--publishers", "1", "--duration", "50ms", "--json")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	var res struct {
		Scenario string
		Publish  struct{ Acknowledged int64 }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Scenario != "publish" || res.Publish.Acknowledged == 0 {
		t.Fatalf("JSON %q: %v", stdout, err)
	}
}

// okHub answers every publish with an id.
type okHub struct{}

func (okHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = w.Write([]byte("urn:ok"))
}
