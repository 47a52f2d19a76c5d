package bench

import (
	"bytes"
	"errors"
	"io"
	"net/http/httputil"
	"testing"
)

// decodeInPieces feeds enc to a chunkDecoder piece bytes at a time.
func decodeInPieces(enc []byte, piece int) ([]byte, error) {
	var d chunkDecoder
	var out []byte
	for len(enc) > 0 {
		n := min(piece, len(enc))
		var err error
		out, err = d.decode(out, enc[:n])
		enc = enc[n:]
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func TestChunkDecoder(t *testing.T) {
	cases := []struct {
		name, in, want string
		err            error
	}{
		{"two chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "abcde", io.EOF},
		{"bare LF line ends", "3\nabc\n0\n\n", "abc", io.EOF},
		{"extension and trailer", "3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n", "abc", io.EOF},
		{"upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", io.EOF},
		{"not ended yet", "3\r\nabc\r\n4\r\nde", "abcde", nil},
		{"no size", "\r\nabc", "", errChunked},
		{"not hex", "3g\r\n", "", errChunked},
		{"data longer than its size", "2\r\nabc\r\n", "ab", errChunked},
		{"size past 64 bits", "10000000000000000\r\n", "", errChunked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, piece := range []int{1, 2, 7, 1 << 20} {
				got, err := decodeInPieces([]byte(c.in), piece)
				if string(got) != c.want || !errors.Is(err, c.err) && !(err == nil && c.err == nil) {
					t.Fatalf("in pieces of %d: got %q, %v; want %q, %v", piece, got, err, c.want, c.err)
				}
			}
		})
	}
}

// FuzzChunkDecoder: whatever the body and however the coded bytes are cut
// into reads, the decoder gives back exactly what net/http's encoder
// coded; on any input it never panics.
func FuzzChunkDecoder(f *testing.F) {
	f.Add([]byte("data: x\n\n"), []byte(""), 1, 3)
	f.Add([]byte(""), []byte("5;e\r\nhello\r\n0\r\n\r\n"), 2, 1)
	f.Fuzz(func(t *testing.T, body, raw []byte, piece, writes int) {
		if piece < 1 || writes < 1 || writes > 16 {
			t.Skip()
		}
		_, _ = decodeInPieces(raw, piece) // arbitrary input: must not panic

		var enc bytes.Buffer
		w := httputil.NewChunkedWriter(&enc)
		step := max(1, len(body)/writes)
		for rest := body; len(rest) > 0; {
			n := min(step, len(rest))
			_, _ = w.Write(rest[:n])
			rest = rest[n:]
		}
		_ = w.Close()
		enc.WriteString("\r\n") // the empty trailer section
		got, err := decodeInPieces(enc.Bytes(), piece)
		if !errors.Is(err, io.EOF) || !bytes.Equal(got, body) {
			t.Fatalf("decoded %q, %v; want %q and the end", got, err, body)
		}
	})
}
