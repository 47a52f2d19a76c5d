package hub

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/memory"
)

// mintingMemory is the memory transport with ids of its own, as bolt mints
// them (encrypted counters); here a recognisable sequence.
type mintingMemory struct {
	*memory.Transport
	n atomic.Uint64
}

func (m *mintingMemory) MintID() string {
	return fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012x", m.n.Add(1))
}

var _ transport.IDMinter = (*mintingMemory)(nil)

// publishNoID publishes to topic t without an id and returns the id the
// hub answers with.
func publishNoID(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	resp, err := http.PostForm(srv.URL+Path, url.Values{"topic": {"t"}, "data": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish: %d %s", resp.StatusCode, body)
	}
	return strings.TrimSpace(string(body))
}

// TestPUBGeneratedIDUsesTheTransportsMinter: an update published without
// an id gets one from the transport when it mints ids (bolt), a random
// UUID otherwise; a publisher's id is kept either way.
func TestPUBGeneratedIDUsesTheTransportsMinter(t *testing.T) {
	minting := &mintingMemory{Transport: memory.New(memory.Options{})}
	_, srv := newTestHubOn(t, minting)
	for i := 1; i <= 2; i++ {
		if got, want := publishNoID(t, srv), fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012x", i); got != want {
			t.Fatalf("generated id %q, want the transport's %q", got, want)
		}
	}
	publishID(t, srv, "t", "mine")
	if seq, ok, err := minting.Lookup(context.Background(), "mine"); err != nil || !ok || seq != 3 {
		t.Fatalf("the publisher's id: Lookup = %d, %v, %v; want 3", seq, ok, err)
	}
	if n := minting.n.Load(); n != 2 {
		t.Fatalf("%d ids minted, want 2 (none for an update with an id)", n)
	}

	_, srv = newTestHubOn(t, memory.New(memory.Options{}))
	v4 := regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if a, b := publishNoID(t, srv), publishNoID(t, srv); !v4.MatchString(a) || a == b {
		t.Fatalf("generated ids without a minter: %q, %q; want two random UUIDs", a, b)
	}
}
