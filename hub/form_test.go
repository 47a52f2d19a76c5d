package hub

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestSUB6_ParseFormFollowsURLSearchParams(t *testing.T) {
	cases := []struct {
		in   string
		want []pair
	}{
		{"match=a%2Bb", []pair{{"match", "a+b"}}},
		{"match=a+b", []pair{{"match", "a b"}}},
		{"match", []pair{{"match", ""}}},
		{"a=1&&b=2&", []pair{{"a", "1"}, {"b", "2"}}},
		{"a=x;y", []pair{{"a", "x;y"}}},                             // ';' is not a separator
		{"a=%zz%4", []pair{{"a", "%zz%4"}}},                         // bad escapes kept literally
		{"a=b=c", []pair{{"a", "b=c"}}},                             // only the first '=' splits
		{"t=1&t=2&t=1", []pair{{"t", "1"}, {"t", "2"}, {"t", "1"}}}, // order and repeats kept
		{"%74opic=x", []pair{{"topic", "x"}}},
	}
	for _, c := range cases {
		got, ok := parseForm(c.in, 100)
		if !ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseForm(%q) = %v, %v; want %v", c.in, got, ok, c.want)
		}
	}
}

func TestParseFormBoundsPairs(t *testing.T) {
	if _, ok := parseForm(strings.Repeat("a=1&", 11), 10); ok {
		t.Fatal("11 pairs accepted with a bound of 10")
	}
	if p, ok := parseForm(strings.Repeat("a=1&", 10), 10); !ok || len(p) != 10 {
		t.Fatalf("10 pairs with a bound of 10: %d, %v", len(p), ok)
	}
}

// FuzzParseForm checks that the parser agrees with net/url wherever
// net/url accepts the input (it rejects ';' and bad escapes, which the WHATWG
// algorithm keeps), and never panics.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"topic=a&topic=b&data=x%0Ay", "a+b=c+d", "=&&=", "%", "%%41=%4", "a;b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pairs, ok := parseForm(s, 1000)
		if !ok {
			return
		}
		want, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		got := url.Values{}
		for _, p := range pairs {
			got[p.name] = append(got[p.name], p.value)
		}
		if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("parseForm(%q) = %v; net/url says %v", s, got, want)
		}
	})
}
