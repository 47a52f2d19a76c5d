package clients_test

import (
	"strings"
	"testing"
)

// TestDebugUIEndToEnd drives the debug UI (--ui) in Chromium as a developer
// would: watch the active subscriptions, subscribe to a URI template from
// the page, see that subscription appear in the list, publish from the
// page's form, see the update arrive in the list with its id, type,
// matched selector and data, check a token, then close the subscription
// and see it vanish from the list. The page must run without a single
// Content-Security-Policy violation.
func TestDebugUIEndToEnd(t *testing.T) {
	needClients(t, "node", "chromium")
	hub := startHub(t, hubOptions{extra: []string{"--ui", "--subscriptions"}})
	pub := mint(t, []string{"*"}, nil)
	sub := mint(t, nil, []string{"*"})
	b := startBrowser(t)
	b.open(t, "ui", hub.base+"/.well-known/mercure/ui/")

	const template = "https://example.com/books/{id}"
	// A JS expression: does the subscription list show the template?
	listed := `[...document.querySelectorAll('#subs-list tr')].some((tr) => tr.cells[1].textContent === '` + template + `')`

	b.fill(t, "ui", "#subs-token", sub)
	b.click(t, "ui", "#subs-button")
	b.wait(t, "ui", `document.getElementById('subs-status').textContent.includes('live')`)
	if b.eval(t, "ui", listed) != false {
		t.Fatal("the template is listed before anyone subscribed to it")
	}

	b.fill(t, "ui", "#sub-selectors", template)
	b.fill(t, "ui", "#sub-token", sub)
	b.click(t, "ui", "#sub-button")
	b.wait(t, "ui", `document.querySelector('#sub-list .state')?.textContent === 'open'`)
	b.wait(t, "ui", listed)

	b.fill(t, "ui", "#pub-topics", "https://example.com/books/1")
	b.fill(t, "ui", "#pub-data", "line one\nline two")
	b.fill(t, "ui", "#pub-id", "ui-1")
	b.fill(t, "ui", "#pub-type", "book.updated")
	b.fill(t, "ui", "#pub-token", pub)
	b.click(t, "ui", "#pub-button")
	b.wait(t, "ui", `document.getElementById('pub-result').textContent === 'published, id ui-1'`)
	b.wait(t, "ui", `document.querySelector('#updates tr[data-id="ui-1"]') !== null`)
	cells, _ := b.eval(t, "ui", `[...document.querySelector('#updates tr[data-id="ui-1"]').cells].slice(1).map((c) => c.textContent)`).([]any)
	want := []any{"ui-1", "book.updated", template, "line one\nline two"}
	if len(cells) != len(want) {
		t.Fatalf("update row %v, want cells %q", cells, want)
	}
	for i := range want {
		if cells[i] != want[i] {
			t.Errorf("update row cell %d = %q, want %q", i+1, cells[i], want[i])
		}
	}

	// The token check, accepted and refused.
	b.fill(t, "ui", "#check-token", pub)
	b.click(t, "ui", "#check-button")
	b.wait(t, "ui", `document.querySelector('#check-result .role-publisher h3')?.textContent === 'publisher: accepted'`)
	if got := b.eval(t, "ui", `document.getElementById('check-result').textContent`).(string); !strings.Contains(got, "legacy") || !strings.Contains(got, "secret (HS256)") || strings.Contains(got, jwtSecret) {
		t.Errorf("token check shows %q: want the dialect and the key's kind, never the key", got)
	}
	b.fill(t, "ui", "#check-token", mintWith(t, jwtSecret+" but not quite", []string{"*"}, nil))
	b.click(t, "ui", "#check-button")
	b.wait(t, "ui", `document.querySelector('#check-result .role-publisher h3')?.textContent.startsWith('publisher: refused (401')`)

	// Closing the subscription ends its stream: it vanishes from the list.
	b.click(t, "ui", "#sub-list button")
	b.wait(t, "ui", "!("+listed+")")

	if out := b.output.String(); strings.Contains(out, "Content Security Policy") || strings.Contains(out, `"pageerror"`) {
		t.Errorf("the page hit its CSP or threw:\n%s", out)
	}
}
