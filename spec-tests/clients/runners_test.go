package clients_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/spec-tests/internal/hubproc"
)

// --- PHP: Symfony's Mercure component -------------------------------------

// phpUpdate is one Symfony Update: new Update(topics, data, private, id,
// type, retry).
type phpUpdate struct {
	Topics  []string `json:"topics"`
	Data    string   `json:"data"`
	Private bool     `json:"private,omitempty"`
	ID      string   `json:"id,omitempty"`
	Type    string   `json:"type,omitempty"`
	Retry   int      `json:"retry,omitempty"`
}

// phpPublisher says which token provider the Hub gets.
type phpPublisher struct {
	// Provider is static (StaticTokenProvider), callable
	// (CallableTokenProvider) or factory (FactoryTokenProvider with the
	// HS256 factory of php/HmacTokenFactory.php).
	Provider string `json:"provider"`
	// Token is the JWT of the static and callable providers.
	Token string `json:"token,omitempty"`
	// Secret and Publish configure the factory.
	Secret  string   `json:"secret,omitempty"`
	Publish []string `json:"publish,omitempty"`
}

// phpResult is what Hub::publish did with one update.
type phpResult struct {
	OK     bool   `json:"ok"`
	ID     string `json:"id"`     // the body the hub answered
	Status int    `json:"status"` // the refusal's HTTP status
	Error  string `json:"error"`
}

// phpRun is one run of php/publish.php.
type phpRun struct {
	// Token is the JWT the factory provider produced (factory only).
	Token   string
	Results []phpResult
}

