package hub

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/bolt"
)

// damagedBolt opens a bolt history of 2000 events whose pages were zeroed
// after it was written, skipping the check at open: the state of a file
// damaged while the hub runs.
func damagedBolt(t *testing.T) *bolt.Transport {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hermes.db")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	writer, err := bolt.Open(path, bolt.Options{NoSync: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// The feed reader takes the channel now: it must not read the variable
	// that is given the reopened transport below.
	go func(feed <-chan *transport.Event) {
		for range feed {
		}
	}(writer.Feed())
	evs := make([]*transport.Event, 2000)
	for i := range evs {
		evs[i] = &transport.Event{ID: fmt.Sprint("e", i), Topics: []string{"t"}, Data: strings.Repeat("d", 1000)}
	}
	if err := writer.AppendBatch(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if err := writer.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	ps := int64(os.Getpagesize())
	if _, err := f.WriteAt(make([]byte, 3*ps), fi.Size()/ps/3*ps); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tr, err := bolt.Open(path, bolt.Options{NoSync: true, SkipCheck: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestDamagedHistoryAtRunTime (issue 10, finding 7): a replay that meets
// damaged pages ends the stream with an error counted as a transport error
// (not a client disconnect, not a panic of the handler); from then on
// /readyz answers 503 and subscribers asking for history get 503 before any
// header.
func TestDamagedHistoryAtRunTime(t *testing.T) {
	_, srv, rec := newOpsHub(t, Config{Anonymous: true, Transport: damagedBolt(t)})
	if code, _ := get(t, srv, "/readyz", nil); code != http.StatusOK {
		t.Fatalf("/readyz before the damage was met: %d", code)
	}
	s := openStream(t, srv, "topic=t", http.Header{"Last-Event-Id": {"earliest"}})
	if _, err := io.Copy(io.Discard, s.r); err != nil {
		t.Logf("replay stream ended with %v", err)
	}
	eventually(t, "the replay failure to be counted", func() bool {
		m := rec.snapshot()
		return m.transport[OpReplay] >= 1 && m.disconnects[DisconnectError] >= 1
	})
	if code, _ := get(t, srv, "/readyz", nil); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after a replay met damaged pages: %d, want 503", code)
	}
	if code, _ := get(t, srv, Path+"?topic=t", http.Header{"Last-Event-Id": {"earliest"}}); code != http.StatusServiceUnavailable {
		t.Errorf("a replay on a damaged history: %d, want 503", code)
	}
}
