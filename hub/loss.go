package hub

import "github.com/hermes-hub/hermes/transport"

// watchLosses ends the streams open when the transport reports a loss of
// history (transport.LossNotifier): events they expected may never come,
// so they end, and their clients reconnect with their Last-Event-ID and get
// what history still holds (or "earliest" when their cursor is gone). A
// stream is open from the start of its phases (stream.run) to its teardown
// (openstreams.go); one that starts after the loss is served as usual. It
// runs until the transport closes the channel.
func (h *Hub) watchLosses(n transport.LossNotifier) {
	for loss := range n.Losses() {
		ended := h.stopStreams(DisconnectError)
		h.log.Warn("history lost: ended every open stream; clients resume from history", "reason", loss.Reason, "streams", ended)
	}
}
