// Package idcipher turns a counter into an opaque event id and back.
//
// A durable transport indexes ids in a B+tree. Random ids (UUIDv4) land at
// random places of that index, so a commit of n events rewrites about n
// index pages; ids that grow with time (UUIDv7, a plain counter) land at
// its end, but they tell every subscriber when, and how often, updates were
// published, including updates it cannot read (draft-08 §Security, REC-12).
// This package gives both: the transport numbers the events it mints ids
// for with a counter and indexes them by that counter, in order, while the
// id published is the counter encrypted under a key only the transport
// holds.
//
// # Construction
//
// The plaintext is 122 bits: the 64-bit counter followed by a 58-bit tag, a
// random constant of the history file. It is encrypted with a balanced
// Feistel network over two 61-bit halves, ten rounds, whose round function
// is AES-128 under the key of a block holding the round number, a domain
// constant and the right half, truncated to 61 bits. The 122 bits of
// ciphertext fill the free bits of an RFC 9562 UUID whose version (4) and
// variant (10) bits are set as a random UUID's are, written in the
// canonical lowercase form behind "urn:uuid:".
//
// # Why it is sound
//
// AES under a secret key is a pseudorandom function on its block; keeping
// 61 bits of its output is still one, and the round number in the block
// makes every round an independent function. Luby and Rackoff showed that
// a Feistel network over independent pseudorandom functions is a
// pseudorandom permutation; later results (Patarin) push the bound for
// more rounds towards the size of a half (2^61 queries here), far beyond
// the number of ids a hub mints. This is how NIST's FF1 format-preserving
// mode is built (a Feistel network with an AES-based round function, ten
// rounds). A permutation means distinct counters give distinct ids, and a
// pseudorandom one means that, without the key, ids minted for counters
// 1, 2, 3 ... look like independent random UUIDv4s: nothing tells their
// order, how many ids were minted between two of them, or when.
//
// What it does not hide: equal ids are equal (an id names one event), and
// a subscriber still sees the order in which the events it receives
// arrive. The tag is what lets the transport tell its own ids from ids a
// client made up: a string that is not the encryption of (counter, tag)
// for this key decrypts to a wrong tag, except with probability 2^-58.
//
// The key must stay secret (it is stored in the history file, which holds
// the events themselves); a leaked key reveals the counters of the ids,
// that is their order, not the contents of any event.
package idcipher

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
)

const (
	// KeySize is the length of a key (AES-128).
	KeySize = 16
	// TagBits is the width of the tag; a tag is below 1<<TagBits.
	TagBits = 58
	// Prefix starts every id.
	Prefix = "urn:uuid:"
	// IDLength is the length of every id: the prefix and a canonical UUID.
	IDLength = len(Prefix) + 36

	halfBits = 61
	halfMask = 1<<halfBits - 1
	tagMask  = 1<<TagBits - 1
	rounds   = 10
)

// The plaintext, counter‖tag, is exactly two halves.
var _ [0]struct{} = [2*halfBits - 64 - TagBits]struct{}{}

// domain fills the block of the round function besides the round number
// and the half, so that the key, should it ever serve another purpose,
// never encrypts the same block there.
const domain = 0x68_65_72_6d_65_73_69 // "hermesi"

// Cipher encrypts counters into ids under one key and tag. It is safe for
// concurrent use.
type Cipher struct {
	block cipher.Block
	tag   uint64
}

// New returns the cipher of key (KeySize bytes) and tag (below
// 1<<TagBits).
func New(key []byte, tag uint64) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("idcipher: key of %d bytes, want %d", len(key), KeySize)
	}
	if tag > tagMask {
		return nil, fmt.Errorf("idcipher: tag %#x wider than %d bits", tag, TagBits)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("idcipher: %w", err)
	}
	return &Cipher{block: b, tag: tag}, nil
}

// round is the round function: AES of (round, domain, half), truncated to
// 61 bits. buf is the block in and out: passed to the interface method it
// escapes, so each Encrypt or Decrypt allocates one for all its rounds.
func (c *Cipher) round(buf *[16]byte, i int, half uint64) uint64 {
	binary.BigEndian.PutUint64(buf[0:8], uint64(i)<<56|domain)
	binary.BigEndian.PutUint64(buf[8:16], half)
	c.block.Encrypt(buf[:], buf[:])
	return binary.BigEndian.Uint64(buf[:8]) & halfMask
}

// Encrypt returns the id of counter.
func (c *Cipher) Encrypt(counter uint64) string {
	// The plaintext counter‖tag, split into its high and low 61 bits.
	l := counter >> (64 - halfBits)
	r := (counter<<TagBits | c.tag) & halfMask
	buf := new([16]byte)
	for i := range rounds {
		l, r = r, l^c.round(buf, i, r)
	}
	return format(l, r)
}

// Decrypt returns the counter an id was minted for. ok is false when id is
// not in the form Encrypt returns (the prefix, then a lowercase UUID of
// version 4, variant 10) or when it decrypts to another tag: it was not
// minted with this key and tag. When ok is true, Encrypt(counter) == id.
func (c *Cipher) Decrypt(id string) (counter uint64, ok bool) {
	l, r, ok := parse(id)
	if !ok {
		return 0, false
	}
	buf := new([16]byte)
	for i := rounds - 1; i >= 0; i-- {
		l, r = r^c.round(buf, i, l), l
	}
	if r&tagMask != c.tag {
		return 0, false
	}
	return l<<(64-halfBits) | r>>TagBits, true
}

// The 122 bits of ciphertext, l‖r, from the top: 48 bits fill the first six
// bytes of the UUID, 12 bits the rest of bytes 6 and 7 after the version
// nibble, 62 bits the rest of bytes 8 to 15 after the two variant bits.

// format writes the ciphertext as an id.
func format(l, r uint64) string {
	a := l >> 13               // 48 bits
	b := (l >> 1) & 0xfff      // 12 bits
	low := (l&1)<<halfBits | r // 62 bits
	var u [16]byte
	binary.BigEndian.PutUint64(u[0:8], a<<16|0x4000|b)
	binary.BigEndian.PutUint64(u[8:16], 1<<63|low)
	const hex = "0123456789abcdef"
	var s [IDLength]byte
	copy(s[:], Prefix)
	p := len(Prefix)
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[p] = '-'
			p++
		}
		s[p], s[p+1] = hex[x>>4], hex[x&0xf]
		p += 2
	}
	return string(s[:])
}

// parse reads the ciphertext of an id written by format; ok is false for
// any other string, including the same UUID in capitals.
func parse(id string) (l, r uint64, ok bool) {
	if len(id) != IDLength || id[:len(Prefix)] != Prefix {
		return 0, 0, false
	}
	var u [16]byte
	p := len(Prefix)
	for i := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			if id[p] != '-' {
				return 0, 0, false
			}
			p++
		}
		hi, ok1 := unhex(id[p])
		lo, ok2 := unhex(id[p+1])
		if !ok1 || !ok2 {
			return 0, 0, false
		}
		u[i] = hi<<4 | lo
		p += 2
	}
	if u[6]>>4 != 4 || u[8]>>6 != 2 {
		return 0, 0, false
	}
	x, y := binary.BigEndian.Uint64(u[0:8]), binary.BigEndian.Uint64(u[8:16])
	a, b, low := x>>16, x&0xfff, y&(1<<62-1)
	l = a<<13 | b<<1 | low>>halfBits
	return l, low & halfMask, true
}

// unhex is the value of a lowercase hex digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}
