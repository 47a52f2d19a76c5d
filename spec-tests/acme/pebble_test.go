//go:build unix

package acme_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/spec-tests/internal/hubproc"
)

const (
	// pebbleModule and pebbleVersion name the ACME test CA that is built.
	pebbleModule  = "github.com/letsencrypt/pebble/v2"
	pebbleVersion = "v2.10.3"
	// requireEnv turns "Pebble could not be fetched" from a skip into a
	// failure; test.sh sets it, so that CI never passes without the test.
	requireEnv = "HERMES_REQUIRE_ACME"
	// serviceTimeout bounds the wait for Pebble and its DNS stub to answer
	// once started.
	serviceTimeout = 20 * time.Second
	// pollInterval is how often a condition with a deadline is checked.
	pollInterval = 50 * time.Millisecond
)

// errOffline marks a build that failed because the module proxy (or the
// module's origin) could not be reached.
var errOffline = errors.New("the Go module proxy could not be reached")

// pebbleBuild is the outcome of the one build per test binary.
var pebbleBuild struct {
	once sync.Once
	dir  string
	err  error
}

// pebbleBinaries returns the directory holding the pebble and
// pebble-challtestsrv binaries, building them the first time. It skips the
// test when the build failed for lack of network and requireEnv is unset,
// and fails it otherwise.
func pebbleBinaries(t *testing.T) string {
	t.Helper()
	pebbleBuild.once.Do(func() { pebbleBuild.dir, pebbleBuild.err = buildPebble() })
	err := pebbleBuild.err
	switch {
	case err == nil:
		return pebbleBuild.dir
	case errors.Is(err, errOffline) && os.Getenv(requireEnv) == "":
		t.Skipf("skipping: Pebble %s could not be built for lack of network, and %s is unset (set it to make this a failure): %v",
			pebbleVersion, requireEnv, err)
	default:
		t.Fatalf("building Pebble %s: %v", pebbleVersion, err)
	}
	return ""
}

// buildPebble installs both Pebble commands into a directory of the Go
// build cache's root, named after the version, unless a previous run
// already did: CI pays for the build once (its GOCACHE is kept between
// runs). The binaries are built in a temporary directory and renamed into
// place, so that two test binaries building at once never see half a
// directory.
func buildPebble() (string, error) {
	goTool, err := hubproc.GoCommand()
	if err != nil {
		return "", err
	}
	root, err := cacheRoot(goTool)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "hermes-pebble-"+pebbleVersion)
	if hasPebble(dir) {
		return dir, nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", root, err)
	}
	tmp, err := os.MkdirTemp(root, ".hermes-pebble-build-")
	if err != nil {
		return "", fmt.Errorf("creating a build directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(goTool, "install",
		pebbleModule+"/cmd/pebble@"+pebbleVersion,
		pebbleModule+"/cmd/pebble-challtestsrv@"+pebbleVersion)
	// Outside the hub's module, with none of its workspace or flags: this
	// is Pebble's own build, with Pebble's go.sum.
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		if looksOffline(string(out)) {
			return "", fmt.Errorf("%w: go install: %v\n%s", errOffline, err, out)
		}
		return "", fmt.Errorf("go install: %v\n%s", err, out)
	}
	if !hasPebble(tmp) {
		return "", fmt.Errorf("go install left no pebble and pebble-challtestsrv in %s", tmp)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if hasPebble(dir) {
			return dir, nil // another test binary was faster
		}
		return "", fmt.Errorf("moving the build into %s: %w", dir, err)
	}
	return dir, nil
}

// cacheRoot is GOCACHE, or the user's cache directory when the build
// cache is off.
func cacheRoot(goTool string) (string, error) {
	out, err := exec.Command(goTool, "env", "GOCACHE").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOCACHE: %w", err)
	}
	if dir := strings.TrimSpace(string(out)); dir != "" && dir != "off" {
		return dir, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no GOCACHE and no user cache directory: %w", err)
	}
	return filepath.Join(dir, "hermes"), nil
}

