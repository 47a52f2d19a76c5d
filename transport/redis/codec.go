package redis

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

// The stored form of an event is one stream entry with three fields, in
// this order (the Lua scripts read them by position):
//
//	i  the event ID, read by the scripts to maintain the id index
//	t  the event Time in Unix milliseconds, read by age retention
//	d  the rest of the event, encoded as below
//
// The Seq is the entry's stream ID (<seq>-0), so it is not repeated; the
// Frame is never stored. d is:
//
//	byte     format version (1)
//	8 bytes  Time: Unix seconds, int64 big-endian
//	4 bytes  Time: nanoseconds, uint32 big-endian
//	byte     flags: bit 0 Private, the other bits zero
//	uvarint  Retry
//	string   Type
//	uvarint  number of topics, then each topic as a string
//	string   Data
//
// where a string is its length as a uvarint followed by its bytes. The full
// Time lives in d because Lua numbers are doubles: milliseconds are exact
// in them, nanoseconds are not.
const (
	formatV1   = 1
	headerSize = 1 + 8 + 4 + 1
	flagPriv   = 1 << 0
)

// errCorrupt is wrapped by every decoding error.
var errCorrupt = errors.New("corrupt event")

// encodePayload returns the d field of ev.
func encodePayload(ev *transport.Event) []byte {
	n := headerSize + binary.MaxVarintLen64*(4+len(ev.Topics)) + len(ev.Type) + len(ev.Data)
	for _, topic := range ev.Topics {
		n += len(topic)
	}
	b := make([]byte, headerSize, n)
	b[0] = formatV1
	binary.BigEndian.PutUint64(b[1:9], uint64(ev.Time.Unix()))
	binary.BigEndian.PutUint32(b[9:13], uint32(ev.Time.Nanosecond()))
	if ev.Private {
		b[13] = flagPriv
	}
	b = binary.AppendUvarint(b, ev.Retry)
	b = appendString(b, ev.Type)
	b = binary.AppendUvarint(b, uint64(len(ev.Topics)))
	for _, topic := range ev.Topics {
		b = appendString(b, topic)
	}
	return appendString(b, ev.Data)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodePayload parses a d field into a new event with the given id.
func decodePayload(id string, b []byte) (*transport.Event, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the header", errCorrupt, len(b))
	}
	if b[0] != formatV1 {
		return nil, fmt.Errorf("%w: unknown format version %d", errCorrupt, b[0])
	}
	nsec := binary.BigEndian.Uint32(b[9:13])
	if nsec >= 1e9 {
		return nil, fmt.Errorf("%w: %d nanoseconds", errCorrupt, nsec)
	}
	if b[13]&^flagPriv != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", errCorrupt, b[13])
	}
	ev := &transport.Event{
		ID:      id,
		Time:    time.Unix(int64(binary.BigEndian.Uint64(b[1:9])), int64(nsec)).UTC(),
		Private: b[13]&flagPriv != 0,
	}
	d := decoder{b: b[headerSize:]}
	var err error
	if ev.Retry, err = d.uvarint(); err != nil {
		return nil, fmt.Errorf("retry: %w", err)
	}
	if ev.Type, err = d.string(); err != nil {
		return nil, fmt.Errorf("type: %w", err)
	}
	n, err := d.uvarint()
	if err != nil {
		return nil, fmt.Errorf("topic count: %w", err)
	}
	// Each topic takes at least one byte (its length), which bounds the
	// allocation by the input size whatever the count claims.
	if n > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: %d topics in %d bytes", errCorrupt, n, len(d.b))
	}
	if n > 0 {
		ev.Topics = make([]string, n)
		for i := range ev.Topics {
			if ev.Topics[i], err = d.string(); err != nil {
				return nil, fmt.Errorf("topic %d: %w", i, err)
			}
		}
	}
	if ev.Data, err = d.string(); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errCorrupt, len(d.b))
	}
	return ev, nil
}

type decoder struct{ b []byte }

func (d *decoder) uvarint() (uint64, error) {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad varint", errCorrupt)
	}
	d.b = d.b[n:]
	return v, nil
}

func (d *decoder) string() (string, error) {
	n, err := d.uvarint()
	if err != nil {
		return "", err
	}
	if n > uint64(len(d.b)) {
		return "", fmt.Errorf("%w: length %d beyond the %d bytes left", errCorrupt, n, len(d.b))
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s, nil
}
