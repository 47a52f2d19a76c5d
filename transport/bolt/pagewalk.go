package bolt

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/hermes-hub/hermes/transport"
)

// walkPages is a consistency pass over the page tree of a bbolt file that
// reads it with ordinary reads, before anything trusts it: bbolt's own
// tx.Check follows page headers through the memory map, and a header whose
// overflow count was overwritten (0xffffffff) makes it loop over billions
// of page ids. Every page reachable from the root (branch and leaf pages,
// bucket roots, inline buckets) and the freelist must name itself, have a
// known type and stay below the high water mark, and no page may be
// reached twice. It reads the page headers and element tables, not the
// keys or values (except bucket headers).
//
// Layout (go.etcd.io/bbolt/internal/common): a page starts with id
// (uint64), flags (uint16), count (uint16), overflow (uint32); branch
// elements are pos, ksize (uint32) and the child's pgid (uint64); leaf
// elements are flags, pos, ksize, vsize (uint32), a bucket's value being
// its root pgid and sequence (uint64), followed by an inline page when the
// root is 0.
const (
	pageHeaderSize   = 16
	elementSize      = 16
	flagBranch       = 0x01
	flagLeaf         = 0x02
	flagFreelist     = 0x10
	leafBucketFlag   = 0x01
	bucketHeaderSize = 16
)

type pageWalker struct {
	f        *os.File
	pageSize int64
	hwm      uint64
	seen     []uint64 // bitset of the pages reached
}

func walkPages(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read its pages: %w", err)
	}
	defer f.Close()
	m, err := readMeta(f)
	if err != nil {
		return err
	}
	w := &pageWalker{f: f, pageSize: int64(m.pageSize), hwm: m.pgid, seen: make([]uint64, (m.pgid+63)/64)}
	w.mark(0, 0)
	w.mark(1, 0)
	if m.freelist != ^uint64(0) {
		if err := w.freelist(m.freelist); err != nil {
			return err
		}
	}
	return w.tree(m.root, 0)
}

func (w *pageWalker) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", transport.ErrCorrupt, fmt.Sprintf(format, args...))
}

// mark records pages id..id+overflow as reached; false if one already was.
func (w *pageWalker) mark(id uint64, overflow uint32) bool {
	for p := id; p <= id+uint64(overflow); p++ {
		if w.seen[p/64]&(1<<(p%64)) != 0 {
			return false
		}
		w.seen[p/64] |= 1 << (p % 64)
	}
	return true
}

// header reads and checks the header of page id, and returns its flags,
// count and overflow.
func (w *pageWalker) header(id uint64) (flags uint16, count uint16, overflow uint32, err error) {
	if id < 2 || id >= w.hwm {
		return 0, 0, 0, w.corrupt("page %d is outside the file's %d pages", id, w.hwm)
	}
	var h [pageHeaderSize]byte
	if _, err := w.f.ReadAt(h[:], int64(id)*w.pageSize); err != nil {
		return 0, 0, 0, w.corrupt("page %d: %v", id, err)
	}
	le := binary.LittleEndian
	if got := le.Uint64(h[0:8]); got != id {
		return 0, 0, 0, w.corrupt("page %d identifies itself as page %d", id, got)
	}
	flags, count, overflow = le.Uint16(h[8:10]), le.Uint16(h[10:12]), le.Uint32(h[12:16])
	if uint64(overflow) >= w.hwm-id {
		return 0, 0, 0, w.corrupt("page %d claims %d overflow pages, beyond the file's %d pages", id, overflow, w.hwm)
	}
	if !w.mark(id, overflow) {
		return 0, 0, 0, w.corrupt("page %d is reached twice", id)
	}
	return flags, count, overflow, nil
}

