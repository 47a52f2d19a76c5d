package bench

import (
	"errors"
	"io"
)

// chunkDecoder undoes HTTP/1.1's chunked transfer coding (RFC 9112 §7.1)
// on bytes as they come, for the streams the tool reads with its own
// poller (pollread_linux.go), where no io.Reader can block for more.
// net/http's decoder needs a reader to pull from; this one is pushed
// whatever a read returned, and keeps its place between calls.
type chunkDecoder struct {
	state   chunkState
	size    uint64 // the chunk size being read, then what is left of the chunk
	digits  int    // hex digits of the size so far
	lineLen int    // bytes of the current extension or trailer line
}

type chunkState uint8

const (
	chunkSize    chunkState = iota // the chunk size's hex digits
	chunkExt                       // a chunk extension, up to the line's end
	chunkSizeLF                    // the LF after the size line's CR
	chunkData                      // the chunk's data
	chunkDataCR                    // the CRLF after the data
	chunkDataLF                    // the LF of that CRLF
	chunkTrailer                   // trailer lines after the last chunk
	chunkDone                      // the empty line after them: the end
)

// errChunked is a body that is not valid chunked coding.
var errChunked = errors.New("malformed chunked encoding")

// maxChunkLine bounds a chunk extension or a trailer line: a hub that
// sends an endless one must not grow anything.
const maxChunkLine = 4096

// decode appends the body bytes of src to dst. It returns io.EOF once the
// last chunk and its trailers are complete (bytes after that are ignored),
// errChunked when src breaks the coding.
func (d *chunkDecoder) decode(dst, src []byte) ([]byte, error) {
	for i := 0; i < len(src); {
		c := src[i]
		switch d.state {
		case chunkSize:
			switch v, ok := hexDigit(c); {
			case ok:
				if d.digits == 16 {
					return dst, errChunked // more than 64 bits
				}
				d.size, d.digits = d.size<<4|uint64(v), d.digits+1
			case d.digits == 0:
				return dst, errChunked
			case c == ';' || c == ' ' || c == '\t':
				d.state, d.lineLen = chunkExt, 0
			case c == '\r':
				d.state = chunkSizeLF
			case c == '\n':
				d.endSizeLine()
			default:
				return dst, errChunked
			}
			i++
		case chunkExt:
			switch {
			case c == '\n':
				d.endSizeLine()
			case d.lineLen == maxChunkLine:
				return dst, errChunked
			default:
				d.lineLen++
			}
			i++
		case chunkSizeLF:
			if c != '\n' {
				return dst, errChunked
			}
			d.endSizeLine()
			i++
		case chunkData:
			n := int(min(d.size, uint64(len(src)-i)))
			dst = append(dst, src[i:i+n]...)
			d.size -= uint64(n)
			i += n
			if d.size == 0 {
				d.state = chunkDataCR
			}
		case chunkDataCR:
			switch c {
			case '\r':
				d.state = chunkDataLF
			case '\n':
				d.state = chunkSize
			default:
				return dst, errChunked
			}
			i++
		case chunkDataLF:
			if c != '\n' {
				return dst, errChunked
			}
			d.state = chunkSize
			i++
		case chunkTrailer:
			switch {
			case c == '\n' && d.lineLen == 0:
				d.state = chunkDone
				return dst, io.EOF
			case c == '\n':
				d.lineLen = 0
			case c == '\r' && d.lineLen == 0:
				// The CR of an empty line: it does not start a field.
			case d.lineLen == maxChunkLine:
				return dst, errChunked
			default:
				d.lineLen++
			}
			i++
		case chunkDone:
			return dst, io.EOF
		}
	}
	if d.state == chunkDone {
		return dst, io.EOF
	}
	return dst, nil
}

// endSizeLine starts the chunk whose size line just ended, or the
// trailers after the last chunk.
func (d *chunkDecoder) endSizeLine() {
	d.digits, d.lineLen = 0, 0
	if d.size == 0 {
		d.state = chunkTrailer
		return
	}
	d.state = chunkData
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