// hasPebble tells whether dir holds both executables.
func hasPebble(dir string) bool {
	for _, name := range []string{"pebble", "pebble-challtestsrv"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o100 == 0 {
			return false
		}
	}
	return true
}

// looksOffline recognises the go command's messages for a network that
// is missing or refuses, as opposed to a build that is broken.
func looksOffline(out string) bool {
	for _, s := range []string{
		"dial tcp", "no such host", "connection refused", "network is unreachable",
		"i/o timeout", "TLS handshake timeout", "connection reset by peer",
		"Temporary failure in name resolution", "server misbehaving",
		"GOPROXY=off", "module lookup disabled",
	} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// child is a helper process of a test (Pebble, its DNS stub). Its output
// is kept for failure messages; a cleanup kills it.
type child struct {
	name string
	cmd  *exec.Cmd
	log  hubproc.LogBuffer
	done chan struct{} // closed once the process exited
	err  error         // set before done is closed
}

func startChild(t *testing.T, name string, env []string, path string, args ...string) *child {
	t.Helper()
	c := &child{name: name, done: make(chan struct{})}
	c.cmd = exec.Command(path, args...)
	c.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	c.cmd.Stdout = &c.log
	c.cmd.Stderr = &c.log
	hubproc.DieWithTest(c.cmd)
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
		if t.Failed() {
			t.Logf("%s log:\n%s", name, c.log.String())
		}
	})
	return c
}

// waitUntil polls check until it returns nil, and fails the test when c
// exits first or the deadline passes; the message carries check's last
// error.
func waitUntil(t *testing.T, what string, c *child, check func() error) {
	t.Helper()
	deadline := time.NewTimer(serviceTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-c.done:
			t.Fatalf("%s exited (%v) before %s; log:\n%s", c.name, c.err, what, c.log.String())
		case <-deadline.C:
			t.Fatalf("no %s within %v: %v; %s log:\n%s", what, serviceTimeout, err, c.name, c.log.String())
		case <-tick.C:
		}
	}
}

// handedOut remembers the ports the free*Addr functions returned, so that
// the tests of this process, which name ports for servers that bind them
// later, never get the same port twice: a port is free again for the
// kernel as soon as it was reserved and released.
var handedOut struct {
	sync.Mutex
	ports map[int]bool
}

// freeTCPAddr returns a loopback address whose TCP port was free a moment
// ago, for a server that must be named before it starts.
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	return freeAddr(t, false)
}

// freeDNSAddr returns a loopback address whose port is free for both UDP
// and TCP: the DNS stub listens on both.
func freeDNSAddr(t *testing.T) string {
	t.Helper()
	return freeAddr(t, true)
}

func freeAddr(t *testing.T, udpToo bool) string {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	if handedOut.ports == nil {
		handedOut.ports = map[int]bool{}
	}
	// Ports already handed out or unusable stay bound until the end, so
	// that the kernel offers another one.
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 200 {
		// Below the kernel's ephemeral range (Linux: 32768 and up): the
		// port is named now and bound later, and meanwhile every
		// outgoing connection and ":0" listener of the tests running
		// beside this one draws from the ephemeral range.
		port := 20000 + mrand.IntN(12000)
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // taken
		}
		held = append(held, ln)
		addr := ln.Addr().(*net.TCPAddr)
		if handedOut.ports[addr.Port] {
			continue
		}
		if udpToo {
			pc, err := net.ListenPacket("udp", addr.String())
			if err != nil {
				continue
			}
			held = append(held, pc)
		}
		handedOut.ports[addr.Port] = true
		return addr.String()
	}
	t.Fatal("found no free loopback port")
	return ""
}

