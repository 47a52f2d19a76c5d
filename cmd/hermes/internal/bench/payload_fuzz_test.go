package bench

import "testing"

// FuzzParsePayload: whatever a hub sends as data, parsing never panics, and
// what it accepts encodes back to a payload that parses the same.
func FuzzParsePayload(f *testing.F) {
	f.Add(payload{run: "r", step: 1, pub: 2, seq: 3, target: 4, sent: 5}.encode(100))
	f.Add(payloadMagic + " r 0 0 0 -1 0")
	f.Add(payloadMagic + " r 1 2 3 -2 5")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePayload(s)
		if err != nil {
			return
		}
		if p.seq < 0 || p.step < 0 || p.pub < 0 || p.target < -1 {
			t.Fatalf("accepted out-of-range fields: %+v", p)
		}
		if p.run == "" || containsSpace(p.run) {
			return // not a run id the tool would write; accepted only as foreign
		}
		q, err := parsePayload(p.encode(0))
		if err != nil || q != p {
			t.Fatalf("%+v re-encoded parses as %+v, %v", p, q, err)
		}
	})
}

func containsSpace(s string) bool {
	for i := range len(s) {
		if s[i] == ' ' {
			return true
		}
	}
	return false
}
