package bench

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
)

// TestFanoutPublishHubTakesThePublishes: with --publish-hub, every update
// is posted there and no subscriber connects there; the subscribers on
// --hub still receive each update once. The second URL is a proxy to the
// same hub, standing for another node of a cluster (the cross-node run
// against real nodes on Redis is in spec-tests/cluster).
func TestFanoutPublishHubTakesThePublishes(t *testing.T) {
	subURL := hermesHub(t)
	target, err := url.Parse(subURL)
	if err != nil {
		t.Fatal(err)
	}
	target.Path = ""
	var posts, gets atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	pub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.Add(1)
		} else {
			gets.Add(1)
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(pub.Close)
	pubURL := pub.URL + target.Path + "/.well-known/mercure"

	res := runBench(t, append([]string{"fanout"}, sweepArgs(subURL, "--max-steps", "1", "--publish-hub", pubURL)...)...)
	if res.PublishHub != pubURL {
		t.Fatalf("result names publish hub %q, want %q", res.PublishHub, pubURL)
	}
	st := res.Sweep.Steps[0]
	if st.Acked == 0 || posts.Load() != st.Published {
		t.Fatalf("%d publishes made, %d reached --publish-hub", st.Published, posts.Load())
	}
	if gets.Load() != 0 {
		t.Fatalf("%d subscribe requests reached --publish-hub, want none", gets.Load())
	}
	if st.Deliveries != st.Acked*20 || st.Lost+st.Duplicates+st.Order != 0 {
		t.Fatalf("%d acknowledged, %d deliveries to 20 subscribers, %d lost, %d duplicates, %d out of order",
			st.Acked, st.Deliveries, st.Lost, st.Duplicates, st.Order)
	}
}
