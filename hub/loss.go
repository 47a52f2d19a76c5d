package hub

import (
	"context"
	"sync"

	"github.com/hermes-hub/hermes/transport"
)

// lossSignal ends the streams open when the transport reports a loss of
// history (transport.LossNotifier): events they expected may never come,
// so they end, and their clients reconnect with their Last-Event-ID and get
// what history still holds (or "earliest" when their cursor is gone).
type lossSignal struct {
	mu     sync.Mutex
	ctx    context.Context // done at the next loss
	cancel context.CancelFunc
}

func newLossSignal() *lossSignal {
	l := &lossSignal{}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

// current returns a context that is done at the next loss.
func (l *lossSignal) current() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ctx
}

// fire ends the contexts handed out so far; later streams get a new one.
func (l *lossSignal) fire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cancel()
	l.ctx, l.cancel = context.WithCancel(context.Background())
}

// watchLosses fires the signal for every loss the transport reports, until
// the transport closes the channel.
func (h *Hub) watchLosses(n transport.LossNotifier) {
	for loss := range n.Losses() {
		h.log.Warn("history lost: ending every open stream; clients resume from history", "reason", loss.Reason, "streams", h.Subscribers())
		h.losses.fire()
	}
}
