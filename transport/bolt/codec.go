package bolt

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/internal/eventcodec"
)

// The stored form of an event (the value under its Seq key) is
// eventcodec's with the ID, byte for byte the format bolt has always
// written (files of earlier versions must still read).
var codec = eventcodec.Format{WithID: true, Corrupt: errCorrupt}

// headerSize is the fixed part of a stored event, which holds its Time.
const headerSize = eventcodec.HeaderSize

// errCorrupt is wrapped by every decoding error; it wraps
// transport.ErrCorrupt.
var errCorrupt = fmt.Errorf("%w: corrupt event", transport.ErrCorrupt)

// encodeEvent returns the stored form of ev.
func encodeEvent(ev *transport.Event) []byte { return codec.Encode(ev) }

// decodeEvent parses a stored event. It copies what it keeps: b may be
// memory of a read transaction that ends after the call.
func decodeEvent(b []byte) (*transport.Event, error) { return codec.Decode(b) }

// decodeRoute reads what a replay filter needs, the topics and the private
// flag, without touching Data: the fields before the topics are skipped,
// not copied.
func decodeRoute(b []byte) (topics []string, private bool, err error) { return codec.Route(b) }

// decodeHead parses the fields up to the ID (what retention needs).
func decodeHead(b []byte) (*transport.Event, error) { return codec.Head(b) }

// eventTime returns the Time of a stored event, reading only the header.
func eventTime(b []byte) (time.Time, error) { return codec.Time(b) }

// Keys. Seq keys are 8 bytes big-endian, so that byte order is Seq order.
// Index keys are uvarint(len(id)) + id + seq key, with empty values: all
// the occurrences of one id sort together, oldest first, so the earliest
// one still stored is the first key with the id's prefix, and retention
// deletes exactly the occurrence it removes. The length prefix keeps an id
// from being mistaken for the prefix of a longer one.

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

func idPrefix(id string) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(id)+8)
	b = binary.AppendUvarint(b, uint64(len(id)))
	return append(b, id...)
}

func idKey(id string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(idPrefix(id), seq)
}
