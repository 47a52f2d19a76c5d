//go:build unix

package acme_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/spec-tests/internal/hubproc"
)

// The package is Unix-only, like the hub process harness it uses (the hub
// is stopped with signals).

const (
	// hubDomain is the name the hub gets a certificate for. autocert
	// refuses localhost and single-label names; the DNS stub resolves this
	// one to 127.0.0.1 for Pebble, and the test dials 127.0.0.1 itself.
	hubDomain = "hub.hermes.test"
	jwtSecret = "acme-tests secret, 0123456789abcdef0123456789abcdef"
	// issueTimeout bounds the first handshake, which waits while the hub
	// orders its certificate: a few seconds against Pebble, more under
	// -race on a loaded machine.
	issueTimeout = time.Minute
	// eventTimeout bounds one publish and the wait for its event.
	eventTimeout = 20 * time.Second
)

// hermesBin is the binary under test, built by TestMain.
var hermesBin string

// TestMain builds cmd/hermes once for the package; HERMES_BINARY names a
// binary to test instead.
func TestMain(m *testing.M) {
	os.Exit(hubproc.RunTests(m, &hermesBin))
}

// acmeSetup is what every test needs: the Pebble binaries, the DNS stub,
// Pebble's HTTPS certificate and the addresses Pebble will listen on.
type acmeSetup struct {
	bins     string
	dnsAddr  string
	tlsFiles pebbleTLS
	addrs    pebbleAddrs
}

func newACMESetup(t *testing.T) acmeSetup {
	t.Helper()
	bins := pebbleBinaries(t)
	return acmeSetup{
		bins:     bins,
		dnsAddr:  startDNS(t, bins),
		tlsFiles: makePebbleTLS(t, t.TempDir()),
		addrs:    reservePebbleAddrs(t),
	}
}

// hermes is one run of the hub with --acme-domains.
type hermes struct {
	proc *hubproc.Proc
	// tlsAddr and redirectAddr are where it listens: HTTPS, and the plain
	// HTTP port that redirects and answers HTTP-01.
	tlsAddr, redirectAddr string
}

// redirectRE finds the redirect listener's address in the hub's log; it
// is logged before the "listening on" line hubproc waits for.
var redirectRE = regexp.MustCompile(`redirect listening on http://([^\s"\\]+)"`)

// startHermes runs the hub against Pebble with cache as --acme-cache, on
// tlsAddr and redirectAddr (127.0.0.1:0 for free ports).
func startHermes(t *testing.T, s acmeSetup, cache, tlsAddr, redirectAddr string) *hermes {
	t.Helper()
	p := hubproc.Start(t, hermesBin, hubproc.Options{LogOnFailure: true}, "serve",
		"--addr", tlsAddr,
		"--http-redirect-addr", redirectAddr,
		"--transport", "memory://",
		"--jwt-key", jwtSecret,
		"--acme-domains", hubDomain,
		"--acme-ca", s.addrs.directory(),
		"--acme-ca-root", s.tlsFiles.caFile,
		"--acme-cache", cache,
		"--acme-email", "ops@hermes.test",
	)
	u, err := url.Parse(p.URL())
	if err != nil || u.Scheme != "https" {
		t.Fatalf("hub URL %q: want https://HOST:PORT (%v)", p.URL(), err)
	}
	m := redirectRE.FindStringSubmatch(p.Logs())
	if m == nil {
		t.Fatalf("the hub logged no redirect listener; log:\n%s", p.Logs())
	}
	return &hermes{proc: p, tlsAddr: u.Host, redirectAddr: m[1]}
}

// handshake connects to the hub's TLS port with hubDomain as SNI (a client
// that resolved the name) and returns the certificate chain it serves. The
// first handshake for a name waits while the hub orders the certificate.
func handshake(t *testing.T, h *hermes) []*x509.Certificate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), issueTimeout)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{
		ServerName: hubDomain,
		NextProtos: []string{"h2", "http/1.1"},
		MinVersion: tls.VersionTLS12,
		// The chain is checked by issuedByPebble, against Pebble's root,
		// so that a failure says what was served instead of "unknown
		// authority".
		InsecureSkipVerify: true,
	}}
	conn, err := d.DialContext(ctx, "tcp", h.tlsAddr)
	if err != nil {
		t.Fatalf("TLS handshake with %s (SNI %s): %v", h.tlsAddr, hubDomain, err)
	}
	defer conn.Close()
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(chain) == 0 {
		t.Fatal("the hub served no certificate")
	}
	return chain
}

