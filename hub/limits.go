package hub

import (
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
)

// slots counts open streams, in total and per client address, against the
// configured maximums (0: unlimited). The per-client map holds only clients
// with an open stream, so it is bounded by the number of streams.
type slots struct {
	maxTotal, maxPerClient int

	mu        sync.Mutex
	total     int
	perClient map[string]int
}

func newSlots(maxTotal, maxPerClient int) *slots {
	return &slots{maxTotal: maxTotal, maxPerClient: maxPerClient, perClient: make(map[string]int)}
}

// acquire takes a slot for client, or reports the Reject* reason it cannot.
func (s *slots) acquire(client string) (reason string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.maxTotal > 0 && s.total >= s.maxTotal {
		return RejectMaxSubscribers, false
	}
	if s.maxPerClient > 0 && s.perClient[client] >= s.maxPerClient {
		return RejectMaxSubscribersPerClient, false
	}
	s.total++
	if s.maxPerClient > 0 {
		s.perClient[client]++
	}
	return "", true
}

// release gives back a slot acquire took.
func (s *slots) release(client string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.maxPerClient > 0 {
		if n := s.perClient[client] - 1; n > 0 {
			s.perClient[client] = n
		} else {
			delete(s.perClient, client)
		}
	}
}

// clientKey is the address a per-client limit counts against: the host
// of the connection's remote address. X-Forwarded-For is not read: any
// client can send it, so trusting it would let one client pose as many.
// Behind a reverse proxy every client is therefore the proxy; set the
// per-client limit there instead, or leave it unlimited.
//
// An IPv6 client usually holds a whole /64 and may pick any address in it,
// so IPv6 addresses are counted per /64; IPv4-mapped addresses count as the
// IPv4 address they carry.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap()
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.WithZone("").Prefix(64)
	if err != nil {
		return host
	}
	return p.String()
}

// retryAfter is the Retry-After value of a refused stream: a few seconds,
// randomized so that the refused clients do not all come back at once.
func retryAfter() string {
	return strconv.Itoa(1 + rand.IntN(5))
}
