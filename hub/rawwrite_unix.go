//go:build unix

package hub

import (
	"net"
	"syscall"

	"github.com/hermes-hub/hermes/hub/rawnet"
)

// rawWriter writes a taken-over plain TCP connection with rawnet.Write
// (raw write(2) calls under the poller's write lock, deadlines kept): a
// writer-pool pass over thousands of subscribers makes one such call per
// subscriber, and made as ordinary blocking system calls they had the
// runtime hand the processor between threads on almost every one (see
// package rawnet). A connection accepted through rawnet.Listener writes
// that way already; one from another listener (tests, a program that
// embeds the hub) is written so here.
type rawWriter struct{ rc syscall.RawConn }

// newRawWriter returns a raw writer for conn when it is a plain TCP
// connection; TLS connections must go through their own Write.
func newRawWriter(conn net.Conn) (rawWriter, bool) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return rawWriter{}, false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return rawWriter{}, false
	}
	return rawWriter{rc: rc}, true
}

func (w rawWriter) write(b []byte) error {
	_, err := rawnet.Write(w.rc, b)
	return err
}
