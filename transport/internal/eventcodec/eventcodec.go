// Package eventcodec is the binary form in which the stored transports
// (bolt, redis) keep an event. One encoding serves both so that a change to
// what an event carries is made, and tested, in one place.
//
// The form, for Format{WithID: true} (bolt's value under the Seq key):
//
//	byte     format version (1)
//	8 bytes  Time: Unix seconds, int64 big-endian
//	4 bytes  Time: nanoseconds, uint32 big-endian
//	byte     flags: bit 0 Private, the other bits zero
//	uvarint  Retry
//	string   ID (left out when WithID is false: redis keeps it in a field of its own)
//	string   Type
//	uvarint  number of topics, then each topic as a string
//	string   Data
//
// where a string is its length as a uvarint followed by its bytes. Seq and
// Frame are never encoded: the Seq is the storage's key, the Frame is
// rebuilt. The Time sits at a fixed offset so that retention by age reads it
// without decoding the rest. Nothing may follow Data: the encoding is
// canonical, so what decodes re-encodes to the same bytes (but for
// non-minimal varints).
package eventcodec

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hermes-hub/hermes/transport"
)

const (
	formatV1 = 1
	// HeaderSize is the length of the fixed part: version, Time and flags.
	HeaderSize = 1 + 8 + 4 + 1
	flagPriv   = 1 << 0
)

// Format is one layout of the encoding and the error its decoding failures
// wrap.
type Format struct {
	// WithID says whether the ID is encoded (after Retry).
	WithID bool
	// Corrupt is wrapped by every decoding error. Each transport passes its
	// own, because they classify a bad record differently (bolt as a
	// damaged file, transport.ErrCorrupt; redis not). It must not be nil.
	Corrupt error
}

// Encode returns the encoded form of ev.
func (f Format) Encode(ev *transport.Event) []byte {
	n := HeaderSize + binary.MaxVarintLen64*(5+len(ev.Topics)) + len(ev.Type) + len(ev.Data)
	if f.WithID {
		n += len(ev.ID)
	}
	for _, topic := range ev.Topics {
		n += len(topic)
	}
	b := make([]byte, HeaderSize, n)
	b[0] = formatV1
	binary.BigEndian.PutUint64(b[1:9], uint64(ev.Time.Unix()))
	binary.BigEndian.PutUint32(b[9:13], uint32(ev.Time.Nanosecond()))
	if ev.Private {
		b[13] = flagPriv
	}
	b = binary.AppendUvarint(b, ev.Retry)
	if f.WithID {
		b = appendString(b, ev.ID)
	}
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

// Decode parses an encoded event (without WithID its ID is left empty). It
// copies what it keeps: b may be memory of a read transaction that ends
// after the call.
func (f Format) Decode(b []byte) (*transport.Event, error) {
	d, ev, err := f.decodeHead(b)
	if err != nil {
		return nil, err
	}
	if ev.Type, err = d.string(); err != nil {
		return nil, fmt.Errorf("type: %w", err)
	}
	if ev.Topics, err = d.topics(); err != nil {
		return nil, err
	}
	if ev.Data, err = d.string(); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", f.Corrupt, len(d.b))
	}
	return ev, nil
}

// Head parses the fields before Type: Time, Private, Retry and, WithID, the
// ID (what retention needs to unindex an event).
func (f Format) Head(b []byte) (*transport.Event, error) {
	_, ev, err := f.decodeHead(b)
	return ev, err
}

func (f Format) decodeHead(b []byte) (*decoder, *transport.Event, error) {
	if err := f.checkHeader(b); err != nil {
		return nil, nil, err
	}
	ev := &transport.Event{Private: b[13]&flagPriv != 0}
	var err error
	if ev.Time, err = f.decodeTime(b); err != nil {
		return nil, nil, err
	}
	d := &decoder{b: b[HeaderSize:], corrupt: f.Corrupt}
	if ev.Retry, err = d.uvarint(); err != nil {
		return nil, nil, fmt.Errorf("retry: %w", err)
	}
	if f.WithID {
		if ev.ID, err = d.string(); err != nil {
			return nil, nil, fmt.Errorf("id: %w", err)
		}
	}
	return d, ev, nil
}

