// Package ui is what the hub serves to browsers besides the protocol: the
// debug page (subscribe, publish, active subscriptions, token check), and
// hermes.js, the client that lets the tabs of one origin share one
// connection. Everything is plain HTML, CSS and JavaScript embedded in the
// binary: no build step, no request to any other origin.
//
// The package knows nothing of the hub's routes: the hub mounts New's
// handler under its UI path with the prefix stripped, and Script at its
// script path.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every response of the debug UI: the
// page loads its own script and style only (no inline code, nothing from
// another origin), talks to its own origin only, and may not be framed.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

func loadAsset(name, contentType string) asset {
	b, err := static.ReadFile("static/" + name)
	if err != nil {
		// The files are embedded at build time: a missing one is a
		// broken build, not a runtime condition.
		panic("ui: embedded asset missing: " + name)
	}
	sum := sha256.Sum256(b)
	return asset{body: b, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
}

// pageAssets are the files of the debug page, by path under the UI root.
var pageAssets = map[string]asset{
	"/":       loadAsset("index.html", "text/html; charset=utf-8"),
	"/ui.js":  loadAsset("ui.js", "text/javascript; charset=utf-8"),
	"/ui.css": loadAsset("ui.css", "text/css; charset=utf-8"),
}

// scriptAsset is hermes.js, the file kept in the repository for bundlers
// (hub/ui/static/hermes.js) and served by the hub.
var scriptAsset = loadAsset("hermes.js", "text/javascript; charset=utf-8")

// ScriptSource returns hermes.js as embedded.
func ScriptSource() []byte { return bytes.Clone(scriptAsset.body) }

// serveAsset writes a with revalidation: the binary may change under the
// same URL, so browsers keep it but ask again (ETag) each time.
func serveAsset(w http.ResponseWriter, r *http.Request, a asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", a.etag)
	// ServeContent answers If-None-Match, HEAD and ranges.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// Script serves hermes.js.
func Script() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveAsset(w, r, scriptAsset)
	})
}

// Options configures the debug UI.
type Options struct {
	// Checker verifies pasted tokens, as the hub does. Required.
	Checker Checker
	// Keys describes what verifies tokens, never the keys themselves.
	Keys []KeyInfo
	// Logger receives the UI's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// New returns the debug UI's handler, for requests whose path has the UI
// prefix stripped ("/" is the page).
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	tc := &tokenCheck{checker: o.Checker, keys: o.Keys, log: o.Logger}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		w.Header().Set("Referrer-Policy", "no-referrer")
		p := r.URL.Path
		if p == "" {
			p = "/"
		}
		if p == tokenCheckPath {
			tc.ServeHTTP(w, r)
			return
		}
		a, ok := pageAssets[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		serveAsset(w, r, a)
	})
}
