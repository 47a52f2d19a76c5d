//go:build !unix

// Package rawnet is unix only; elsewhere it hands connections back as
// they are (see rawnet_unix.go for why it exists).
package rawnet

import "net"

// NewConn returns c.
func NewConn(c *net.TCPConn) net.Conn { return c }
