package bolt

import (
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	cases := []struct {
		url  string
		path string
		opts Options
	}{
		{"bolt://hermes.db", "hermes.db", Options{}},
		{"bolt://data/hermes.db", "data/hermes.db", Options{}},
		{"bolt:///var/lib/hermes/hermes.db", "/var/lib/hermes/hermes.db", Options{}},
		{"bolt://./hermes.db?size=1000", "./hermes.db", Options{Size: 1000}},
		{"bolt:///tmp/my%20history.db?max_age=720h&size=0", "/tmp/my history.db", Options{MaxAge: 720 * time.Hour}},
		{"bolt://h.db?size=5&max_age=1h30m", "h.db", Options{Size: 5, MaxAge: 90 * time.Minute}},
		{"bolt:h.db", "h.db", Options{}},
		// The reference hub's parameter: accepted, retention is continuous here.
		{"bolt://mercure.db?cleanup_frequency=0.3&size=100", "mercure.db", Options{Size: 100}},
	}
	for _, c := range cases {
		path, opts, err := ParseURL(c.url)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.url, err)
			continue
		}
		if path != c.path || opts != c.opts {
			t.Errorf("ParseURL(%q) = %q, %+v; want %q, %+v", c.url, path, opts, c.path, c.opts)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	cases := map[string]string{
		"redis://localhost":               "scheme",
		"bolt://":                         "no file path",
		"bolt://h.db?size=-1":             "size",
		"bolt://h.db?size=ten":            "size",
		"bolt://h.db?size=1e3":            "size",
		"bolt://h.db?max_age=7d":          "max_age",
		"bolt://h.db?max_age=-1h":         "max_age",
		"bolt://h.db?bucket_name=x":       `unknown parameter "bucket_name"`,
		"bolt://h.db?Size=1":              `unknown parameter "Size"`,
		"bolt://h.db?size=1&size=2":       `"size" given 2 times`,
		"bolt://h.db?size=%zz":            "parameters",
		"bolt://user@h.db":                "only a file path",
		"bolt://h.db#frag":                "only a file path",
		"bolt://host:8080/h.db":           "only a file path",
		"bolt://h.db?cleanup_frequency=2": "cleanup_frequency",
	}
	for u, want := range cases {
		_, _, err := ParseURL(u)
		if want == "" {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%q) = %v; want an error mentioning %q", u, err, want)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := []Options{{Size: -1}, {MaxAge: -time.Second}, {OpenTimeout: -1}, {MaxBatch: -1}, {MaxBatch: 1 << 20}}
	for _, o := range bad {
		if o.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", o)
		}
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("the zero Options are invalid: %v", err)
	}
}

func FuzzParseURL(f *testing.F) {
	for _, s := range []string{"bolt://hermes.db", "bolt:///a/b.db?size=10&max_age=1h", "bolt://x?size=", "bolt:x", "bolt://%00", "bolt://h.db?cleanup_frequency=NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		path, opts, err := ParseURL(s)
		if err != nil {
			return
		}
		if path == "" || strings.ContainsRune(path, 0) {
			t.Fatalf("ParseURL(%q) accepted the path %q", s, path)
		}
		if err := opts.Validate(); err != nil {
			t.Fatalf("ParseURL(%q) returned invalid options: %v", s, err)
		}
	})
}
