package urlparams

import (
	"strings"
	"testing"
	"time"
)

func TestParseSortsAndRefusesRepeats(t *testing.T) {
	params, err := Parse("size=1&b=2&a=")
	if err != nil {
		t.Fatal(err)
	}
	want := []Param{{"a", ""}, {"b", "2"}, {"size", "1"}}
	if len(params) != len(want) {
		t.Fatalf("got %v, want %v", params, want)
	}
	for i := range want {
		if params[i] != want[i] {
			t.Fatalf("got %v, want %v", params, want)
		}
	}
	// Two repeated parameters: the first by name is reported, every time.
	for range 20 {
		_, err := Parse("z=1&z=2&b=1&b=2&b=3")
		if err == nil || !strings.Contains(err.Error(), `"b" given 3 times`) {
			t.Fatalf("Parse of repeated parameters: %v", err)
		}
	}
	if _, err := Parse("a=%zz"); err == nil {
		t.Fatal("Parse accepted a bad percent-encoding")
	}
}

func TestRetentionParameters(t *testing.T) {
	if n, err := Size("2147483647"); err != nil || n != 1<<31-1 {
		t.Fatalf("Size of the largest: %d, %v", n, err)
	}
	for _, v := range []string{"", "-1", "1e3", "2147483648", " 1"} {
		if _, err := Size(v); err == nil || !strings.Contains(err.Error(), "size=") {
			t.Errorf("Size(%q) = %v, want an error naming size=", v, err)
		}
	}
	if d, err := MaxAge("1h30m"); err != nil || d != 90*time.Minute {
		t.Fatalf("MaxAge(1h30m) = %v, %v", d, err)
	}
	for _, v := range []string{"", "forever", "-1h", "10"} {
		if _, err := MaxAge(v); err == nil || !strings.Contains(err.Error(), "max_age=") {
			t.Errorf("MaxAge(%q) = %v, want an error naming max_age=", v, err)
		}
	}
}

// FuzzParse: any query is refused or parsed into sorted, distinct names.
func FuzzParse(f *testing.F) {
	f.Add("size=1&max_age=1h")
	f.Add("a=1&a=2")
	f.Add("%zz=1;x")
	f.Fuzz(func(t *testing.T, q string) {
		params, err := Parse(q)
		if err != nil {
			return
		}
		for i := 1; i < len(params); i++ {
			if params[i-1].Name >= params[i].Name {
				t.Fatalf("parameters not sorted and distinct: %v", params)
			}
		}
	})
}
