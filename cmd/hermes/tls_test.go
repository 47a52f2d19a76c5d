package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/spec-tests/testcert"
)

var httpsListeningRE = regexp.MustCompile(`msg="listening on (https://[^\s"\\]+)"`)

// startTLSServe runs serve with TLS flags and waits for the https line.
func startTLSServe(t *testing.T, args ...string) (s *server, base string) {
	t.Helper()
	s = startServe(t, nil, append([]string{
		"--addr", "127.0.0.1:0", "--transport", "memory://", "--jwt-key", "tls-test-secret", "--anonymous",
	}, args...)...)
	m := httpsListeningRE.FindStringSubmatch(s.Stderr.String())
	if m == nil {
		t.Fatalf("no https listening line; stderr:\n%s", s.Stderr.String())
	}
	return s, m[1]
}

// servedSerial does a fresh TLS handshake and returns the serial number
// of the certificate the hub presents, and the protocol ALPN chose.
func servedSerial(t *testing.T, hostPort string, alpn ...string) (*big.Int, string) {
	t.Helper()
	conn, err := tls.Dial("tcp", hostPort, &tls.Config{InsecureSkipVerify: true, NextProtos: alpn}) // the certificate is what is looked at
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", hostPort, err)
	}
	defer conn.Close()
	st := conn.ConnectionState()
	return st.PeerCertificates[0].SerialNumber, st.NegotiatedProtocol
}

// trustingClient speaks HTTP/2 (or only HTTP/1.1) and trusts the given
// self-signed certificates.
func trustingClient(h2 bool, certs ...testcert.Cert) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testcert.Pool(certs...)}, ForceAttemptHTTP2: h2}
	var p http.Protocols
	p.SetHTTP1(!h2)
	p.SetHTTP2(h2)
	tr.Protocols = &p
	return &http.Client{Transport: tr}
}

// openStream subscribes and returns the response and a channel of the
// stream's lines.
func openStream(t *testing.T, c *http.Client, target string) (*http.Response, <-chan string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %s", resp.Status)
	}
	lines := make(chan string, 256)
	go func() {
		defer close(lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return resp, lines
}

func waitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timer := time.NewTimer(20 * time.Second)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended before %q", want)
			}
			if l == want {
				return
			}
		case <-timer.C:
			t.Fatalf("no line %q within 20s", want)
		}
	}
}

func publishTLS(t *testing.T, c *http.Client, hubURL, topic, data string) {
	t.Helper()
	tok := mintForTest(t, "tls-test-secret", "--publish", "*")
	form := url.Values{"topic": {topic}, "data": {data}}
	req, err := http.NewRequest(http.MethodPost, hubURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish: %s %s", resp.Status, body)
	}
}

// TestTLSServesHTTP2AndReloadsChangedFiles: the hub speaks HTTP/2 and
// HTTP/1.1 over TLS by ALPN; when the certificate files are replaced, new
// handshakes get the new certificate within the polling interval, while a
// stream opened before keeps its connection and receives updates.
func TestTLSServesHTTP2AndReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first, second := testcert.New(t), testcert.New(t)
	first.Install(t, certPath, keyPath)
	s, base := startTLSServe(t, "--tls-cert", certPath, "--tls-key", keyPath, "--tls-reload-interval", "20ms")
	hostPort := strings.TrimPrefix(base, "https://")
	hubURL := base + "/.well-known/mercure"

	if serial, proto := servedSerial(t, hostPort, "h2", "http/1.1"); serial.Cmp(first.Cert.SerialNumber) != 0 || proto != "h2" {
		t.Fatalf("served serial %v over %q, want the first certificate's %v over h2", serial, proto, first.Cert.SerialNumber)
	}
	h2 := trustingClient(true, first, second)
	resp, lines := openStream(t, h2, hubURL+"?topic=https://example.com/a")
	if resp.ProtoMajor != 2 {
		t.Fatalf("stream over %s, want HTTP/2", resp.Proto)
	}
	h1 := trustingClient(false, first, second)
	resp1, lines1 := openStream(t, h1, hubURL+"?topic=https://example.com/a")
	if resp1.ProtoMajor != 1 {
		t.Fatalf("HTTP/1.1-only client got %s", resp1.Proto)
	}
	if !resp.TLS.PeerCertificates[0].Equal(first.Cert) {
		t.Fatal("stream's connection does not present the first certificate")
	}

	second.Install(t, certPath, keyPath)
	waitFor(t, 20*time.Second, "the second certificate on a new handshake", func() bool {
		serial, _ := servedSerial(t, hostPort)
		return serial.Cmp(second.Cert.SerialNumber) == 0
	})

	// Both streams opened before the reload still receive updates.
	publishTLS(t, trustingClient(true, second), hubURL, "https://example.com/a", "after reload")
	waitLine(t, lines, "data: after reload")
	waitLine(t, lines1, "data: after reload")
	if !strings.Contains(s.Stderr.String(), "TLS certificate loaded") {
		t.Errorf("no reload logged:\n%s", s.Stderr.String())
	}
}

