//go:build !windows

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/spec-tests/testcert"
)

// TestTLSReloadsOnSIGHUPAndKeepsServingOnBrokenFiles: with polling off,
// SIGHUP loads new files; a pair that does not match is refused with a
// logged error and the previous certificate stays in service.
func TestTLSReloadsOnSIGHUPAndKeepsServingOnBrokenFiles(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first, second := testcert.New(t), testcert.New(t)
	first.Install(t, certPath, keyPath)
	s, base := startTLSServe(t, "--tls-cert", certPath, "--tls-key", keyPath, "--tls-reload-interval", "0")
	hostPort := strings.TrimPrefix(base, "https://")

	// The second certificate with the first key: a mismatched pair.
	broken := testcert.Cert{CertPEM: second.CertPEM, KeyPEM: first.KeyPEM}
	broken.Install(t, certPath, keyPath)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the refused reload in the log", func() bool {
		return strings.Contains(s.Stderr.String(), "TLS certificate not reloaded")
	})
	if serial, _ := servedSerial(t, hostPort); serial.Cmp(first.Cert.SerialNumber) != 0 {
		t.Fatalf("after a broken reload the hub serves %v, want the first certificate %v", serial, first.Cert.SerialNumber)
	}

	second.Install(t, certPath, keyPath)
	// No polling: without a signal the first certificate stays.
	if serial, _ := servedSerial(t, hostPort); serial.Cmp(first.Cert.SerialNumber) != 0 {
		t.Fatalf("reloaded without SIGHUP although polling is off")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the second certificate after SIGHUP", func() bool {
		serial, _ := servedSerial(t, hostPort)
		return serial.Cmp(second.Cert.SerialNumber) == 0
	})
}
