package clients_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned is a certificate for 127.0.0.1 made by the test.
type selfSigned struct {
	cert            *x509.Certificate
	certPEM, keyPEM []byte
}

func newSelfSigned(t *testing.T) selfSigned {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "hermes client tests"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return selfSigned{
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
}

// spki is the hash Chromium's --ignore-certificate-errors-spki-list
// takes: base64 of the SHA-256 of the SubjectPublicKeyInfo.
func (c selfSigned) spki() string {
	sum := sha256.Sum256(c.cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// install renames new files over the hub's, as renewal tools do.
func (c selfSigned) install(t *testing.T, certPath, keyPath string) {
	t.Helper()
	for path, data := range map[string][]byte{certPath: c.certPEM, keyPath: c.keyPEM} {
		if err := os.WriteFile(path+".new", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".new", path); err != nil {
			t.Fatal(err)
		}
	}
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
	first, second := newSelfSigned(t), newSelfSigned(t)
	first.install(t, certPath, keyPath)

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
	b := startBrowser(t, "--ignore-certificate-errors-spki-list="+first.spki()+","+second.spki())
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
	second.install(t, certPath, keyPath)
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
func httpsClient(certs ...selfSigned) *http.Client {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c.cert)
	}
	return &http.Client{
		Timeout:   waitTimeout,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true},
	}
}

// servesCertificate does a new handshake and tells whether the hub
// presented want.
func servesCertificate(t *testing.T, hostPort string, want selfSigned) bool {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(want.cert)
	conn, err := tls.Dial("tcp", hostPort, &tls.Config{RootCAs: pool})
	if err != nil {
		return false // still the other certificate: unknown authority
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Equal(want.cert)
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
