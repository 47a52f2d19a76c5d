package hubproc

import (
	"strings"
	"testing"
)

// scan feeds writes to a fresh startupLog and returns what it found and
// whether it declared itself ready.
func scan(wantAdmin bool, writes ...string) (base, admin string, ready bool) {
	l := newStartupLog(wantAdmin)
	for _, w := range writes {
		if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
			panic("startupLog.Write must accept everything")
		}
	}
	select {
	case <-l.ready:
		ready = true
	default:
	}
	return l.base, l.admin, ready
}

const (
	textLine  = `time=2025-01-01T00:00:00Z level=INFO msg="listening on http://127.0.0.1:4321" hub=http://127.0.0.1:4321/.well-known/mercure` + "\n"
	jsonLine  = `{"time":"2025-01-01T00:00:00Z","level":"INFO","msg":"listening on http://127.0.0.1:4321","hub":"x"}` + "\n"
	adminText = `time=2025-01-01T00:00:00Z level=INFO msg="admin listening on http://127.0.0.1:9090" pprof=false` + "\n"
	adminJSON = `{"level":"INFO","msg":"admin listening on http://127.0.0.1:9090","pprof":false}` + "\n"
)

func TestStartupLogFindsTheListeningLine(t *testing.T) {
	for name, line := range map[string]string{"text": textLine, "json": jsonLine} {
		base, _, ready := scan(false, "time=x level=INFO msg=starting\n", line)
		if base != "http://127.0.0.1:4321" || !ready {
			t.Errorf("%s: base %q, ready %v; want http://127.0.0.1:4321 and ready", name, base, ready)
		}
	}
}

func TestStartupLogWaitsForTheAdminLineWhenAsked(t *testing.T) {
	if _, _, ready := scan(true, textLine); ready {
		t.Error("ready without the admin line")
	}
	for name, lines := range map[string][]string{"text": {textLine, adminText}, "json": {jsonLine, adminJSON}} {
		base, admin, ready := scan(true, lines...)
		if base != "http://127.0.0.1:4321" || admin != "http://127.0.0.1:9090" || !ready {
			t.Errorf("%s: base %q, admin %q, ready %v", name, base, admin, ready)
		}
	}
}

// The admin line contains "listening on http://" too; it must not pass
// for the public listener even when it comes first.
func TestStartupLogDoesNotTakeTheAdminLineForThePublicOne(t *testing.T) {
	base, admin, ready := scan(true, adminText)
	if base != "" || ready {
		t.Errorf("admin line alone: base %q, ready %v; want neither", base, ready)
	}
	if admin != "http://127.0.0.1:9090" {
		t.Errorf("admin %q", admin)
	}
}

// A record split in the middle of its URL must not yield half a URL.
func TestStartupLogWaitsForTheWholeURL(t *testing.T) {
	cut := strings.Index(textLine, ":4321") + 2 // inside the port
	l := newStartupLog(false)
	_, _ = l.Write([]byte(textLine[:cut]))
	if l.base != "" {
		t.Fatalf("half a line gave base %q", l.base)
	}
	_, _ = l.Write([]byte(textLine[cut:]))
	if l.base != "http://127.0.0.1:4321" {
		t.Fatalf("base %q after the whole line", l.base)
	}
}

func TestLogBufferStopsAtTheCap(t *testing.T) {
	var b LogBuffer
	chunk := strings.Repeat("x", 1<<20)
	for range 6 {
		if n, err := b.Write([]byte(chunk)); n != len(chunk) || err != nil {
			t.Fatalf("Write: %d, %v; want everything accepted", n, err)
		}
	}
	if got := len(b.String()); got != MaxLogBytes {
		t.Fatalf("kept %d bytes, want the cap %d", got, MaxLogBytes)
	}
}

// FuzzStartupLog: whatever a child writes, in whatever pieces, the scanner
// neither panics nor depends on how the output was split, and a URL it
// reports is a whole http:// URL.
func FuzzStartupLog(f *testing.F) {
	f.Add(textLine+adminText, 30)
	f.Add(jsonLine+adminJSON, 61)
	f.Add(adminText+textLine, 0)
	f.Add(`msg="listening on http://"`, 5)
	f.Add(`msg="listening on http://a\"b"`, 20)
	f.Fuzz(func(t *testing.T, out string, cut int) {
		if len(out) > 64<<10 {
			return
		}
		cut = min(max(cut, 0), len(out))
		base1, admin1, ready1 := scan(true, out)
		base2, admin2, ready2 := scan(true, out[:cut], out[cut:])
		if base1 != base2 || admin1 != admin2 || ready1 != ready2 {
			t.Fatalf("one write: %q %q %v; split at %d: %q %q %v", base1, admin1, ready1, cut, base2, admin2, ready2)
		}
		for _, u := range []string{base1, admin1} {
			if u != "" && (!strings.HasPrefix(u, "http://") || len(u) == len("http://") || strings.ContainsAny(u, " \t\n\"\\")) {
				t.Fatalf("reported URL %q", u)
			}
		}
	})
}

// With TLS the hub says https://, and the redirect listener's line
// ("redirect listening on http://…") must not pass for it.
func TestStartupLogFindsTheHTTPSLineNotTheRedirectOne(t *testing.T) {
	redirect := `time=x level=INFO msg="redirect listening on http://127.0.0.1:8080" to_port=4321` + "\n"
	https := `time=x level=INFO msg="listening on https://127.0.0.1:4321" tls=files` + "\n"
	if base, _, ready := scan(false, redirect); base != "" || ready {
		t.Fatalf("redirect line taken for the hub: %q", base)
	}
	if base, _, ready := scan(false, redirect, https); base != "https://127.0.0.1:4321" || !ready {
		t.Errorf("base %q, ready %v; want https://127.0.0.1:4321", base, ready)
	}
}
