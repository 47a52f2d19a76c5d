package clients_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/spec-tests/testcert"
)

// spki is the hash Chromium's --ignore-certificate-errors-spki-list
// takes: base64 of the SHA-256 of the SubjectPublicKeyInfo.
func spki(c testcert.Cert) string {
	sum := sha256.Sum256(c.Cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// tenStreams is more than the six connections per origin Chromium allows
// over HTTP/1.1: the seventh stream would hang there.
const tenStreams = 10

// TestSUB4_BrowserTenStreamsOverHTTP2WithTLS starts Hermes with
// --tls-cert/--tls-key and opens, in one page, ten EventSource streams
// to it. Over HTTP/1.1 Chromium would open six and leave the others
// pending; over HTTP/2 (negotiated by ALPN) all ten open and receive every
// update, and DevTools reports h2 for each stream. Then the certificate
// files are replaced: new handshakes get the new certificate while the
// open streams, on the connection made before, keep receiving.
func TestSUB4_BrowserTenStreamsOverHTTP2WithTLS(t *testing.T) {
	needClients(t, "node", "chromium")
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first, second := testcert.New(t, "127.0.0.1"), testcert.New(t, "127.0.0.1")
	first.Install(t, certPath, keyPath)

	app := newWebApp(t)
	hub := startHub(t, hubOptions{
		corsOrigins: []string{app.origin},
		extra:       []string{"--tls-cert", certPath, "--tls-key", keyPath, "--tls-reload-interval", "100ms"},
	})
	if !strings.HasPrefix(hub.base, "https://") {
		t.Fatalf("hub base %q, want https://", hub.base)
	}
	subs := make([]pageSub, tenStreams)
	for i := range subs {
		subs[i] = pageSub{Name: fmt.Sprintf("stream-%d", i), Client: "native", Topics: []string{bookTemplate}}
	}
	app.setPage("ten", pageConfig{Hub: hub.endpoint(), Subscriptions: subs})
	// Chromium trusts both certificates by their keys, as it would trust
	// a CA-issued one; nothing else about TLS is relaxed.
	b := startBrowser(t, "--ignore-certificate-errors-spki-list="+spki(first)+","+spki(second))
	b.open(t, "ten", app.pageURL("ten"))
	logs := make([]*eventLog, tenStreams)
	for i := range logs {
		logs[i] = app.log("ten", subs[i].Name)
		logs[i].waitOpen(t, 1)
	}

	client := httpsClient(first, second)
	publishOverTLS(t, client, hub.endpoint(), "before-1", "before-2")
	for _, l := range logs {
		l.waitMessages(t, "before-1", "before-2")
	}
	// DevTools' events reach the test by another path than the page's
	// reports: wait for all ten.
	var streams []browserResponse
	deadline := time.Now().Add(waitTimeout)
	for {
		streams = streams[:0]
		for _, r := range b.responsesTo(hub.endpoint()) {
			if r.ResourceType == "EventSource" {
				streams = append(streams, r)
			}
		}
		if len(streams) >= tenStreams || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	if len(streams) != tenStreams {
		t.Errorf("DevTools saw %d EventSource responses from the hub, want %d", len(streams), tenStreams)
	}
	for _, r := range streams {
		if r.Protocol != "h2" {
			t.Errorf("EventSource %s over %q, want h2", r.URL, r.Protocol)
		}
	}

	// Renewal while the streams are open.
	second.Install(t, certPath, keyPath)
	deadline = time.Now().Add(waitTimeout)
	for !servesCertificate(t, hub.hostPort(), second) {
		if time.Now().After(deadline) {
			t.Fatalf("the hub did not serve the new certificate within %v", waitTimeout)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	publishOverTLS(t, client, hub.endpoint(), "after-1")
	for _, l := range logs {
		l.waitMessages(t, "before-1", "before-2", "after-1")
		if n := count(func() []clientEvent { evs, _ := l.snapshot(); return evs }(), func(e clientEvent) bool { return e.Event == "open" }); n != 1 {
			t.Errorf("%s opened %d times, want once: the renewal must not end streams", l.name, n)
		}
	}
}

// httpsClient trusts the test's certificates.
func httpsClient(certs ...testcert.Cert) *http.Client {
	pool := testcert.Pool(certs...)
	return &http.Client{
		Timeout:   waitTimeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
	}
}

// servesCertificate does a new handshake and tells whether the hub
// presented want.
func servesCertificate(t *testing.T, hostPort string, want testcert.Cert) bool {
	t.Helper()
	conn, err := tls.Dial("tcp", hostPort, &tls.Config{RootCAs: testcert.Pool(want)})
	if err != nil {
		return false // still the other certificate: unknown authority
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Equal(want.Cert)
}

// publishOverTLS publishes one public update per id to bookTopic.
func publishOverTLS(t *testing.T, c *http.Client, endpoint string, ids ...string) {
	t.Helper()
	token := mint(t, []string{"*"}, nil)
	for _, id := range ids {
		form := url.Values{"topic": {bookTopic}, "id": {id}, "data": {"update " + id}}
		req, err := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			t.Fatalf("publish %s: %s over %s: %s", id, resp.Status, resp.Proto, body)
		}
	}
}
