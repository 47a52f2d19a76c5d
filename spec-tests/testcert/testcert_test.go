package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"
)

// TestNewServesTLSForItsHosts: the pair loads as a TLS key pair, a pool
// from Pool verifies it for every host it was made for and for no other,
// and two certificates differ by serial number.
func TestNewServesTLSForItsHosts(t *testing.T) {
	c := New(t, "hub.test", "127.0.0.1")
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c.Install(t, certPath, keyPath)
	if _, err := tls.LoadX509KeyPair(certPath, keyPath); err != nil {
		t.Fatalf("installed pair does not load: %v", err)
	}
	pool := Pool(c)
	for _, host := range []string{"hub.test", "127.0.0.1"} {
		if _, err := c.Cert.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("not valid for %s: %v", host, err)
		}
	}
	if _, err := c.Cert.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: pool}); err == nil {
		t.Error("valid for localhost, which it was not made for")
	}
	d := New(t)
	if !d.Cert.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) || d.Cert.DNSNames[0] != "localhost" {
		t.Errorf("default hosts: %v %v", d.Cert.DNSNames, d.Cert.IPAddresses)
	}
	if d.Cert.SerialNumber.Cmp(c.Cert.SerialNumber) == 0 {
		t.Error("two certificates share a serial number")
	}
}
