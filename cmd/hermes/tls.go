package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// defaultACMECA is Let's Encrypt's production directory.
const defaultACMECA = autocert.DefaultACMEDirectory

// maxPEMFileBytes bounds what is read from --tls-cert, --tls-key and
// --acme-ca-root: a certificate chain is a few KiB; a larger file is a
// wrong path, not a certificate.
const maxPEMFileBytes = 1 << 20

// tlsSettings are the TLS and ACME settings of `serve`, converted and
// checked. The zero value serves plain HTTP (and h2c).
type tlsSettings struct {
	CertFile, KeyFile string
	// ReloadInterval is how often the certificate files are compared with
	// what is served; 0: only on SIGHUP.
	ReloadInterval time.Duration
	ACMEDomains    []string
	ACMECache      string // "" : the user's cache directory
	ACMECA         string
	ACMECARoot     string
	ACMEEmail      string
	// RedirectAddr is a plain-HTTP listener that redirects to HTTPS and
	// answers ACME HTTP-01 challenges; "" : none.
	RedirectAddr string
}

// enabled tells whether the main listener speaks TLS.
func (s tlsSettings) enabled() bool { return s.CertFile != "" || len(s.ACMEDomains) > 0 }

// convertTLS checks the TLS settings; every mistake goes to fail, which
// names the flag.
func convertTLS(raw map[string]rawValue, fail func(name, format string, a ...any)) tlsSettings {
	s := tlsSettings{
		CertFile:     raw["tls-cert"].value,
		KeyFile:      raw["tls-key"].value,
		ACMECache:    raw["acme-cache"].value,
		ACMECA:       raw["acme-ca"].value,
		ACMECARoot:   raw["acme-ca-root"].value,
		ACMEEmail:    raw["acme-email"].value,
		RedirectAddr: raw["http-redirect-addr"].value,
	}
	given := func(name string) bool { return raw[name].source != "" && raw[name].value != "" }

	switch {
	case s.CertFile != "" && s.KeyFile == "":
		fail("tls-key", "missing: --tls-cert needs the private key of its certificate")
	case s.KeyFile != "" && s.CertFile == "":
		fail("tls-cert", "missing: --tls-key needs the certificate it belongs to")
	}
	d, err := time.ParseDuration(raw["tls-reload-interval"].value)
	if err != nil || d < 0 {
		fail("tls-reload-interval", "invalid duration %q (want a non-negative duration such as 10s; 0: only on SIGHUP)", raw["tls-reload-interval"].value)
	}
	s.ReloadInterval = d

	domains := splitList(raw["acme-domains"].value)
	if len(domains) > maxListEntries {
		fail("acme-domains", "more than %d domains", maxListEntries)
		domains = nil
	}
	for _, name := range domains {
		if err := checkACMEDomain(name); err != nil {
			fail("acme-domains", "%v", err)
		}
		s.ACMEDomains = append(s.ACMEDomains, strings.ToLower(name))
	}
	if len(s.ACMEDomains) > 0 && s.CertFile != "" {
		fail("acme-domains", "cannot be combined with --tls-cert: certificates come either from files or from the ACME CA")
	}
	if len(s.ACMEDomains) == 0 {
		for _, name := range []string{"acme-cache", "acme-ca", "acme-ca-root", "acme-email"} {
			if given(name) {
				fail(name, "needs --acme-domains")
			}
		}
	}
	if !isHTTPURL(s.ACMECA) {
		fail("acme-ca", "invalid URL %q (want the https:// URL of an ACME directory)", s.ACMECA)
	}
	if s.ACMEEmail != "" {
		at := strings.IndexByte(s.ACMEEmail, '@')
		if at <= 0 || at == len(s.ACMEEmail)-1 || len(s.ACMEEmail) > 254 || strings.ContainsFunc(s.ACMEEmail, func(r rune) bool {
			return r <= ' ' || r == 0x7f || r == ',' || r == '<' || r == '>'
		}) {
			fail("acme-email", "invalid address %q (want name@example.com)", s.ACMEEmail)
		}
	}
	if s.RedirectAddr != "" {
		if _, _, err := net.SplitHostPort(s.RedirectAddr); err != nil {
			fail("http-redirect-addr", "invalid address %q (want HOST:PORT)", s.RedirectAddr)
		} else if !s.enabled() {
			fail("http-redirect-addr", "needs --tls-cert and --tls-key, or --acme-domains: there is no HTTPS to redirect to")
		}
	}
	return s
}