// issuedByPebble checks that chain is a certificate for hubDomain alone
// that chains, through the intermediates served with it, to the root
// Pebble made at its start.
func issuedByPebble(t *testing.T, p *pebble, chain []*x509.Certificate) {
	t.Helper()
	leaf := chain[0]
	roots := x509.NewCertPool()
	roots.AddCert(p.certificate(t, "/roots/0"))
	intermediates := x509.NewCertPool()
	for _, c := range chain[1:] {
		intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: hubDomain, Roots: roots, Intermediates: intermediates}); err != nil {
		t.Fatalf("the certificate served for %s (subject %q, issuer %q) does not verify against Pebble's root: %v",
			hubDomain, leaf.Subject, leaf.Issuer, err)
	}
	if !slices.Equal(leaf.DNSNames, []string{hubDomain}) {
		t.Fatalf("certificate names %v, want [%s]", leaf.DNSNames, hubDomain)
	}
	// The hub sends the intermediate itself: clients do not fetch it.
	if inter := p.certificate(t, "/intermediates/0"); len(chain) < 2 || !chain[1].Equal(inter) {
		t.Fatalf("the hub served %d certificates; want the leaf followed by Pebble's intermediate %q", len(chain), inter.Subject)
	}
}

// hubClient talks HTTPS to the hub by its name, dialling 127.0.0.1, and
// counts the connections it opens.
type hubClient struct {
	base  string // https://hub.hermes.test:PORT
	http  *http.Client
	dials atomic.Int32
}

// newHubClient trusts only Pebble's root: the ordinary certificate check
// of a client is part of what is tested.
func newHubClient(t *testing.T, p *pebble, h *hermes) *hubClient {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(p.certificate(t, "/roots/0"))
	c := &hubClient{base: "https://" + net.JoinHostPort(hubDomain, strconv.Itoa(portOf(t, h.tlsAddr)))}
	c.http = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			c.dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, network, h.tlsAddr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: issueTimeout,
	}}
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