func (w *pageWalker) freelist(id uint64) error {
	flags, count, overflow, err := w.header(id)
	if err != nil {
		return err
	}
	if flags != flagFreelist {
		return w.corrupt("freelist page %d has type %#x", id, flags)
	}
	size := (int64(overflow) + 1) * w.pageSize
	n, skip := int64(count), int64(0)
	if count == 0xFFFF { // the real count is the first element
		var b [8]byte
		if _, err := w.f.ReadAt(b[:], int64(id)*w.pageSize+pageHeaderSize); err != nil {
			return w.corrupt("freelist page %d: %v", id, err)
		}
		n, skip = int64(binary.LittleEndian.Uint64(b[:])), 1
	}
	if n < 0 || pageHeaderSize+(n+skip)*8 > size {
		return w.corrupt("freelist page %d lists %d pages, more than it holds", id, n)
	}
	b := make([]byte, n*8)
	if _, err := w.f.ReadAt(b, int64(id)*w.pageSize+pageHeaderSize+skip*8); err != nil {
		return w.corrupt("freelist page %d: %v", id, err)
	}
	for i := range n {
		if free := binary.LittleEndian.Uint64(b[i*8:]); free < 2 || free >= w.hwm {
			return w.corrupt("freelist page %d lists page %d, outside the file's %d pages", id, free, w.hwm)
		}
	}
	return nil
}

// tree walks the subtree rooted at page id; depth bounds the recursion.
func (w *pageWalker) tree(id uint64, depth int) error {
	if depth > 64 {
		return w.corrupt("page %d: the tree is deeper than 64 levels", id)
	}
	flags, count, overflow, err := w.header(id)
	if err != nil {
		return err
	}
	base := int64(id) * w.pageSize
	size := (int64(overflow) + 1) * w.pageSize
	if pageHeaderSize+int64(count)*elementSize > size {
		return w.corrupt("page %d has %d elements, more than it holds", id, count)
	}
	elems := make([]byte, int(count)*elementSize)
	if _, err := w.f.ReadAt(elems, base+pageHeaderSize); err != nil {
		return w.corrupt("page %d: %v", id, err)
	}
	switch flags {
	case flagBranch:
		for i := range int(count) {
			child := binary.LittleEndian.Uint64(elems[i*elementSize+8:])
			if err := w.tree(child, depth+1); err != nil {
				return err
			}
		}
		return nil
	case flagLeaf:
		return w.leafBuckets(elems, base, size, depth, func(off int64, n int) ([]byte, error) {
			b := make([]byte, n)
			if _, err := w.f.ReadAt(b, base+off); err != nil {
				return nil, w.corrupt("page %d: %v", id, err)
			}
			return b, nil
		})
	default:
		return w.corrupt("page %d has type %#x where a branch or leaf page belongs", id, flags)
	}
}

// leafBuckets follows the bucket elements of a leaf page's element table:
// read returns n bytes at an offset from the page start, size is the
// page's length.
func (w *pageWalker) leafBuckets(elems []byte, base, size int64, depth int, read func(off int64, n int) ([]byte, error)) error {
	le := binary.LittleEndian
	for i := 0; i < len(elems)/elementSize; i++ {
		e := elems[i*elementSize:]
		if le.Uint32(e[0:4])&leafBucketFlag == 0 {
			continue
		}
		pos, ksize, vsize := int64(le.Uint32(e[4:8])), int64(le.Uint32(e[8:12])), int64(le.Uint32(e[12:16]))
		off := pageHeaderSize + int64(i)*elementSize + pos + ksize
		if vsize < bucketHeaderSize || off+vsize > size {
			return w.corrupt("a bucket in the page at offset %d overruns it", base)
		}
		v, err := read(off, int(vsize))
		if err != nil {
			return err
		}
		if root := le.Uint64(v[0:8]); root != 0 {
			if err := w.tree(root, depth+1); err != nil {
				return err
			}
			continue
		}
		// An inline bucket: a leaf page inside the value.
		in := v[bucketHeaderSize:]
		if len(in) < pageHeaderSize {
			return w.corrupt("an inline bucket in the page at offset %d is truncated", base)
		}
		count := int(le.Uint16(in[10:12]))
		if pageHeaderSize+count*elementSize > len(in) {
			return w.corrupt("an inline bucket in the page at offset %d overruns it", base)
		}
		inner := in[pageHeaderSize : pageHeaderSize+count*elementSize]
		err = w.leafBuckets(inner, base, int64(len(in)), depth+1, func(o int64, n int) ([]byte, error) {
			if o+int64(n) > int64(len(in)) {
				return nil, w.corrupt("an inline bucket in the page at offset %d overruns it", base)
			}
			return in[o : o+int64(n)], nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