// checkACMEDomain accepts a host name a public CA can issue for through
// HTTP-01 or TLS-ALPN-01: ASCII (IDNs in their xn-- form), at least two
// labels (autocert refuses single-label names), no wildcard (those need
// DNS-01) and no IP address.
func checkACMEDomain(name string) error {
	if strings.Contains(name, "*") {
		return fmt.Errorf("wildcard %q is not supported (it needs the DNS-01 challenge; list each name)", name)
	}
	if net.ParseIP(name) != nil {
		return fmt.Errorf("%q is an IP address; --acme-domains takes host names", name)
	}
	if len(name) > 253 || !strings.Contains(name, ".") || strings.HasSuffix(name, ".") {
		return fmt.Errorf("invalid domain %q (want a host name such as hub.example.com)", name)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("invalid domain %q (want a host name such as hub.example.com)", name)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return fmt.Errorf("invalid domain %q (letters, digits and hyphens only; write an IDN in its xn-- form)", name)
			}
		}
	}
	return nil
}

// tlsServing is what serve needs to speak TLS: the server's tls.Config,
// and for ACME the HTTP-01 handler to mount on the redirect listener.
type tlsServing struct {
	config *tls.Config
	// files is set for --tls-cert/--tls-key: serve watches them.
	files *certFiles
	// acme is set for --acme-domains.
	acme *autocert.Manager
}

// newTLSServing loads the certificate files or prepares the ACME manager.
// Certificates are chosen per handshake (GetCertificate), so a reload or
// a renewal only changes what new connections get: open connections, and
// the streams multiplexed on them, are not touched.
func newTLSServing(s tlsSettings, logger *slog.Logger) (*tlsServing, error) {
	ts := &tlsServing{}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		// h2 first: browsers then multiplex every stream of an origin on
		// one connection instead of hitting the HTTP/1.1 limit of six.
		NextProtos: []string{"h2", "http/1.1"},
	}
	switch {
	case s.CertFile != "":
		f, err := loadCertFiles(s.CertFile, s.KeyFile, logger)
		if err != nil {
			return nil, err
		}
		ts.files = f
		cfg.GetCertificate = f.getCertificate
	case len(s.ACMEDomains) > 0:
		m, err := newACMEManager(s)
		if err != nil {
			return nil, err
		}
		ts.acme = m
		cfg.GetCertificate = m.GetCertificate
		// TLS-ALPN-01 challenges arrive as handshakes offering this
		// protocol; autocert answers them in GetCertificate.
		cfg.NextProtos = append(cfg.NextProtos, acme.ALPNProto)
	default:
		return nil, errors.New("TLS is not configured")
	}
	ts.config = cfg
	return ts, nil
}

// newACMEManager configures autocert for the listed domains.
func newACMEManager(s tlsSettings) (*autocert.Manager, error) {
	cache := s.ACMECache
	if cache == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, usageErrorf("--acme-cache: no default cache directory (%v); set one", err)
		}
		cache = filepath.Join(dir, "hermes", "acme")
	}
	client := &acme.Client{DirectoryURL: s.ACMECA, UserAgent: "hermes"}
	if s.ACMECARoot != "" {
		pemBytes, err := readBounded(s.ACMECARoot)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-root: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("--acme-ca-root: no PEM certificate in %s", s.ACMECARoot)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		client.HTTPClient = &http.Client{Transport: tr, Timeout: time.Minute}
	}
	return &autocert.Manager{
		// Accepting the CA's terms is what asking for its certificates
		// means; the README says so next to the flag.
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(cache),
		HostPolicy: autocert.HostWhitelist(s.ACMEDomains...),
		Email:      s.ACMEEmail,
		Client:     client,
	}, nil
}

// redirectHandler answers the plain-HTTP port: every request is sent to
// the same host and path on the HTTPS port. 308 keeps the method and the
// body, so a publisher pointed at http:// still reaches the hub.
func redirectHandler(httpsPort int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" || strings.ContainsAny(host, "/\\@?#") {
			http.Error(w, "HTTPS only: a Host header is needed to redirect", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]" // an IPv6 literal
		}
		if httpsPort != 443 {
			host += ":" + strconv.Itoa(httpsPort)
		}
		target := "https://" + host + r.URL.RequestURI()
		http.Redirect(w, r, target, http.StatusPermanentRedirect)
	})
}

// challengeHostWithoutPort hands HTTP-01 challenge requests to autocert
// with the port taken off the Host header. autocert checks the Host
// against --acme-domains as it is, so a valid "hub.example.com:80", or a
// CA that validates on another port (a test CA such as Pebble), would be
// refused with 403. Other requests keep their Host for the redirect.
func challengeHostWithoutPort(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			if host, _, err := net.SplitHostPort(r.Host); err == nil {
				r = r.WithContext(r.Context()) // a shallow copy to change
				r.Host = host
			}
		}
		next.ServeHTTP(w, r)
	})
}

