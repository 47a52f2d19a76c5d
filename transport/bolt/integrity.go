package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"runtime/debug"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/hermes-hub/hermes/transport"
)

// A damaged file (truncated by a full disk or a bad copy, pages zeroed by
// a failing device) must never crash the hub: bbolt trusts its file and
// reads it through a memory map, so damage shows up as a fault (SIGSEGV or
// SIGBUS, fatal to the process) or a panic in whichever goroutine touches
// it. Three defences:
//
//  1. Before bbolt maps the file, preflight reads its two meta pages with
//     ordinary reads and refuses a file shorter than its own header says
//     (the truncation that made bbolt fault at open).
//  2. After opening, verify walks every bucket and runs bbolt's own
//     consistency check (tx.Check), so zeroed or overwritten pages are
//     refused at start instead of failing later.
//  3. Every access to bbolt runs under guard, which turns faults into
//     panics (debug.SetPanicOnFault) and panics into errors wrapping
//     transport.ErrCorrupt, and marks the transport damaged so that the
//     readiness check fails from then on.

// Layout of a bbolt meta page (go.etcd.io/bbolt/internal/common): a 16-byte
// page header, then magic, version, page size and flags (uint32 each), the
// root bucket (root page id and sequence), the freelist page id, the high
// water mark (pgid: the number of pages in use), the txid and a checksum,
// FNV-64a of everything before it. Native byte order: little endian on
// every platform bbolt supports that Hermes is built for.
const (
	metaOffset    = 16
	metaMagic     = 0xED0CDAED
	metaVersion   = 2
	metaSumOffset = 4*4 + 8*2 + 8*3 // bytes covered by the checksum
)

type boltMeta struct {
	pageSize uint32
	freelist uint64
	root     uint64
	pgid     uint64
	txid     uint64
}

// parseMeta reads the meta at the start of page b; ok is false when it is
// not a valid meta (bbolt then falls back to the other one).
func parseMeta(b []byte) (boltMeta, bool) {
	if len(b) < metaOffset+metaSumOffset+8 {
		return boltMeta{}, false
	}
	m := b[metaOffset:]
	le := binary.LittleEndian
	if le.Uint32(m[0:4]) != metaMagic || le.Uint32(m[4:8]) != metaVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	_, _ = h.Write(m[:metaSumOffset])
	if h.Sum64() != le.Uint64(m[metaSumOffset:]) {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: le.Uint32(m[8:12]),
		root:     le.Uint64(m[16:24]),
		freelist: le.Uint64(m[32:40]),
		pgid:     le.Uint64(m[40:48]),
		txid:     le.Uint64(m[48:56]),
	}, true
}

// preflight checks an existing, non-empty file's meta pages against its
// size before bbolt maps it and, with deep set, walks its page tree
// (walkPages). A missing or empty file is left to bbolt, which initialises
// it.
func preflight(path string, deep bool) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read its header: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() == 0 {
		f.Close()
		return nil
	}
	_, err = readMeta(f)
	f.Close()
	if err != nil || !deep {
		return err
	}
	return walkPages(path)
}

// readMeta returns the meta page bbolt will use, checked against the file.
func readMeta(f *os.File) (boltMeta, error) {
	fi, err := f.Stat()
	if err != nil {
		return boltMeta{}, fmt.Errorf("read its header: %w", err)
	}
	size := fi.Size()
	buf := make([]byte, 4096)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return boltMeta{}, fmt.Errorf("read its header: %w", err)
	}
	m0, ok0 := parseMeta(buf[:n])
	// bbolt finds the second meta one page further, its page size taken
	// from the first meta, or the OS page size when that is unreadable.
	pageSize := int64(os.Getpagesize())
	if ok0 {
		pageSize = int64(m0.pageSize)
	}
	if pageSize < 1024 || pageSize > 1<<20 {
		return boltMeta{}, fmt.Errorf("%w: page size %d in its header", transport.ErrCorrupt, pageSize)
	}
	n, err = f.ReadAt(buf, pageSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return boltMeta{}, fmt.Errorf("read its header: %w", err)
	}
	m1, ok1 := parseMeta(buf[:n])
	var m boltMeta
	switch {
	case ok0 && ok1:
		m = m0
		if m1.txid > m0.txid {
			m = m1
		}
	case ok0:
		m = m0
	case ok1:
		m = m1
	default:
		return boltMeta{}, fmt.Errorf("%w: neither of its two header pages is valid (not a bbolt file, or damaged)", transport.ErrCorrupt)
	}
	if int64(m.pageSize) != pageSize {
		return boltMeta{}, fmt.Errorf("%w: its header pages disagree on the page size", transport.ErrCorrupt)
	}
	if m.pgid < 2 || m.pgid > uint64(size)/uint64(m.pageSize) {
		return boltMeta{}, fmt.Errorf("%w: the file is %d bytes but its header says %d pages of %d bytes: it was truncated",
			transport.ErrCorrupt, size, m.pgid, m.pageSize)
	}
	if m.root < 2 || m.root >= m.pgid || (m.freelist >= m.pgid && m.freelist != ^uint64(0)) {
		return boltMeta{}, fmt.Errorf("%w: its header points past the end of the data (root page %d, freelist page %d, %d pages)",
			transport.ErrCorrupt, m.root, m.freelist, m.pgid)
	}
	return m, nil
}

