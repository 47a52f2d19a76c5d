//go:build !unix

package hub

import "net"

// rawWriter is unix only (rawwrite_unix.go): elsewhere net.Conn.Write.
type rawWriter struct{}

func newRawWriter(net.Conn) (rawWriter, bool) { return rawWriter{}, false }

func (rawWriter) write([]byte) error { panic("unreachable") }