// certFiles serves the certificate of --tls-cert/--tls-key and reloads it
// when the files change: a renewal by certbot or cert-manager needs no
// restart.
type certFiles struct {
	certPath, keyPath string
	logger            *slog.Logger

	current atomic.Pointer[tls.Certificate]

	mu sync.Mutex // serialises reloads; guards the fields below
	// certPEM and keyPEM are the contents last loaded; a reload that
	// reads the same bytes does nothing.
	certPEM, keyPEM []byte
	// failedCert and failedKey are the contents of the last failed
	// attempt, so that a broken pair is reported once, not every poll.
	failedCert, failedKey []byte
}

// loadCertFiles reads and checks the pair; failing here stops the start.
func loadCertFiles(certPath, keyPath string, logger *slog.Logger) (*certFiles, error) {
	f := &certFiles{certPath: certPath, keyPath: keyPath, logger: logger}
	if _, err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *certFiles) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return f.current.Load(), nil
}

// reload reads both files and, when they differ from what is served,
// swaps the certificate in. On any error the served certificate stays.
func (f *certFiles) reload() (changed bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	certPEM, err := readBounded(f.certPath)
	if err != nil {
		return false, fmt.Errorf("--tls-cert: %w", err)
	}
	keyPEM, err := readBounded(f.keyPath)
	if err != nil {
		return false, fmt.Errorf("--tls-key: %w", err)
	}
	if bytes.Equal(certPEM, f.certPEM) && bytes.Equal(keyPEM, f.keyPEM) {
		return false, nil
	}
	if bytes.Equal(certPEM, f.failedCert) && bytes.Equal(keyPEM, f.failedKey) {
		// Still the pair that failed; it was reported then.
		return false, nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		f.failedCert, f.failedKey = certPEM, keyPEM
		return false, fmt.Errorf("--tls-cert %s and --tls-key %s: %w", f.certPath, f.keyPath, err)
	}
	f.certPEM, f.keyPEM = certPEM, keyPEM
	f.failedCert, f.failedKey = nil, nil
	f.current.Store(&cert)
	if leaf := cert.Leaf; leaf != nil {
		f.logger.Info("TLS certificate loaded", "file", f.certPath,
			"subject", leaf.Subject.String(), "dns_names", leaf.DNSNames,
			"not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
		if time.Now().After(leaf.NotAfter) {
			f.logger.Warn("TLS certificate has expired", "file", f.certPath, "not_after", leaf.NotAfter)
		}
	}
	return true, nil
}

// watch reloads on every signal from hup and, when interval > 0, on each
// tick, until ctx ends. Failures are logged; the hub keeps serving the
// certificate it has.
func (f *certFiles) watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-hup:
			f.logger.Info("SIGHUP: reloading the TLS certificate")
		}
		if _, err := f.reload(); err != nil {
			f.logger.Error("TLS certificate not reloaded; still serving the previous one", "err", err)
		}
	}
}

// readBounded reads a small file whole, refusing one over
// maxPEMFileBytes.
func readBounded(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxPEMFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxPEMFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes; not a PEM file", path, maxPEMFileBytes)
	}
	return b, nil
}

// tlsProtocols enables HTTP/1.1 and HTTP/2 over TLS, chosen by ALPN.
func tlsProtocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetHTTP2(true)
	return &p
}

// describe names the certificate source for the start-up log line.
func (ts *tlsServing) describe() string {
	switch {
	case ts == nil:
		return "off"
	case ts.files != nil:
		return "files"
	default:
		return "acme"
	}
}

// start runs what serves TLS besides the main listener: the watcher of
// the certificate files (ticks and SIGHUP) and the plain-HTTP redirect
// listener, when redirectLn is set. The returned function stops both.
func (ts *tlsServing) start(ctx context.Context, s tlsSettings, redirectLn net.Listener, httpsAddr net.Addr, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	hup := make(chan os.Signal, 1)
	if ts.files != nil {
		notifyHangup(hup)
		wg.Go(func() { ts.files.watch(ctx, s.ReloadInterval, hup) })
	}
	var redirect *http.Server
	if redirectLn != nil {
		port := 443
		if tcp, ok := httpsAddr.(*net.TCPAddr); ok {
			port = tcp.Port
		}
		var h http.Handler = redirectHandler(port)
		if ts.acme != nil {
			// Challenge paths are answered, everything else redirected.
			h = challengeHostWithoutPort(ts.acme.HTTPHandler(h))
		}
		redirect = &http.Server{
			Handler:           h,
			ReadHeaderTimeout: readHeaderTimeout,
			IdleTimeout:       idleTimeout,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
		wg.Go(func() {
			if err := redirect.Serve(redirectLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Warn("redirect listener stopped", "err", err)
			}
		})
		logger.Info("redirect listening on http://"+displayHostPort(s.RedirectAddr, redirectLn.Addr()), "to_port", port, "acme_http01", ts.acme != nil)
	}
	return func() {
		stopHangup(hup)
		cancel()
		if redirect != nil {
			_ = redirect.Close()
		}
		wg.Wait()
	}
}