// startDNS runs pebble-challtestsrv as the DNS server Pebble's validation
// authority asks: it answers every A query with 127.0.0.1 and no AAAA
// (Pebble dials the first address, IPv6 first). Its challenge servers are
// off: the hub answers the challenges itself. It returns once the stub
// resolves hubDomain to 127.0.0.1, and returns its address.
func startDNS(t *testing.T, bins string) string {
	t.Helper()
	addr := freeDNSAddr(t)
	c := startChild(t, "pebble-challtestsrv", nil, filepath.Join(bins, "pebble-challtestsrv"),
		"-dnsserver", addr,
		// Its management API cannot be turned off; an empty address would
		// mean port 80.
		"-management", freeTCPAddr(t),
		"-http01", "", "-https01", "", "-doh", "", "-tlsalpn01", "",
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "")
	resolver := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	waitUntil(t, "DNS answer for "+hubDomain, c, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		addrs, err := resolver.LookupHost(ctx, hubDomain)
		if err != nil {
			return err
		}
		if !slices.Equal(addrs, []string{"127.0.0.1"}) {
			return fmt.Errorf("%s resolves to %v, want 127.0.0.1 only", hubDomain, addrs)
		}
		return nil
	})
	return addr
}

// pebbleTLS is the certificate Pebble serves its ACME and management
// endpoints with, signed by a CA made for the test; caFile is what the
// hub gets as --acme-ca-root.
type pebbleTLS struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
}

// makePebbleTLS writes a test CA and a certificate for 127.0.0.1 signed by
// it into dir.
func makePebbleTLS(t *testing.T, dir string) pebbleTLS {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(t),
		Subject:               pkix.Name{CommonName: "Hermes test CA for Pebble's HTTPS"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: randomSerial(t),
		Subject:      pkix.Name{CommonName: "pebble"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := pebbleTLS{
		caFile:   filepath.Join(dir, "pebble-ca.pem"),
		certFile: filepath.Join(dir, "pebble-cert.pem"),
		keyFile:  filepath.Join(dir, "pebble-key.pem"),
		pool:     x509.NewCertPool(),
	}
	p.pool.AddCert(ca)
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	writePEM(t, p.certFile, "CERTIFICATE", leafDER)
	writePEM(t, p.keyFile, "PRIVATE KEY", keyDER)
	return p
}

func randomSerial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// pebbleAddrs are Pebble's two listeners, chosen before the hub starts
// because the hub is given the directory URL.
type pebbleAddrs struct {
	listen, management string
}

func reservePebbleAddrs(t *testing.T) pebbleAddrs {
	t.Helper()
	return pebbleAddrs{listen: freeTCPAddr(t), management: freeTCPAddr(t)}
}

// directory is the ACME directory URL, the hub's --acme-ca.
func (a pebbleAddrs) directory() string { return "https://" + a.listen + "/dir" }

// pebble is a running Pebble.
type pebble struct {
	proc   *child
	addrs  pebbleAddrs
	client *http.Client // trusts Pebble's HTTPS certificate
}

// pebbleConfig is Pebble's configuration file.
type pebbleConfig struct {
	Pebble struct {
		ListenAddress                  string `json:"listenAddress"`
		ManagementListenAddress        string `json:"managementListenAddress"`
		Certificate                    string `json:"certificate"`
		PrivateKey                     string `json:"privateKey"`
		HTTPPort                       int    `json:"httpPort"`
		TLSPort                        int    `json:"tlsPort"`
		OCSPResponderURL               string `json:"ocspResponderURL"`
		ExternalAccountBindingRequired bool   `json:"externalAccountBindingRequired"`
		KeyAlgorithm                   string `json:"keyAlgorithm"`
	} `json:"pebble"`
}

// startPebble runs Pebble on addrs. Its validation authority resolves
// names with the DNS stub at dnsAddr and connects to httpPort for HTTP-01
// and to tlsPort for TLS-ALPN-01. It returns once the ACME directory and
// the management API answer.
func startPebble(t *testing.T, bins string, tlsFiles pebbleTLS, addrs pebbleAddrs, dnsAddr string, httpPort, tlsPort int) *pebble {
	t.Helper()
	var cfg pebbleConfig
	cfg.Pebble.ListenAddress = addrs.listen
	cfg.Pebble.ManagementListenAddress = addrs.management
	cfg.Pebble.Certificate = tlsFiles.certFile
	cfg.Pebble.PrivateKey = tlsFiles.keyFile
	cfg.Pebble.HTTPPort = httpPort
	cfg.Pebble.TLSPort = tlsPort
	cfg.Pebble.ExternalAccountBindingRequired = false
	// ECDSA issuer keys are made faster than RSA ones at start-up.
	cfg.Pebble.KeyAlgorithm = "ecdsa"
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "pebble-config.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		// Validate at once instead of after a random pause of up to 5 s.
		"PEBBLE_VA_NOSLEEP=1",
		// Never reject a good nonce (Pebble rejects 5 % by default, to
		// exercise clients' retries): a deterministic run.
		"PEBBLE_WFE_NONCEREJECT=0",
		// Never hand out an authorization already valid: every order is
		// validated for real.
		"PEBBLE_AUTHZREUSE=0",
	}
	p := &pebble{
		proc:  startChild(t, "pebble", env, filepath.Join(bins, "pebble"), "-config", cfgPath, "-dnsserver", dnsAddr),
		addrs: addrs,
		client: &http.Client{
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tlsFiles.pool, MinVersion: tls.VersionTLS12}},
			Timeout:   5 * time.Second,
		},
	}
	t.Cleanup(p.client.CloseIdleConnections)
	waitUntil(t, "ACME directory at "+addrs.directory(), p.proc, func() error {
		_, err := p.get(addrs.directory())
		return err
	})
	waitUntil(t, "management API at "+addrs.management, p.proc, func() error {
		_, err := p.get("https://" + addrs.management + "/roots/0")
		return err
	})
	return p
}

