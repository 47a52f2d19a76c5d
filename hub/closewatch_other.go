//go:build !linux

package hub

// closeWatcher has no implementation here: a client that closes an idle
// taken-over connection is noticed at the next heartbeat (peerClosed) or
// write.
type closeWatcher struct{}

func (*closeWatcher) watch(*h1conn) bool { return false }
func (*closeWatcher) unwatch(*h1conn)    {}
func (*closeWatcher) stop()              {}