// Route reads what a replay filter needs, the topics and the private flag,
// without touching Data: the fields before the topics are skipped, not
// copied. Topics are copied (a copy is cheap next to a payload, and the
// caller's memory may not outlive its transaction).
func (f Format) Route(b []byte) (topics []string, private bool, err error) {
	if err := f.checkHeader(b); err != nil {
		return nil, false, err
	}
	private = b[13]&flagPriv != 0
	d := &decoder{b: b[HeaderSize:], corrupt: f.Corrupt}
	if _, err := d.uvarint(); err != nil {
		return nil, false, fmt.Errorf("retry: %w", err)
	}
	if f.WithID {
		if err := d.skipString(); err != nil {
			return nil, false, fmt.Errorf("id: %w", err)
		}
	}
	if err := d.skipString(); err != nil {
		return nil, false, fmt.Errorf("type: %w", err)
	}
	if topics, err = d.topics(); err != nil {
		return nil, false, err
	}
	return topics, private, nil
}

// Time returns the Time of an encoded event, reading only the header.
func (f Format) Time(b []byte) (time.Time, error) {
	if len(b) < HeaderSize || b[0] != formatV1 {
		return time.Time{}, fmt.Errorf("%w: bad header", f.Corrupt)
	}
	return f.decodeTime(b)
}

// checkHeader checks the length, the version and the flags.
func (f Format) checkHeader(b []byte) error {
	if len(b) < HeaderSize {
		return fmt.Errorf("%w: %d bytes, shorter than the header", f.Corrupt, len(b))
	}
	if b[0] != formatV1 {
		return fmt.Errorf("%w: unknown format version %d", f.Corrupt, b[0])
	}
	if b[13]&^flagPriv != 0 {
		return fmt.Errorf("%w: unknown flags %#x", f.Corrupt, b[13])
	}
	return nil
}

// decodeTime reads the time at its fixed offset; b holds at least the header.
func (f Format) decodeTime(b []byte) (time.Time, error) {
	nsec := binary.BigEndian.Uint32(b[9:13])
	if nsec >= 1e9 {
		return time.Time{}, fmt.Errorf("%w: %d nanoseconds", f.Corrupt, nsec)
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[1:9])), int64(nsec)).UTC(), nil
}

type decoder struct {
	b       []byte
	corrupt error
}

func (d *decoder) uvarint() (uint64, error) {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		return 0, fmt.Errorf("%w: bad varint", d.corrupt)
	}
	d.b = d.b[n:]
	return v, nil
}

// next returns the bytes of the string at the decoder's position, not
// copied.
func (d *decoder) next() ([]byte, error) {
	n, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: length %d beyond the %d bytes left", d.corrupt, n, len(d.b))
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s, nil
}

func (d *decoder) skipString() error {
	_, err := d.next()
	return err
}

func (d *decoder) string() (string, error) {
	s, err := d.next()
	return string(s), err
}

// topics reads the topic count and the topics; nil for none.
func (d *decoder) topics() ([]string, error) {
	n, err := d.uvarint()
	if err != nil {
		return nil, fmt.Errorf("topic count: %w", err)
	}
	// Each topic takes at least one byte (its length), which bounds the
	// allocation by the input size whatever the count claims.
	if n > uint64(len(d.b)) {
		return nil, fmt.Errorf("%w: %d topics in %d bytes", d.corrupt, n, len(d.b))
	}
	if n == 0 {
		return nil, nil
	}
	topics := make([]string, n)
	for i := range topics {
		if topics[i], err = d.string(); err != nil {
			return nil, fmt.Errorf("topic %d: %w", i, err)
		}
	}
	return topics, nil
}