// get fetches url and returns its body, or an error unless the answer is
// 200.
func (p *pebble) get(url string) ([]byte, error) {
	resp, err := p.client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return body, nil
}

// certificate fetches a PEM certificate from the management API: Pebble
// makes a new root and intermediate at every start and publishes them
// there.
func (p *pebble) certificate(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	body, err := p.get("https://" + p.addrs.management + path)
	if err != nil {
		t.Fatalf("Pebble's management API: %v", err)
	}
	block, _ := pem.Decode(body)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("Pebble's %s is not a PEM certificate: %q", path, body)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("Pebble's %s: %v", path, err)
	}
	return c
}

// What Pebble logs, one line per event.
var (
	pebbleOrderRE  = regexp.MustCompile(`Added order "[^"]+" to the db`)
	pebbleIssuedRE = regexp.MustCompile(`Issued certificate serial ([0-9a-fA-F]+) for order`)
	pebbleHTTP01RE = regexp.MustCompile(`Attempting to validate w/ HTTP: (\S+)`)
)

// orders counts the orders Pebble was asked for so far.
func (p *pebble) orders() int {
	return len(pebbleOrderRE.FindAllStringIndex(p.proc.log.String(), -1))
}

// issued lists the serial numbers of the certificates Pebble issued so
// far.
func (p *pebble) issued(t *testing.T) []*big.Int {
	t.Helper()
	var serials []*big.Int
	for _, m := range pebbleIssuedRE.FindAllStringSubmatch(p.proc.log.String(), -1) {
		n, ok := new(big.Int).SetString(m[1], 16)
		if !ok {
			t.Fatalf("Pebble logged serial %q, not hexadecimal", m[1])
		}
		serials = append(serials, n)
	}
	return serials
}

// http01Fetches lists the URLs Pebble fetched to validate HTTP-01
// challenges.
func (p *pebble) http01Fetches() []string {
	var urls []string
	for _, m := range pebbleHTTP01RE.FindAllStringSubmatch(p.proc.log.String(), -1) {
		urls = append(urls, m[1])
	}
	return urls
}

// refuser is a port where a challenge can only fail: it accepts each
// connection and closes it at once, counting them. Pointing one of
// Pebble's challenge ports at it leaves the other challenge as the only
// way to get a certificate, and the count shows whether Pebble tried.
type refuser struct {
	ln    net.Listener
	conns atomic.Int32
}

func newRefuser(t *testing.T) *refuser {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &refuser{ln: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.conns.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return r
}

func (r *refuser) port() int { return r.ln.Addr().(*net.TCPAddr).Port }

// portOf is the port of a HOST:PORT address.
func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return n
}
