package clients_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// pageSub is one subscription a page opens (see web/subscribe.js).
type pageSub struct {
	Name            string   `json:"name"`
	Client          string   `json:"client"` // native, polyfill or fetch
	Topics          []string `json:"topics"`
	WithCredentials bool     `json:"withCredentials,omitempty"`
	Token           string   `json:"token,omitempty"`
	Types           []string `json:"types,omitempty"`
}

// pageProbe is one credentialed fetch() of the hub.
type pageProbe struct {
	Name   string   `json:"name"`
	Topics []string `json:"topics"`
	Token  string   `json:"token,omitempty"`
}

// pageConfig is what /config/<page> serves.
type pageConfig struct {
	Hub           string      `json:"hub"`
	Subscriptions []pageSub   `json:"subscriptions"`
	Probes        []pageProbe `json:"probes,omitempty"`
	// setCookie is sent with the page, as a Symfony controller sends the
	// mercureAuthorization cookie with the page that subscribes.
	setCookie string
}

// webApp plays the web application: another origin than the hub, which
// serves the subscribing page and the client libraries, and receives the
// page's reports.
type webApp struct {
	srv    *httptest.Server
	origin string

	mu      sync.Mutex
	configs map[string]pageConfig
	logs    map[string]*eventLog // by page + "/" + subscription
}

// maxReport bounds one report body.
const maxReport = 1 << 20

func newWebApp(t *testing.T) *webApp {
	t.Helper()
	a := &webApp{configs: map[string]pageConfig{}, logs: map[string]*eventLog{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page/{name}", a.servePage)
	mux.HandleFunc("GET /config/{name}", a.serveConfig)
	mux.HandleFunc("POST /report", a.receiveReport)
	mux.Handle("GET /web/", http.StripPrefix("/web/", http.FileServer(http.Dir(filepath.Join(clientDir, "web")))))
	mux.HandleFunc("GET /node_modules/", serveModule)
	// hermes.js as a bundler would ship it: the repository's copy, served
	// by the application's own origin (SharedWorker needs that).
	mux.HandleFunc("GET /hermes.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(clientDir, "..", "..", "hub", "ui", "static", "hermes.js"))
	})
	a.srv = httptest.NewServer(mux)
	a.origin = a.srv.URL
	t.Cleanup(a.srv.Close)
	return a
}

// pageURL is the address of a page.
func (a *webApp) pageURL(name string) string { return a.origin + "/page/" + name }

// setPage configures a page before a browser opens it.
func (a *webApp) setPage(name string, cfg pageConfig) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.configs[name] = cfg
}

// log is what subscription sub of page received.
func (a *webApp) log(page, sub string) *eventLog {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := page + "/" + sub
	l, ok := a.logs[key]
	if !ok {
		l = newEventLog("page " + key)
		a.logs[key] = l
	}
	return l
}

func (a *webApp) servePage(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	cfg, ok := a.configs[r.PathValue("name")]
	a.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	html, err := os.ReadFile(filepath.Join(clientDir, "web", "subscribe.html"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if cfg.setCookie != "" {
		w.Header().Add("Set-Cookie", cfg.setCookie)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(html)
}

func (a *webApp) serveConfig(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	cfg, ok := a.configs[r.PathValue("name")]
	a.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(cfg)
}

func (a *webApp) receiveReport(w http.ResponseWriter, r *http.Request) {
	var rep struct {
		clientEvent
		Page string `json:"page"`
		Sub  string `json:"sub"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxReport)).Decode(&rep); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.log(rep.Page, rep.Sub).add(rep.clientEvent)
	w.WriteHeader(http.StatusNoContent)
}

// serveModule serves files of node_modules. ES modules compiled by
// TypeScript import "./fetch" without an extension, which bundlers
// resolve; this server does the same by trying ".js".
func serveModule(w http.ResponseWriter, r *http.Request) {
	rel := path.Clean(strings.TrimPrefix(r.URL.Path, "/node_modules/"))
	if rel == "." || strings.HasPrefix(rel, "..") {
		http.NotFound(w, r)
		return
	}
	file := filepath.Join(clientDir, "node_modules", filepath.FromSlash(rel))
	if fi, err := os.Stat(file); err != nil || fi.IsDir() {
		if _, err := os.Stat(file + ".js"); err != nil {
			http.NotFound(w, r)
			return
		}
		file += ".js"
	}
	http.ServeFile(w, r, file)
}