// symfonyPublish publishes the updates one after the other with one PHP
// process and returns one result per update.
func symfonyPublish(t *testing.T, hubURL string, p phpPublisher, updates ...phpUpdate) phpRun {
	t.Helper()
	in := struct {
		phpPublisher
		Hub     string      `json:"hub"`
		Updates []phpUpdate `json:"updates"`
	}{p, hubURL, updates}
	out := runPHP(t, "publish.php", in)
	var run phpRun
	for _, line := range nonEmptyLines(out) {
		var r struct {
			phpResult
			Token *string `json:"token"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("publish.php printed %q: %v", line, err)
		}
		if r.Token != nil {
			run.Token = *r.Token
			continue
		}
		run.Results = append(run.Results, r.phpResult)
	}
	if len(run.Results) != len(updates) {
		t.Fatalf("publish.php reported %d results for %d updates:\n%s", len(run.Results), len(updates), out)
	}
	return run
}

// mustSymfonyPublish publishes and requires every update to be accepted;
// an update with an id must get that id back. It returns the ids.
func mustSymfonyPublish(t *testing.T, hubURL string, p phpPublisher, updates ...phpUpdate) []string {
	t.Helper()
	run := symfonyPublish(t, hubURL, p, updates...)
	out := make([]string, len(updates))
	for i, r := range run.Results {
		if !r.OK {
			t.Fatalf("Symfony could not publish update %d (%q): status %d, %s", i, updates[i].ID, r.Status, r.Error)
		}
		if updates[i].ID != "" && r.ID != updates[i].ID {
			t.Fatalf("Hub::publish returned %q for update id %q", r.ID, updates[i].ID)
		}
		out[i] = r.ID
	}
	return out
}

// symfonyCookie is the mercureAuthorization cookie that Symfony's
// Authorization service builds.
type symfonyCookie struct {
	SetCookie string `json:"set_cookie"` // the Set-Cookie header value
	Token     string `json:"token"`
}

// symfonyAuthorizationCookie runs php/cookie.php for a page at pageURL
// and a hub whose public URL is hubURL.
func symfonyAuthorizationCookie(t *testing.T, hubURL, pageURL string, subscribe []string) symfonyCookie {
	t.Helper()
	in := map[string]any{"hub": hubURL, "request": pageURL, "secret": jwtSecret, "subscribe": subscribe}
	out := runPHP(t, "cookie.php", in)
	var c symfonyCookie
	if err := json.Unmarshal(bytes.TrimSpace(out), &c); err != nil || c.Token == "" {
		t.Fatalf("cookie.php printed %q: %v", out, err)
	}
	return c
}

// runPHP runs php/<script> with input as JSON on standard input.
func runPHP(t *testing.T, script string, input any) []byte {
	t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "php", filepath.Join(clientDir, "php", script))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("php %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, out, stderr.String())
	}
	return out
}

// jwtClaims decodes a JWT's claims, keeping numbers as written.
func jwtClaims(t *testing.T, token string) map[string]json.RawMessage {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("claims of %q: %v", token, err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatalf("claims %s: %v", raw, err)
	}
	return claims
}

// requireFractionalExp fails unless the token's exp is a NumericDate with
// a fraction, the form lcobucci/jwt (and so Symfony) writes.
func requireFractionalExp(t *testing.T, token string) {
	t.Helper()
	exp, ok := jwtClaims(t, token)["exp"]
	if !ok || !strings.Contains(string(exp), ".") {
		t.Fatalf("token exp is %s, want a fractional NumericDate: the test would not cover Symfony's tokens", exp)
	}
}

// --- Node.js: the eventsource package -------------------------------------

// nodeSubConfig is the argument of js/subscribe.mjs.
type nodeSubConfig struct {
	URL   string   `json:"url"`
	Token string   `json:"token,omitempty"`
	Types []string `json:"types,omitempty"`
}

// nodeSub is a running js/subscribe.mjs.
type nodeSub struct {
	*eventLog
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *hubproc.LogBuffer
	done   chan struct{}
}

// startNodeSub subscribes with the eventsource package. A cleanup closes
// its standard input, which ends it.
func startNodeSub(t *testing.T, name string, cfg nodeSubConfig) *nodeSub {
	t.Helper()
	arg, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &nodeSub{eventLog: newEventLog(name), stderr: &hubproc.LogBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command("node", filepath.Join(clientDir, "js", "subscribe.mjs"), string(arg))
	s.cmd.Dir = clientDir
	s.cmd.Stderr = s.stderr
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting node: %v", err)
	}
	var reading sync.WaitGroup
	reading.Go(func() { readJSONLines(stdout, s.eventLog, s.stderr) })
	go func() {
		reading.Wait() // Wait closes stdout: read it all first
		_ = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			evs, _ := s.snapshot()
			t.Logf("node subscriber %s received:\n%s\nstderr:\n%s", name, describe(evs), s.stderr.String())
		}
	})
	return s
}

// stop closes standard input and waits for the process; a subscriber
// that does not exit is killed.
func (s *nodeSub) stop(t *testing.T) {
	t.Helper()
	_ = s.stdin.Close()
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-s.done:
	case <-timer.C:
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("node subscriber %s did not exit when its input closed", s.name)
	}
}

// readJSONLines adds every JSON line of r to log; other lines go to
// junk, which a failing test prints.
func readJSONLines(r io.Reader, log *eventLog, junk io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var e clientEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintf(junk, "not JSON: %s\n", sc.Bytes())
			continue
		}
		log.add(e)
	}
}

// --- Chromium through playwright-core --------------------------------------

// browser is a running js/browser.mjs: one headless Chromium with one
// cookie jar.
type browser struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	output  *hubproc.LogBuffer // every line, for failure messages
	replies chan map[string]any
	done    chan struct{}

	mu        sync.Mutex
	responses []browserResponse // every response the tabs received
}

// browserResponse is one response a tab received, as DevTools saw it.
type browserResponse struct {
	Page         string `json:"response"`
	URL          string `json:"url"`
	Protocol     string `json:"protocol"` // "h2", "http/1.1", ...
	ResourceType string `json:"resourceType"`
}

// responsesTo returns the responses received so far whose URL starts
// with prefix.
func (b *browser) responsesTo(prefix string) []browserResponse {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []browserResponse
	for _, r := range b.responses {
		if strings.HasPrefix(r.URL, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// startBrowser launches Chromium. A cleanup closes it.
func startBrowser(t *testing.T, chromiumArgs ...string) *browser {
	t.Helper()
	b := &browser{output: &hubproc.LogBuffer{}, replies: make(chan map[string]any, 16), done: make(chan struct{})}
	b.cmd = exec.Command("node", filepath.Join(clientDir, "js", "browser.mjs"))
	b.cmd.Dir = clientDir
	b.cmd.Env = append(os.Environ(), "CHROMIUM="+chromiumPath)
	if len(chromiumArgs) > 0 {
		extra, err := json.Marshal(chromiumArgs)
		if err != nil {
			t.Fatal(err)
		}
		b.cmd.Env = append(b.cmd.Env, "CHROMIUM_EXTRA_ARGS="+string(extra))
	}
	b.cmd.Stderr = b.output
	var err error
	if b.stdin, err = b.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := b.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("starting node: %v", err)
	}
	var reading sync.WaitGroup
	reading.Go(func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			fmt.Fprintf(b.output, "%s\n", sc.Bytes())
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			if _, ok := m["response"]; ok {
				var r browserResponse
				if json.Unmarshal(sc.Bytes(), &r) == nil {
					b.mu.Lock()
					b.responses = append(b.responses, r)
					b.mu.Unlock()
				}
				continue
			}
			_, opened := m["opened"]
			_, failed := m["failed"]
			_, done := m["done"]
			if opened || failed || done {
				b.replies <- m
			}
		}
	})
	go func() {
		reading.Wait()
		_ = b.cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() {
		_ = b.stdin.Close()
		timer := time.NewTimer(stopTimeout)
		defer timer.Stop()
		select {
		case <-b.done:
		case <-timer.C:
			_ = b.cmd.Process.Kill()
			<-b.done
			t.Errorf("the browser driver did not exit when its input closed")
		}
		if t.Failed() {
			t.Logf("browser driver output:\n%s", b.output.String())
		}
	})
	return b
}

// open loads url in a new tab named name and waits for the page load.
func (b *browser) open(t *testing.T, name, url string) {
	t.Helper()
	b.command(t, map[string]string{"open": url, "name": name}, "opened")
}

func (b *browser) command(t *testing.T, cmd map[string]string, want string) {
	t.Helper()
	anyCmd := make(map[string]any, len(cmd))
	for k, v := range cmd {
		anyCmd[k] = v
	}
	b.do(t, anyCmd, want)
}

// do sends any command of js/browser.mjs and returns its reply, failing
// the test unless the reply has the key want.
func (b *browser) do(t *testing.T, cmd map[string]any, want string) map[string]any {
	t.Helper()
	line, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.stdin.Write(append(line, '\n')); err != nil {
		t.Fatalf("browser command %s: %v", line, err)
	}
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case r := <-b.replies:
		if _, ok := r[want]; !ok {
			t.Fatalf("browser command %s: %v", line, r)
		}
		if status, ok := r["status"].(float64); ok && status != 200 {
			t.Fatalf("browser command %s: page status %v", line, status)
		}
		return r
	case <-b.done:
		t.Fatalf("the browser driver exited; output:\n%s", b.output.String())
	case <-timer.C:
		t.Fatalf("browser command %s: no answer within %v", line, waitTimeout)
	}
	return nil
}

// On page name of the browser: fill, click, wait for a condition, evaluate,
// close.
func (b *browser) fill(t *testing.T, name, selector, value string) {
	t.Helper()
	b.do(t, map[string]any{"fill": selector, "value": value, "name": name}, "done")
}

func (b *browser) click(t *testing.T, name, selector string) {
	t.Helper()
	b.do(t, map[string]any{"click": selector, "name": name}, "done")
}

// wait polls the JS expression in the page until it is truthy (40 s).
func (b *browser) wait(t *testing.T, name, expr string) {
	t.Helper()
	b.do(t, map[string]any{"wait": expr, "name": name}, "done")
}

func (b *browser) eval(t *testing.T, name, expr string) any {
	t.Helper()
	return b.do(t, map[string]any{"eval": expr, "name": name}, "done")["value"]
}

func (b *browser) close(t *testing.T, name string) {
	t.Helper()
	b.do(t, map[string]any{"close": name}, "done")
}

func nonEmptyLines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
