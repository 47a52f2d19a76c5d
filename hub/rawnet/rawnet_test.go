//go:build unix

package rawnet

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// pair returns a rawnet Conn and the plain TCP connection at its other end.
func pair(t *testing.T) (net.Conn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	other := <-accepted
	if other == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); other.Close() })
	rc := NewConn(c.(*net.TCPConn))
	if _, ok := rc.(*Conn); !ok {
		t.Fatalf("NewConn gave %T, not a raw Conn", rc)
	}
	return rc, other.(*net.TCPConn)
}

// A write larger than both socket buffers waits in the poller while they
// are full and ends complete once the peer reads: nothing lost, nothing
// repeated, in order.
func TestWriteWaitsForRoomAndLosesNothing(t *testing.T) {
	c, other := pair(t)
	msg := make([]byte, 8<<20)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	done := make(chan error, 1)
	go func() {
		n, err := c.Write(msg)
		if err == nil && n != len(msg) {
			err = errors.New("short write")
		}
		done <- err
	}()
	got, err := io.ReadAll(io.LimitReader(other, int64(len(msg))))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("the bytes read differ from the bytes written")
	}
}

// Read returns what arrived, then io.EOF itself (net/http compares with
// ==) once the peer closed.
func TestReadThenEOF(t *testing.T) {
	c, other := pair(t)
	if _, err := other.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	other.Close()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v", got, err)
	}
	if n, err := c.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("after the end: %d, %v; want 0, io.EOF", n, err)
	}
}

// Deadlines hold: a read with nothing to read and a write into full
// buffers end with a timeout, as *net.OpError like net.Conn's.
func TestDeadlinesEndWaitingCalls(t *testing.T) {
	c, _ := pair(t)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err := c.Read(make([]byte, 16))
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = c.Write(make([]byte, 64<<20)) // the peer never reads
	if !errors.As(err, &oe) || oe.Op != "write" || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write past its deadline: %v", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("a deadline error must say Timeout(): %v", err)
	}
}

// A close during a read that waits ends it with net.ErrClosed.
func TestCloseEndsAWaitingRead(t *testing.T) {
	c, _ := pair(t)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 16))
		done <- err
	}()
	c.Close() // before or during the read: either way it must end
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read still waits after close")
	}
}

// The hub reads and writes every taken-over connection through Conn: a
// call must not allocate (a closure per call did, two or three times).
func TestReadAndWriteDoNotAllocate(t *testing.T) {
	c, other := pair(t)
	msg := []byte("data: one update\n\n")
	in := make([]byte, 64)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(other, in[:len(msg)]); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, in[:len(msg)]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per write and read, want none", allocs)
	}
}
