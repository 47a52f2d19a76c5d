//go:build !unix

package bench

import (
	"io"
	"net"
)

// newRawReader is unix only (rawread_unix.go): elsewhere the connection.
func newRawReader(conn net.Conn) io.Reader { return conn }