// pubSubOverOneH2Connection subscribes to a topic, publishes an update to
// it and reads it from the stream, and checks that both requests went over
// HTTP/2 on one TLS connection that presented leaf.
func pubSubOverOneH2Connection(t *testing.T, c *hubClient, leaf *x509.Certificate, id string) {
	t.Helper()
	topic := "https://" + hubDomain + "/acme-test/" + id
	endpoint := c.base + "/.well-known/mercure"
	dialsBefore := c.dials.Load()

	subTok, err := auth.Mint(auth.MintOptions{Key: []byte(jwtSecret), Subscribe: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	pubTok, err := auth.Mint(auth.MintOptions{Key: []byte(jwtSecret), Publish: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Turns a hang anywhere below into a failure.
	timer := time.AfterFunc(eventTimeout, cancel)
	defer timer.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?topic="+url.QueryEscape(topic), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+subTok)
	// History from the start: the update is delivered whether it is
	// stored before or after the subscription is in place.
	req.Header.Set("Last-Event-ID", "earliest")
	sub, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("subscribe over HTTPS: %v", err)
	}
	defer sub.Body.Close()
	if sub.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: status %d, want 200", sub.StatusCode)
	}
	checkH2(t, "subscribe", sub, leaf)

	form := url.Values{"topic": {topic}, "id": {id}, "data": {"over " + hubDomain}}
	preq, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	preq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	preq.Header.Set("Authorization", "Bearer "+pubTok)
	pub, err := c.http.Do(preq)
	if err != nil {
		t.Fatalf("publish over HTTPS: %v", err)
	}
	body, err := io.ReadAll(io.LimitReader(pub.Body, 4096))
	pub.Body.Close()
	if err != nil {
		t.Fatalf("publish: reading the answer: %v", err)
	}
	if pub.StatusCode != http.StatusOK || string(body) != id {
		t.Fatalf("publish: status %d, body %q; want 200 and %q", pub.StatusCode, body, id)
	}
	checkH2(t, "publish", pub, leaf)

	gotID, gotData, err := readEvent(sub.Body, id)
	if err != nil {
		t.Fatalf("reading update %s from the stream: %v", id, err)
	}
	if gotID != id || gotData != "over "+hubDomain {
		t.Fatalf("stream delivered id %q data %q, want id %q data %q", gotID, gotData, id, "over "+hubDomain)
	}
	if n := c.dials.Load() - dialsBefore; n != 1 {
		t.Fatalf("subscribe and publish opened %d connections, want 1 (HTTP/2 multiplexes them)", n)
	}
}

// checkH2 checks that resp came over HTTP/2, negotiated by ALPN, on a
// connection that presented leaf.
func checkH2(t *testing.T, what string, resp *http.Response, leaf *x509.Certificate) {
	t.Helper()
	if resp.ProtoMajor != 2 || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "h2" {
		alpn := ""
		if resp.TLS != nil {
			alpn = resp.TLS.NegotiatedProtocol
		}
		t.Fatalf("%s went over %s (ALPN %q), want HTTP/2 over TLS", what, resp.Proto, alpn)
	}
	if peer := resp.TLS.PeerCertificates; len(peer) == 0 || !peer[0].Equal(leaf) {
		t.Fatalf("%s: the connection presented another certificate than the one issued", what)
	}
}

// readEvent reads the event stream until the event with id want and
// returns its id and data.
func readEvent(body io.Reader, want string) (id, data string, err error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var lines []string
	for sc.Scan() {
		line := sc.Text()
		if line != "" {
			if field, value, ok := strings.Cut(line, ":"); ok && field != "" {
				value = strings.TrimPrefix(value, " ")
				switch field {
				case "id":
					id = value
				case "data":
					lines = append(lines, value)
				}
			}
			continue
		}
		if id == want {
			return id, strings.Join(lines, "\n"), nil
		}
		id, lines = "", nil
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	return "", "", io.ErrUnexpectedEOF
}

// TestACME_TLSALPN01IssuesAndRestartServesFromCache gets a certificate
// from Pebble by TLS-ALPN-01, uses it for a publish and a subscription
// over HTTP/2, and restarts the hub with the same --acme-cache: the same
// certificate is served and Pebble gets no new order.
func TestACME_TLSALPN01IssuesAndRestartServesFromCache(t *testing.T) {
	t.Parallel()
	s := newACMESetup(t)
	cache := filepath.Join(t.TempDir(), "acme-cache")
	h := startHermes(t, s, cache, "127.0.0.1:0", "127.0.0.1:0")
	// HTTP-01 can only fail: TLS-ALPN-01 on the hub's TLS port is the
	// one way to the certificate.
	noHTTP := newRefuser(t)
	p := startPebble(t, s.bins, s.tlsFiles, s.addrs, s.dnsAddr, noHTTP.port(), portOf(t, h.tlsAddr))

	chain := handshake(t, h)
	issuedByPebble(t, p, chain)
	leaf := chain[0]
	if issued := p.issued(t); len(issued) != 1 || issued[0].Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("Pebble issued serials %v; want exactly the served one, %x", issued, leaf.SerialNumber)
	}
	if n := noHTTP.conns.Load(); n != 0 {
		t.Fatalf("Pebble tried HTTP-01 (%d connections), want the TLS-ALPN-01 challenge only", n)
	}
	if fetches := p.http01Fetches(); len(fetches) != 0 {
		t.Fatalf("Pebble fetched %v, want no HTTP-01 validation", fetches)
	}
	orders := p.orders()
	if orders != 1 {
		t.Fatalf("Pebble got %d orders, want 1", orders)
	}

	c := newHubClient(t, p, h)
	pubSubOverOneH2Connection(t, c, leaf, "first-run")

	// Restart on the same ports, where Pebble could validate a new order:
	// only the cache can make it unnecessary.
	c.http.CloseIdleConnections()
	h.proc.Stop(t)
	h2 := startHermes(t, s, cache, h.tlsAddr, h.redirectAddr)
	chain2 := handshake(t, h2)
	if !chain2[0].Equal(leaf) {
		t.Fatalf("after a restart with the same --acme-cache the hub served serial %x, want the cached %x",
			chain2[0].SerialNumber, leaf.SerialNumber)
	}
	issuedByPebble(t, p, chain2)
	c2 := newHubClient(t, p, h2)
	pubSubOverOneH2Connection(t, c2, leaf, "after-restart")
	if n := p.orders(); n != orders {
		t.Fatalf("Pebble got %d orders after the restart, want still %d: the cached certificate needs none", n, orders)
	}
	if issued := p.issued(t); len(issued) != 1 {
		t.Fatalf("Pebble issued %d certificates, want 1", len(issued))
	}
}

// TestACME_HTTP01OnRedirectPortWhenTLSALPN01Fails makes TLS-ALPN-01
// impossible: the hub falls back to HTTP-01, answered on its redirect
// port, and gets its certificate.
func TestACME_HTTP01OnRedirectPortWhenTLSALPN01Fails(t *testing.T) {
	t.Parallel()
	s := newACMESetup(t)
	h := startHermes(t, s, filepath.Join(t.TempDir(), "acme-cache"), "127.0.0.1:0", "127.0.0.1:0")
	noTLS := newRefuser(t)
	p := startPebble(t, s.bins, s.tlsFiles, s.addrs, s.dnsAddr, portOf(t, h.redirectAddr), noTLS.port())

	chain := handshake(t, h)
	issuedByPebble(t, p, chain)
	if issued := p.issued(t); len(issued) != 1 || issued[0].Cmp(chain[0].SerialNumber) != 0 {
		t.Fatalf("Pebble issued serials %v; want exactly the served one, %x", issued, chain[0].SerialNumber)
	}
	// The hub tried TLS-ALPN-01 first (the refuser saw Pebble), then
	// HTTP-01 on a new order.
	if noTLS.conns.Load() == 0 {
		t.Fatal("Pebble never tried TLS-ALPN-01; the fallback to HTTP-01 is not what was tested")
	}
	wantPrefix := fmt.Sprintf("http://%s:%d/.well-known/acme-challenge/", hubDomain, portOf(t, h.redirectAddr))
	fetches := p.http01Fetches()
	if len(fetches) == 0 || !strings.HasPrefix(fetches[0], wantPrefix) {
		t.Fatalf("Pebble's HTTP-01 fetches %v, want %s…", fetches, wantPrefix)
	}
	if n := p.orders(); n != 2 {
		t.Fatalf("Pebble got %d orders, want 2 (TLS-ALPN-01 failed, HTTP-01 succeeded)", n)
	}
	c := newHubClient(t, p, h)
	pubSubOverOneH2Connection(t, c, chain[0], "http-01")
}
