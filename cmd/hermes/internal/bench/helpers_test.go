package bench

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport/memory"
)

const (
	testKey    = "bench test key, 0123456789abcdef0123456789"
	testIssuer = "https://issuer.bench.test"
)

// hermesHub serves an in-process Hermes hub on the memory transport and
// returns its URL.
func hermesHub(t *testing.T) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	url := "http://" + srv.Listener.Addr().String() + hub.Path
	topts := topic.Options{Base: url}
	az, err := auth.New(auth.Config{
		PublisherKey: []byte(testKey), SubscriberKey: []byte(testKey),
		Issuer: testIssuer, ResourceID: url, TopicOptions: topts,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(hub.Config{
		Transport: memory.New(memory.Options{Size: 100000}),
		Auth:      az, TopicOptions: topts,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.Close(ctx)
		srv.Close()
		az.Close()
	})
	return url
}

// fakeHubURL serves f.
func fakeHubURL(t *testing.T, f *fakeHub) string {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv.URL + hub.Path
}

// runBench parses args as the command line does and runs the scenario.
func runBench(t *testing.T, args ...string) *Result {
	t.Helper()
	o, err := Parse(args, func(s string) ([]byte, error) { return []byte(s), nil })
	if err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, o, nil, false)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

// sweepArgs are tiny sweep settings: steps of 0.3 s at 100 updates/s from
// one publisher, so that publish order is the hub's order and the count of
// each step is exact (30). The drain ends as soon as every update arrived,
// so it is long (a slow race-detector run must not look like loss), and the
// p99 objective is out of reach: tests assert counts, never timings.
func sweepArgs(url string, extra ...string) []string {
	return append([]string{"--hub", url, "--jwt-key", testKey, "--subscribers", "20", "--publishers", "1",
		"--rate", "100", "--step-duration", "300ms", "--drain", "20s", "--p99", "1h", "--connect-concurrency", "8"}, extra...)
}

var _ http.Handler = (*fakeHub)(nil)
