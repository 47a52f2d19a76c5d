package redis

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in   string
		want Options
	}{
		{"redis://localhost", Options{Addrs: []string{"localhost:6379"}}},
		{"redis://localhost:6380/3", Options{Addrs: []string{"localhost:6380"}, DB: 3}},
		{"REDIS://127.0.0.1:6379/", Options{Addrs: []string{"127.0.0.1:6379"}}},
		{"redis://[::1]:7000/0", Options{Addrs: []string{"[::1]:7000"}}},
		{"redis://user:p%40ss@h:1/0?stream=prod.v1&size=100&max_age=24h",
			Options{Addrs: []string{"h:1"}, Username: "user", Password: "p@ss", Stream: "prod.v1", Size: 100, MaxAge: 24 * time.Hour}},
		{"redis://h?state_size=50", Options{Addrs: []string{"h:6379"}, StateSize: 50}},
		{"redis://:secret@h", Options{Addrs: []string{"h:6379"}, Password: "secret"}},
		{"rediss://cache.example:6380", Options{Addrs: []string{"cache.example:6380"}, TLS: true}},
		{"redis://a:7000,b:7001,c", Options{Addrs: []string{"a:7000", "b:7001", "c:6379"}}},
		{"redis+sentinel://s1,s2:26380/2?master=mymaster&sentinel_password=x",
			Options{Addrs: []string{"s1:26379", "s2:26380"}, DB: 2, MasterName: "mymaster", SentinelPassword: "x"}},
		{"rediss+sentinel://u:p@s1/0?master=m", Options{Addrs: []string{"s1:26379"}, MasterName: "m", Username: "u", Password: "p", TLS: true}},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", tt.in, err)
			continue
		}
		if !slices.Equal(got.Addrs, tt.want.Addrs) {
			t.Errorf("ParseURL(%q).Addrs = %q, want %q", tt.in, got.Addrs, tt.want.Addrs)
		}
		got.Addrs, tt.want.Addrs = nil, nil
		if got.stream() != tt.want.stream() || got.DB != tt.want.DB || got.Username != tt.want.Username ||
			got.Password != tt.want.Password || got.TLS != tt.want.TLS || got.Size != tt.want.Size ||
			got.MaxAge != tt.want.MaxAge || got.StateSize != tt.want.StateSize || got.MasterName != tt.want.MasterName || got.SentinelPassword != tt.want.SentinelPassword {
			t.Errorf("ParseURL(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// TestParseURLRefusesBadURLs: each bad URL gets an error that says what is
// wrong, and never echoes the password.
func TestParseURLRefusesBadURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "want redis://host:port/db"},
		{"localhost:6379", "want redis://host:port/db"},
		{"http://localhost", `scheme "http"`},
		{"redis://", "has no host"},
		{"redis://:pw@", "has no host"},
		{"redis://host:0", "bad port"},
		{"redis://host:65536", "bad port"},
		{"redis://host:x", "bad port"},
		{"redis://a,,b", "empty address"},
		{"redis://a:1,a:1", "given twice"},
		{"redis://h/db1", "want a database number"},
		{"redis://h?state_size=0", "state_size"},
		{"redis://h?state_size=-1", "state_size"},
		{"redis://h?state_size=2000000", "state_size"},
		{"redis://h/1/2", "want a database number"},
		{"redis://h/-1", "want a database number"},
		{"redis://h#frag", "no fragment"},
		{"redis://h/0?size=-1", "size="},
		{"redis://h/0?size=1e3", "size="},
		{"redis://h/0?max_age=forever", "max_age="},
		{"redis://h/0?max_age=-1h", "max_age="},
		{"redis://h/0?stream=", "stream is empty"},
		{"redis://h/0?stream=a%20b", "stream name"},
		{"redis://h/0?stream=" + strings.Repeat("s", 101), "longer than"},
		{"redis://h/0?size=1&size=2", "given 2 times"},
		{"redis://h/0?master=m", "for redis+sentinel"},
		{"redis://h/0?sentinel_password=x", "for redis+sentinel"},
		{"redis://h/0?bogus=1", `unknown parameter "bogus"`},
		{"redis://h/0?%zz", "parameters"},
		{"redis+sentinel://s1/0", "needs master=NAME"},
		{"redis+sentinel://s1/0?master=", "master is empty"},
		{"redis://a:1,b:2/1", "only database 0"},
		{"redis://us%zzer:pw@h", "percent-encoding in the user name"},
		{"redis://u:p%zz@h", "percent-encoding in the password"},
		{"redis://h\x00/0", "control characters"},
	}
	for _, tt := range tests {
		_, err := ParseURL(tt.in)
		if err == nil {
			t.Errorf("ParseURL(%q) accepted a bad URL", tt.in)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseURL(%q) = %q, want it to say %q", tt.in, err, tt.want)
		}
		if strings.Contains(err.Error(), "pw") && strings.Contains(tt.in, ":pw@") {
			t.Errorf("ParseURL(%q) error %q shows the password", tt.in, err)
		}
	}
}

// FuzzParseURL: the parser never panics, and whatever it accepts is valid
// options with at least one address.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"redis://localhost", "rediss://u:p@h:6380/2?stream=s&size=10&max_age=1h",
		"redis://a:1,b:2", "redis+sentinel://s1,s2/0?master=m", "redis://[::1]:7000/0", "redis://h/0?size=1&size=2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := ParseURL(raw)
		if err != nil {
			return
		}
		if err := o.Validate(); err != nil {
			t.Fatalf("ParseURL(%q) accepted invalid options: %v", raw, err)
		}
		if len(o.Addrs) == 0 {
			t.Fatalf("ParseURL(%q) accepted no address", raw)
		}
		if o.MasterName == "" && strings.Contains(strings.ToLower(raw), "+sentinel://") {
			t.Fatalf("ParseURL(%q) accepted Sentinel without a master", raw)
		}
	})
}
