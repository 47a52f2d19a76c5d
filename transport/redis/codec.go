package redis

import (
	"errors"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/internal/eventcodec"
)

// The stored form of an event is one stream entry with three fields, in
// this order (the Lua scripts read them by position):
//
//	i  the event ID, read by the scripts to maintain the id index
//	t  the event Time in Unix milliseconds, read by age retention
//	d  the rest of the event: eventcodec's form without the ID
//
// The Seq is the entry's stream ID (<seq>-0), so it is not repeated; the
// Frame is never stored. The full Time lives in d because Lua numbers are
// doubles: milliseconds are exact in them, nanoseconds are not.
var codec = eventcodec.Format{Corrupt: errCorrupt}

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("corrupt event")

// encodePayload returns the d field of ev.
func encodePayload(ev *transport.Event) []byte { return codec.Encode(ev) }

// decodePayload parses a d field into a new event with the given id.
func decodePayload(id string, b []byte) (*transport.Event, error) {
	ev, err := codec.Decode(b)
	if err != nil {
		return nil, err
	}
	ev.ID = id
	return ev, nil
}