var redirectListeningRE = regexp.MustCompile(`msg="redirect listening on (http://[^\s"\\]+)"`)

// TestTLSRedirectPort: the plain-HTTP port sends every request to the
// same path on the HTTPS port with 308, keeping method and body.
func TestTLSRedirectPort(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	testcert.New(t).Install(t, certPath, keyPath)
	s, base := startTLSServe(t, "--tls-cert", certPath, "--tls-key", keyPath, "--http-redirect-addr", "127.0.0.1:0")
	m := redirectListeningRE.FindStringSubmatch(s.Stderr.String())
	if m == nil {
		t.Fatalf("no redirect line:\n%s", s.Stderr.String())
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(base, "https://"))
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequest(method, m[1]+"/.well-known/mercure?topic=a%2Fb", nil)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := "https://127.0.0.1:" + port + "/.well-known/mercure?topic=a%2Fb"
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
			t.Errorf("%s: %s Location %q, want 308 to %q", method, resp.Status, resp.Header.Get("Location"), want)
		}
	}
}

// TestACMEListenersWithoutCA: with --acme-domains the TLS listener offers
// the acme-tls/1 protocol (TLS-ALPN-01) and the redirect port answers the
// HTTP-01 path itself (an unknown token is 404, not a redirect), before
// any certificate exists. No CA is contacted: autocert asks for a
// certificate on the first handshake for a listed name only.
func TestACMEListenersWithoutCA(t *testing.T) {
	cache := t.TempDir()
	s, base := startTLSServe(t, "--acme-domains", "hub.example.com", "--acme-cache", cache,
		"--acme-ca", "https://127.0.0.1:1/directory", "--http-redirect-addr", "127.0.0.1:0")
	if !strings.Contains(s.Stderr.String(), "tls=acme") {
		t.Errorf("the listening line does not say tls=acme:\n%s", s.Stderr.String())
	}
	m := redirectListeningRE.FindStringSubmatch(s.Stderr.String())
	if m == nil {
		t.Fatalf("no redirect line:\n%s", s.Stderr.String())
	}
	// A CA asks on port 80, so the Host header usually carries no port;
	// with one (":80" spelled out, or a test CA validating on another
	// port) the name is still the one checked against --acme-domains.
	for host, want := range map[string]int{
		"hub.example.com":         http.StatusNotFound,
		"hub.example.com:80":      http.StatusNotFound,
		"hub.example.com:8080":    http.StatusNotFound,
		"other.example.com":       http.StatusForbidden,
		"other.example.com:80":    http.StatusForbidden,
		"hub.example.com.evil:80": http.StatusForbidden,
	} {
		req, _ := http.NewRequest(http.MethodGet, m[1]+"/.well-known/acme-challenge/unknown-token", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("HTTP-01 path for an unknown token on %s: %s, want %d from the challenge handler", host, resp.Status, want)
		}
	}
	// A name that is not listed is refused by the host policy at the
	// handshake, without a CA round trip.
	conn, err := tls.Dial("tcp", strings.TrimPrefix(base, "https://"), &tls.Config{ServerName: "other.example.com", InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		t.Fatal("handshake for an unlisted name succeeded")
	}
}

// TestTLSFlags checks the TLS flags and their environment variables.
func TestTLSFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // substring of the error; "" : accepted
	}{
		{"cert without key", []string{"--tls-cert", "c.pem"}, nil, "--tls-key: missing"},
		{"key without cert", []string{"--tls-key", "k.pem"}, nil, "--tls-cert: missing"},
		{"both files", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, nil, ""},
		{"files from env", nil, map[string]string{"HERMES_TLS_CERT": "c.pem", "HERMES_TLS_KEY": "k.pem", "HERMES_TLS_RELOAD_INTERVAL": "1m"}, ""},
		{"key from env only", nil, map[string]string{"HERMES_TLS_KEY": "k.pem"}, "--tls-cert: missing"},
		{"negative interval", []string{"--tls-reload-interval", "-1s"}, nil, "--tls-reload-interval: invalid duration"},
		{"acme and files", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--acme-domains", "hub.example.com"}, nil, "--acme-domains: cannot be combined"},
		{"acme wildcard", []string{"--acme-domains", "*.example.com"}, nil, "wildcard"},
		{"acme single label", []string{"--acme-domains", "localhost"}, nil, "invalid domain"},
		{"acme ip", []string{"--acme-domains", "127.0.0.1"}, nil, "IP address"},
		{"acme bad char", []string{"--acme-domains", "hub_1.example.com"}, nil, "letters, digits and hyphens"},
		{"acme email alone", []string{"--acme-email", "ops@example.com"}, nil, "--acme-email: needs --acme-domains"},
		{"acme ca from env alone", nil, map[string]string{"HERMES_ACME_CA": "https://ca.example/dir"}, "--acme-ca (from HERMES_ACME_CA): needs --acme-domains"},
		{"acme bad ca", []string{"--acme-domains", "hub.example.com", "--acme-ca", "ftp://x"}, nil, "--acme-ca: invalid URL"},
		{"acme bad email", []string{"--acme-domains", "hub.example.com", "--acme-email", "nobody"}, nil, "--acme-email: invalid address"},
		{"acme from env", nil, map[string]string{"HERMES_ACME_DOMAINS": "hub.example.com, www.example.com", "HERMES_ACME_CACHE": "/tmp/x", "HERMES_ACME_EMAIL": "ops@example.com", "HERMES_HTTP_REDIRECT_ADDR": ":80"}, ""},
		{"redirect without tls", []string{"--http-redirect-addr", ":8080"}, nil, "--http-redirect-addr: needs --tls-cert"},
		{"redirect bad address", []string{"--tls-cert", "c", "--tls-key", "k", "--http-redirect-addr", "8080"}, nil, "--http-redirect-addr: invalid address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HERMES_JWT_KEY": "secret"}
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, err := parseServe(tc.args, mapEnv(env))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !cfg.TLS.enabled() {
					t.Fatal("TLS not enabled")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}

	cfg, err := parseServe(nil, mapEnv(map[string]string{"HERMES_JWT_KEY": "s",
		"HERMES_ACME_DOMAINS": "Hub.Example.com,www.example.com", "HERMES_HTTP_REDIRECT_ADDR": ":80"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.TLS.ACMEDomains, ","); got != "hub.example.com,www.example.com" {
		t.Errorf("domains %q", got)
	}
	if cfg.TLS.ACMECA != defaultACMECA || cfg.TLS.RedirectAddr != ":80" || cfg.TLS.ReloadInterval != 10*time.Second {
		t.Errorf("defaults: %+v", cfg.TLS)
	}
	// Every ACME flag from its variable (TestServeEnvFillsEveryFlag
	// covers the others: these exclude --tls-cert).
	cfg, err = parseServe(nil, mapEnv(map[string]string{"HERMES_JWT_KEY": "s",
		"HERMES_ACME_DOMAINS": "hub.example.com", "HERMES_ACME_CACHE": "/var/acme", "HERMES_ACME_CA": "https://ca.example/dir",
		"HERMES_ACME_CA_ROOT": "/etc/ca.pem", "HERMES_ACME_EMAIL": "ops@example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := (tlsSettings{ACMEDomains: []string{"hub.example.com"}, ACMECache: "/var/acme", ACMECA: "https://ca.example/dir",
		ACMECARoot: "/etc/ca.pem", ACMEEmail: "ops@example.com", ReloadInterval: 10 * time.Second}); !reflect.DeepEqual(cfg.TLS, want) {
		t.Errorf("ACME settings from the environment: %+v, want %+v", cfg.TLS, want)
	}
}

// TestTLSStartFailsOnBadFiles: a missing or mismatched pair stops the
// start with a message naming the flag.
func TestTLSStartFailsOnBadFiles(t *testing.T) {
	dir := t.TempDir()
	a, b := testcert.New(t), testcert.New(t)
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certPath, string(a.CertPEM))
	writeFile(t, keyPath, string(b.KeyPEM))
	code, _, stderr := runApp(t, nil, "serve", "--addr", "127.0.0.1:0", "--jwt-key", "s", "--transport", "memory://",
		"--tls-cert", certPath, "--tls-key", keyPath)
	if code != exitFailure || !strings.Contains(stderr, "--tls-cert") || !strings.Contains(stderr, "private key does not match") {
		t.Errorf("mismatched pair: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runApp(t, nil, "serve", "--addr", "127.0.0.1:0", "--jwt-key", "s", "--transport", "memory://",
		"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", keyPath)
	if code != exitFailure || !strings.Contains(stderr, "--tls-cert") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}
