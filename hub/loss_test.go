package hub

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/memory"
)

// lossyTransport is a memory transport that can report losses.
type lossyTransport struct {
	*memory.Transport
	losses chan transport.Loss
}

func (l *lossyTransport) Losses() <-chan transport.Loss { return l.losses }

func (l *lossyTransport) Close() error {
	err := l.Transport.Close()
	close(l.losses)
	return err
}

// TestLossEndsOpenStreams: when the transport reports a loss of history,
// every open stream ends (so that its client reconnects and resumes from
// history), and streams opened afterwards are served as usual.
func TestLossEndsOpenStreams(t *testing.T) {
	tr := &lossyTransport{Transport: memory.New(memory.Options{Size: 100}), losses: make(chan transport.Loss, 1)}
	_, srv := newTestHubOn(t, tr)

	var bodies []io.ReadCloser
	for range 3 {
		resp, err := http.Get(srv.URL + Path + "?topic=t")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		bodies = append(bodies, resp.Body)
	}
	publishID(t, srv, "t", "before")
	for _, b := range bodies {
		if got := readIDs(t, b, 1, 5*time.Second); got[0] != "before" {
			t.Fatalf("got %q before the loss", got)
		}
	}
	tr.losses <- transport.Loss{Reason: "test", Time: time.Now()}
	for i, b := range bodies {
		ended := make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, b); ended <- err }()
		select {
		case <-ended:
		case <-time.After(10 * time.Second):
			t.Fatalf("stream %d still open 10s after the loss", i)
		}
	}
	// A stream opened after the loss is not ended by it.
	resp, err := http.Get(srv.URL + Path + "?topic=t")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	publishID(t, srv, "t", "after")
	if got := readIDs(t, resp.Body, 1, 5*time.Second); got[0] != "after" {
		t.Fatalf("got %q after the loss, want after", got)
	}
}
