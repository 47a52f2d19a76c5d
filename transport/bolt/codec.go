package bolt

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

// The stored form of an event (the value under its Seq key). The Seq is the
// key, so it is not repeated; the Frame is never stored.
//
//	byte     format version (1)
//	8 bytes  Time: Unix seconds, int64 big-endian
//	4 bytes  Time: nanoseconds, uint32 big-endian
//	byte     flags: bit 0 Private, the other bits zero
//	uvarint  Retry
//	string   ID
//	string   Type
//	uvarint  number of topics, then each topic as a string
//	string   Data
//
// where a string is its length as a uvarint followed by its bytes. The time
// sits at a fixed offset so that retention by age reads it without decoding
// the rest. Nothing may follow Data.
const (
	formatV1   = 1
	headerSize = 1 + 8 + 4 + 1
	flagPriv   = 1 << 0
)

// errCorrupt is wrapped by every decoding error; it wraps
// transport.ErrCorrupt.
var errCorrupt = fmt.Errorf("%w: corrupt event", transport.ErrCorrupt)

// encodeEvent returns the stored form of ev.
func encodeEvent(ev *transport.Event) []byte {
	n := headerSize + binary.MaxVarintLen64*(5+len(ev.Topics)) + len(ev.ID) + len(ev.Type) + len(ev.Data)
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
	b = appendString(b, ev.ID)
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

// decodeEvent parses a stored event. It copies what it keeps: b may be
// memory of a read transaction that ends after the call.
func decodeEvent(b []byte) (*transport.Event, error) {
	d, ev, err := decodeHead(b)
	if err != nil {
		return nil, err
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

// decodeRoute reads what a replay filter needs, the topics and the private
// flag, without touching Data: the fields before it are skipped, not
// copied. Topics are copied (the filter may outlive the transaction's
// memory only through them, and must not keep them, but a copy is cheap
// next to a payload).
func decodeRoute(b []byte) (topics []string, private bool, err error) {
	if len(b) < headerSize {
		return nil, false, fmt.Errorf("%w: %d bytes, shorter than the header", errCorrupt, len(b))
	}
	if b[0] != formatV1 {
		return nil, false, fmt.Errorf("%w: unknown format version %d", errCorrupt, b[0])
	}
	if b[13]&^flagPriv != 0 {
		return nil, false, fmt.Errorf("%w: unknown flags %#x", errCorrupt, b[13])
	}
	private = b[13]&flagPriv != 0
	d := &decoder{b: b[headerSize:]}
	if _, err := d.uvarint(); err != nil {
		return nil, false, fmt.Errorf("retry: %w", err)
	}
	if err := d.skipString(); err != nil {
		return nil, false, fmt.Errorf("id: %w", err)
	}
	if err := d.skipString(); err != nil {
		return nil, false, fmt.Errorf("type: %w", err)
	}
	n, err := d.uvarint()
	if err != nil {
		return nil, false, fmt.Errorf("topic count: %w", err)
	}
	if n > uint64(len(d.b)) {
		return nil, false, fmt.Errorf("%w: %d topics in %d bytes", errCorrupt, n, len(d.b))
	}
	if n > 0 {
		topics = make([]string, n)
		for i := range topics {
			if topics[i], err = d.string(); err != nil {
				return nil, false, fmt.Errorf("topic %d: %w", i, err)
			}
		}
	}
	return topics, private, nil
}

// decodeHead parses the fields up to the ID (what retention needs) and
// returns a decoder positioned after it.
func decodeHead(b []byte) (*decoder, *transport.Event, error) {
	if len(b) < headerSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, shorter than the header", errCorrupt, len(b))
	}
	if b[0] != formatV1 {
		return nil, nil, fmt.Errorf("%w: unknown format version %d", errCorrupt, b[0])
	}
	ev := &transport.Event{}
	var err error
	if ev.Time, err = decodeTime(b); err != nil {
		return nil, nil, err
	}
	if b[13]&^flagPriv != 0 {
		return nil, nil, fmt.Errorf("%w: unknown flags %#x", errCorrupt, b[13])
	}
	ev.Private = b[13]&flagPriv != 0
	d := &decoder{b: b[headerSize:]}
	if ev.Retry, err = d.uvarint(); err != nil {
		return nil, nil, fmt.Errorf("retry: %w", err)
	}
	if ev.ID, err = d.string(); err != nil {
		return nil, nil, fmt.Errorf("id: %w", err)
	}
	return d, ev, nil
}

// decodeTime reads the time at its fixed offset; b holds at least the header.
func decodeTime(b []byte) (time.Time, error) {
	nsec := binary.BigEndian.Uint32(b[9:13])
	if nsec >= 1e9 {
		return time.Time{}, fmt.Errorf("%w: %d nanoseconds", errCorrupt, nsec)
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[1:9])), int64(nsec)).UTC(), nil
}

// eventTime returns the Time of a stored event, reading only the header.
func eventTime(b []byte) (time.Time, error) {
	if len(b) < headerSize || b[0] != formatV1 {
		return time.Time{}, fmt.Errorf("%w: bad header", errCorrupt)
	}
	return decodeTime(b)
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

func (d *decoder) skipString() error {
	n, err := d.uvarint()
	if err != nil {
		return err
	}
	if n > uint64(len(d.b)) {
		return fmt.Errorf("%w: length %d beyond the %d bytes left", errCorrupt, n, len(d.b))
	}
	d.b = d.b[n:]
	return nil
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
