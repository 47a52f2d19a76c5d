package idcipher

import (
	"crypto/rand"
	"math"
	"regexp"
	"testing"

	"github.com/google/uuid"
)

// testCipher returns a cipher with a random key and tag.
func testCipher(t testing.TB) *Cipher {
	t.Helper()
	key := make([]byte, KeySize)
	_, _ = rand.Read(key)
	var tb [8]byte
	_, _ = rand.Read(tb[:])
	tag := uint64(tb[0])<<50 | uint64(tb[1])<<42 | uint64(tb[2])<<34 | uint64(tb[3])<<26 | uint64(tb[4])<<18 | uint64(tb[5])<<10 | uint64(tb[6])<<2 | uint64(tb[7])&3
	c, err := New(key, tag)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// idPattern is what the protocol checklist expects of generated ids, with
// the version and variant of a random UUID.
var idPattern = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestRoundTrip(t *testing.T) {
	c := testCipher(t)
	counters := []uint64{0, 1, 2, 7, 8, 1 << 32, 1<<61 - 1, 1 << 61, math.MaxUint64 - 1, math.MaxUint64}
	for i := range uint64(10_000) {
		counters = append(counters, i*0x9e3779b97f4a7c15)
	}
	for _, n := range counters {
		id := c.Encrypt(n)
		if !idPattern.MatchString(id) {
			t.Fatalf("Encrypt(%d) = %q, not a urn:uuid of version 4", n, id)
		}
		if _, err := uuid.Parse(id); err != nil {
			t.Fatalf("Encrypt(%d) = %q: %v", n, id, err)
		}
		got, ok := c.Decrypt(id)
		if !ok || got != n {
			t.Fatalf("Decrypt(Encrypt(%d)) = %d, %v", n, got, ok)
		}
	}
}

func TestDistinctCountersGiveDistinctIDs(t *testing.T) {
	c := testCipher(t)
	seen := make(map[string]uint64)
	for n := range uint64(200_000) {
		id := c.Encrypt(n)
		if prev, dup := seen[id]; dup {
			t.Fatalf("counters %d and %d both encrypt to %q", prev, n, id)
		}
		seen[id] = n
	}
}

// TestIDsHideOrder checks that consecutive counters do not give ids in
// order, nor ids sharing their leading digits: about half of consecutive
// pairs should compare either way, and a shared prefix of 4 hex digits is
// rare (1 in 65536 pairs).
func TestIDsHideOrder(t *testing.T) {
	c := testCipher(t)
	const n = 20_000
	up, shared := 0, 0
	prev := c.Encrypt(0)
	for i := uint64(1); i < n; i++ {
		id := c.Encrypt(i)
		if id > prev {
			up++
		}
		if id[:len(Prefix)+4] == prev[:len(Prefix)+4] {
			shared++
		}
		prev = id
	}
	if up < n*45/100 || up > n*55/100 {
		t.Errorf("%d of %d consecutive ids are increasing; want about half", up, n-1)
	}
	if shared > 5 {
		t.Errorf("%d of %d consecutive ids share their first 4 hex digits", shared, n-1)
	}
}

func TestKeyAndTagMatter(t *testing.T) {
	key := []byte("0123456789abcdef")
	a, err := New(key, 77)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := New([]byte("0123456789abcdeg"), 77)
	if err != nil {
		t.Fatal(err)
	}
	otherTag, err := New(key, 76)
	if err != nil {
		t.Fatal(err)
	}
	id := a.Encrypt(42)
	if id == otherKey.Encrypt(42) || id == otherTag.Encrypt(42) {
		t.Fatal("another key or tag gives the same id")
	}
	if _, ok := otherKey.Decrypt(id); ok {
		t.Error("an id of another key decrypts")
	}
	// Another tag: another file started with a copied key.
	if _, ok := otherTag.Decrypt(id); ok {
		t.Error("an id of another tag decrypts")
	}
}

func TestRandomV4DoesNotDecrypt(t *testing.T) {
	c := testCipher(t)
	for range 100_000 {
		id := "urn:uuid:" + uuid.NewString()
		if n, ok := c.Decrypt(id); ok {
			t.Fatalf("random %q decrypts to %d (probability 2^-58)", id, n)
		}
	}
}

func TestDecryptRefusesOtherForms(t *testing.T) {
	c := testCipher(t)
	id := c.Encrypt(12345)
	upper := []byte(id)
	for i := len(Prefix); i < len(upper); i++ {
		if upper[i] >= 'a' && upper[i] <= 'f' {
			upper[i] -= 'a' - 'A'
		}
	}
	for _, bad := range []string{
		"", id[len(Prefix):], "URN:UUID:" + id[len(Prefix):], string(upper), id + "0", id[:len(id)-1],
		id[:len(Prefix)+8] + "0" + id[len(Prefix)+9:],   // a dash replaced
		id[:len(Prefix)+14] + "7" + id[len(Prefix)+15:], // version 7
		id[:len(Prefix)+19] + "c" + id[len(Prefix)+20:], // variant 11
		id[:len(Prefix)+3] + "g" + id[len(Prefix)+4:],
	} {
		if bad == id {
			continue
		}
		if n, ok := c.Decrypt(bad); ok {
			t.Errorf("Decrypt(%q) = %d, true; want false", bad, n)
		}
	}
	// Every single-digit change of a valid id gives another UUID, which
	// must not decrypt under the tag (each is a random-looking block).
	for i := len(Prefix); i < len(id); i++ {
		if id[i] == '-' || i == len(Prefix)+14 {
			continue
		}
		b := []byte(id)
		b[i] = "0123456789abcdef"[(strings16(b[i])+1)%16]
		if n, ok := c.Decrypt(string(b)); ok {
			t.Errorf("Decrypt of %q changed at %d = %d, true", id, i, n)
		}
	}
}

func strings16(c byte) int {
	v, _ := unhex(c)
	return int(v)
}

func TestNewRejectsBadParameters(t *testing.T) {
	if _, err := New(make([]byte, 15), 0); err == nil {
		t.Error("New accepted a 15-byte key")
	}
	if _, err := New(make([]byte, KeySize), 1<<TagBits); err == nil {
		t.Error("New accepted a 59-bit tag")
	}
	if _, err := New(make([]byte, KeySize), 1<<TagBits-1); err != nil {
		t.Error(err)
	}
}

func FuzzDecrypt(f *testing.F) {
	key := []byte("0123456789abcdef")
	c, err := New(key, 0x2a2a2a2a2a2a2a)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.Encrypt(1))
	f.Add(c.Encrypt(math.MaxUint64))
	f.Add("urn:uuid:00000000-0000-4000-8000-000000000000")
	f.Add("urn:uuid:" + uuid.NewString())
	f.Add("")
	f.Fuzz(func(t *testing.T, id string) {
		// Whatever parses is written back the same: a UUID has one form.
		if l, r, ok := parse(id); ok {
			if l > halfMask || r > halfMask {
				t.Fatalf("parse(%q) = %#x, %#x: wider than a half", id, l, r)
			}
			if back := format(l, r); back != id {
				t.Fatalf("parse(%q) then format = %q", id, back)
			}
		}
		n, ok := c.Decrypt(id)
		if !ok {
			return
		}
		// Only the exact id minted for n decrypts.
		if again := c.Encrypt(n); again != id {
			t.Fatalf("Decrypt(%q) = %d, but Encrypt(%d) = %q", id, n, n, again)
		}
	})
}

func BenchmarkEncrypt(b *testing.B) {
	c := testCipher(b)
	var n uint64
	for b.Loop() {
		n++
		_ = c.Encrypt(n)
	}
}

func BenchmarkDecrypt(b *testing.B) {
	c := testCipher(b)
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = c.Encrypt(uint64(i))
	}
	i := 0
	for b.Loop() {
		if _, ok := c.Decrypt(ids[i%len(ids)]); !ok {
			b.Fatal("a minted id does not decrypt")
		}
		i++
	}
}