// verify reads the structure of the whole file: every key of every bucket
// (values are not read, only their lengths, so it costs the tree's pages,
// not the payloads), then bbolt's consistency check of the page tree and
// the freelist. It reports the first few problems.
func verify(db *bbolt.DB) error {
	return guarded(func() error {
		return db.View(func(tx *bbolt.Tx) error {
			if err := walkKeys(tx); err != nil {
				return err
			}
			var problems []string
			total := 0
			for err := range tx.Check() {
				total++
				if len(problems) < 3 {
					problems = append(problems, err.Error())
				}
			}
			if total > 0 {
				return fmt.Errorf("%w: %d consistency errors: %s", transport.ErrCorrupt, total, strings.Join(problems, "; "))
			}
			return nil
		})
	})
}

// walkKeys visits every key of our buckets and checks the key formats and
// the order of the events bucket (bbolt keeps keys in order; a damaged
// page may not).
func walkKeys(tx *bbolt.Tx) error {
	if b := tx.Bucket(bucketEvents); b != nil {
		var prev uint64
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) != 8 {
				return fmt.Errorf("%w: event key %x", transport.ErrCorrupt, k)
			}
			seq := binary.BigEndian.Uint64(k)
			if seq <= prev {
				return fmt.Errorf("%w: event keys out of order (%d after %d)", transport.ErrCorrupt, seq, prev)
			}
			prev = seq
		}
	}
	if b := tx.Bucket(bucketIDs); b != nil {
		var prev []byte
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if n, w := binary.Uvarint(k); w <= 0 || uint64(len(k)) != uint64(w)+n+8 {
				return fmt.Errorf("%w: index key %q", transport.ErrCorrupt, k)
			}
			if prev != nil && bytes.Compare(k, prev) <= 0 {
				return fmt.Errorf("%w: index keys out of order", transport.ErrCorrupt)
			}
			prev = append(prev[:0], k...)
		}
	}
	// Like the entries of ids, those of mint are checked for their form,
	// not against the events: retention leaves the entry of an event it
	// cannot decode (it cannot tell its id), and such an entry names a Seq
	// below the oldest stored, which replays from the oldest (harmless).
	if b := tx.Bucket(bucketMint); b != nil {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 || len(v) != 8 || binary.BigEndian.Uint64(k) == 0 {
				return fmt.Errorf("%w: mint entry %x -> %x", transport.ErrCorrupt, k, v)
			}
		}
	}
	return nil
}

// storagePanic is a fault or panic of the storage library, recovered.
type storagePanic struct{ v any }

func (p *storagePanic) Error() string {
	return fmt.Sprintf("the storage library failed reading the file: %v", p.v)
}
func (p *storagePanic) Unwrap() error { return transport.ErrCorrupt }

// guarded runs fn, turning a memory fault or a panic inside it (bbolt
// reading a damaged page) into a *storagePanic, which wraps
// transport.ErrCorrupt.
func guarded(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = &storagePanic{r}
		}
	}()
	return fn()
}

// guard is guarded for the transport's operations: a recovered fault or
// panic marks the transport damaged (Check reports it from then on) and is
// logged once. A single record that does not decode is an error of the
// operation that met it, not a reason to stop serving the rest.
func (t *Transport) guard(op string, fn func() error) error {
	err := guarded(fn)
	var sp *storagePanic
	if errors.As(err, &sp) {
		err = fmt.Errorf("%s: %w", op, err)
		t.markDamaged(err)
	}
	return err
}

// markDamaged records the first sign of damage.
func (t *Transport) markDamaged(err error) {
	if t.damaged.CompareAndSwap(nil, &err) {
		t.log.Error("bolt: the history file is damaged; the hub is no longer ready. Stop it, then check and repair the file (bbolt check, bbolt compact: see the README)",
			"path", t.path, "error", err)
	}
}
