package bolt

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/internal/idcipher"
)

// Ids minted by the transport (MintID) are the encryption of a counter
// (package idcipher): opaque to subscribers, like random UUIDs, but the
// transport indexes them by their counter in bucket "mint" (counter, 8
// bytes big-endian, -> Seq, 8 bytes), so that the ids of a commit go in at
// the end of that index, in a handful of pages, instead of at as many
// random places of the id index as there are events. Every other id (a
// publisher's, or a copy of a minted id whose counter is already indexed)
// goes to "ids" as before; Lookup of an id that decrypts looks in both and
// takes the earliest occurrence (REC-9).
//
// The cipher's key and tag are created with the file (or at the first open
// of a file of version 1) and kept in meta, with the highest counter ever
// committed, written by every commit that indexes one: after a restart the
// counter resumes above it, so no id stored is ever minted again.

var (
	bucketMint  = []byte("mint")
	keyIDKey    = []byte("id_key")
	keyIDTag    = []byte("id_tag")
	keyMintLast = []byte("mint_last")
)

var _ transport.IDMinter = (*Transport)(nil)

// MintID returns a new opaque id, "urn:uuid:" and what looks like a random
// UUIDv4, unique among every event stored in this file, also across
// restarts.
func (t *Transport) MintID() string {
	return t.idc.Encrypt(t.minted.Add(1))
}

// mintedCounter is the counter of id when this transport minted it (or
// could have: the counter may not have been handed out yet), 0 otherwise.
func (t *Transport) mintedCounter(id string) uint64 {
	if len(id) != idcipher.IDLength {
		return 0 // spares a client id the decryption
	}
	n, ok := t.idc.Decrypt(id)
	if !ok {
		return 0
	}
	return n // 0 is never minted: counters start at 1
}

// loadMint reads or creates the cipher's key and tag, creates the mint
// bucket and restores the counter.
func (t *Transport) loadMint(tx *bbolt.Tx, meta *bbolt.Bucket) error {
	mint, err := tx.CreateBucketIfNotExists(bucketMint)
	if err != nil {
		return err
	}
	key, tagv := meta.Get(keyIDKey), meta.Get(keyIDTag)
	if key == nil && tagv == nil {
		var fresh [idcipher.KeySize + 8]byte
		if _, err := rand.Read(fresh[:]); err != nil {
			return fmt.Errorf("create the id key: %w", err)
		}
		key = fresh[:idcipher.KeySize]
		tagv = seqKey(binary.BigEndian.Uint64(fresh[idcipher.KeySize:]) >> (64 - idcipher.TagBits))
		if err := meta.Put(keyIDKey, key); err != nil {
			return fmt.Errorf("store the id key: %w", err)
		}
		if err := meta.Put(keyIDTag, tagv); err != nil {
			return fmt.Errorf("store the id tag: %w", err)
		}
	}
	if len(key) != idcipher.KeySize || len(tagv) != 8 {
		return fmt.Errorf("%w: id key of %d bytes and tag of %d bytes", transport.ErrCorrupt, len(key), len(tagv))
	}
	c, err := idcipher.New(key, binary.BigEndian.Uint64(tagv))
	if err != nil {
		return fmt.Errorf("%w: %w", transport.ErrCorrupt, err)
	}
	t.idc = c
	var last uint64
	if v := meta.Get(keyMintLast); v != nil {
		if len(v) != 8 {
			return fmt.Errorf("%w: last minted counter of %d bytes", transport.ErrCorrupt, len(v))
		}
		last = binary.BigEndian.Uint64(v)
	}
	if k, _ := mint.Cursor().Last(); k != nil {
		if len(k) != 8 {
			return fmt.Errorf("%w: mint key %x", transport.ErrCorrupt, k)
		}
		// Written with the meta key; this guards against a hand edit.
		last = max(last, binary.BigEndian.Uint64(k))
	}
	t.mintLast = last
	t.minted.Store(last)
	return nil
}

// index records the occurrence seq of an event whose id has the minted
// counter n (0: not a minted id) in tx: in mint when n is not indexed
// yet, in ids otherwise. An entry of mint is never overwritten: it is the
// earliest occurrence.
func index(mint, ids *bbolt.Bucket, id string, n, seq uint64) (minted bool, err error) {
	if n != 0 {
		k := seqKey(n)
		if mint.Get(k) == nil {
			return true, mint.Put(k, seqKey(seq))
		}
	}
	return false, ids.Put(idKey(id, seq), []byte{})
}

// unindex removes the index entry of exactly the occurrence seq of id,
// whose minted counter is n (0: not a minted id): the mint entry if it
// points at seq, the ids entry otherwise.
func unindex(mint, ids *bbolt.Bucket, id string, n, seq uint64) error {
	if n != 0 {
		k := seqKey(n)
		if v := mint.Get(k); v != nil && bytes.Equal(v, seqKey(seq)) {
			return mint.Delete(k)
		}
	}
	return ids.Delete(idKey(id, seq))
}

// lookupMinted returns the Seq the mint bucket gives for counter n.
func lookupMinted(tx *bbolt.Tx, n uint64) (uint64, bool) {
	v := tx.Bucket(bucketMint).Get(seqKey(n))
	if len(v) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}
