package hub

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hermes-hub/hermes/auth"
	"github.com/hermes-hub/hermes/hub/topic"
	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/memory"
)

// rawClient speaks HTTP/1.1 on one connection, byte for byte.
type rawClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialPublisher(t *testing.T, srv *httptest.Server) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawClient{t: t, c: c, br: bufio.NewReader(c)}
}

// dialTakenOver connects and publishes "urn:first" with the extra fields:
// net/http serves it, and the hub takes the connection over.
func dialTakenOver(t *testing.T, srv *httptest.Server, extra ...string) *rawClient {
	t.Helper()
	rc := dialPublisher(t, srv)
	rc.send(postRequest(publishForm("urn:first"), extra...))
	rc.expectPublished("urn:first")
	return rc
}

func (rc *rawClient) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatal(err)
	}
}

// response reads one answer, body included.
func (rc *rawClient) response() (*http.Response, string) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		rc.t.Fatalf("reading an answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatalf("reading an answer's body: %v", err)
	}
	return resp, string(body)
}

// expectPublished reads an answer and checks it is the 200 of id.
func (rc *rawClient) expectPublished(id string) *http.Response {
	rc.t.Helper()
	resp, body := rc.response()
	if resp.StatusCode != http.StatusOK || body != id {
		rc.t.Fatalf("answer %d %q, want 200 %q", resp.StatusCode, body, id)
	}
	return resp
}

// postRequest is a publish of form with the usual headers and extra ones.
func postRequest(form string, extra ...string) string {
	var b strings.Builder
	b.WriteString("POST " + Path + " HTTP/1.1\r\nHost: hub.test\r\nUser-Agent: raw\r\nContent-Type: application/x-www-form-urlencoded\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(form), form)
	return b.String()
}

func publishForm(id string) string {
	return url.Values{"topic": {"https://example.com/t"}, "id": {id}, "data": {"data of " + id}}.Encode()
}

// storedIDs lists the ids of the events in tr, in order.
func storedIDs(t *testing.T, tr transport.Transport) []string {
	t.Helper()
	var ids []string
	if err := tr.Replay(context.Background(), 0, tr.LastSeq(), func(ev *transport.Event) error {
		ids = append(ids, ev.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestPUB_KeepAlivePublisherIsTakenOverAfterItsFirstPublish: the first
// publish of a keep-alive connection is served by net/http, the next ones
// by the hub's loop, one by one and pipelined, with the same answers and
// the events stored in order.
func TestPUB_KeepAlivePublisherIsTakenOverAfterItsFirstPublish(t *testing.T) {
	tr := memory.New(memory.Options{Size: 100})
	h, srv := newTestHubOn(t, tr)
	fp := h.fastPublish.Load()
	rc := dialPublisher(t, srv)
	var want []string
	for i := range 5 {
		id := fmt.Sprintf("urn:one-by-one:%d", i)
		rc.send(postRequest(publishForm(id)))
		resp := rc.expectPublished(id)
		want = append(want, id)
		for name, value := range map[string]string{
			"Content-Type":           "text/plain; charset=utf-8",
			"X-Content-Type-Options": "nosniff",
			"Content-Length":         fmt.Sprint(len(id)),
		} {
			if got := resp.Header.Get(name); got != value {
				t.Errorf("answer %d: %s = %q, want %q", i, name, got, value)
			}
		}
		if _, err := http.ParseTime(resp.Header.Get("Date")); err != nil {
			t.Errorf("answer %d: Date %q: %v", i, resp.Header.Get("Date"), err)
		}
	}
	if got, served := fp.takenOver.Load(), fp.served.Load(); got != 1 || served != 4 {
		t.Fatalf("taken over %d times, loop served %d; want 1 and 4", got, served)
	}
	var pipelined strings.Builder
	for i := range 3 {
		id := fmt.Sprintf("urn:pipelined:%d", i)
		pipelined.WriteString(postRequest(publishForm(id)))
		want = append(want, id)
	}
	rc.send(pipelined.String())
	for _, id := range want[5:] {
		rc.expectPublished(id)
	}
	if served := fp.served.Load(); served != 7 {
		t.Fatalf("loop served %d, want 7", served)
	}
	if got := storedIDs(t, tr); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
}

// TestPUB_TakenOverConnectionHandsOtherRequestsBack: a request that is not
// a plain publish, alone or pipelined between publishes, is served by
// net/http on the same connection, in order; the next publish is taken
// over again.
func TestPUB_TakenOverConnectionHandsOtherRequestsBack(t *testing.T) {
	tr := memory.New(memory.Options{Size: 100})
	h, srv := newTestHubOn(t, tr)
	fp := h.fastPublish.Load()
	rc := dialPublisher(t, srv)
	rc.send(postRequest(publishForm("urn:a")))
	rc.expectPublished("urn:a")
	rc.send("GET /healthz HTTP/1.1\r\nHost: hub.test\r\n\r\n")
	if resp, _ := rc.response(); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz after a taken-over publish: %d", resp.StatusCode)
	}
	if fp.handedBack.Load() != 1 {
		t.Fatalf("handed back %d times, want 1", fp.handedBack.Load())
	}
	rc.send(postRequest(publishForm("urn:b")))
	rc.expectPublished("urn:b")
	if fp.takenOver.Load() != 2 {
		t.Fatalf("taken over %d times, want 2", fp.takenOver.Load())
	}
	// Pipelined: a publish for the loop, a request for net/http (a field
	// the loop leaves to net/http), a publish net/http serves and hands
	// over again, and one more for the loop.
	rc.send(postRequest(publishForm("urn:c")) +
		postRequest(publishForm("urn:d"), "Origin: https://app.test") +
		"GET /healthz HTTP/1.1\r\nHost: hub.test\r\n\r\n" +
		postRequest(publishForm("urn:e")) +
		postRequest(publishForm("urn:f")))
	rc.expectPublished("urn:c")
	rc.expectPublished("urn:d")
	if resp, _ := rc.response(); resp.StatusCode != http.StatusOK {
		t.Fatalf("pipelined GET /healthz: %d", resp.StatusCode)
	}
	rc.expectPublished("urn:e")
	rc.expectPublished("urn:f")
	if got := storedIDs(t, tr); fmt.Sprint(got) != "[urn:a urn:b urn:c urn:d urn:e urn:f]" {
		t.Fatalf("stored %v", got)
	}
	if fp.handedBack.Load() < 2 || fp.served.Load() < 2 {
		t.Fatalf("handed back %d, loop served %d: the pipelined requests did not cross both paths", fp.handedBack.Load(), fp.served.Load())
	}
}

// bearerAuth lets publish only requests with "Authorization: Bearer good"
// or the cookie mercureAuthorization=good.
type bearerAuth struct{ all *topic.Matcher }

func (a bearerAuth) Authenticate(r *http.Request, role auth.Role) (*auth.Grant, error) {
	if c, err := r.Cookie("mercureAuthorization"); err == nil && c.Value == "good" {
		return &auth.Grant{Publish: []*topic.Matcher{a.all}}, nil
	}
	switch r.Header.Get("Authorization") {
	case "Bearer panic":
		panic("bearerAuth: asked to panic")
	case "Bearer good":
		return &auth.Grant{Publish: []*topic.Matcher{a.all}}, nil
	case "":
		return nil, auth.ErrMissingToken()
	default:
		return nil, &auth.Error{Status: http.StatusUnauthorized, Code: auth.CodeInvalidToken, Reason: "bad token"}
	}
}

func (a bearerAuth) ResourceID() string { return "http://hub.test" + Path }

// TestAUTH_TakenOverPublishesAreAuthorizedEachAndRefusalsKeepTheConnection:
// the loop carries the token fields to the authorizer; a refusal answers as
// net/http would and the connection serves the next publish.
func TestAUTH_TakenOverPublishesAreAuthorizedEachAndRefusalsKeepTheConnection(t *testing.T) {
	tr := memory.New(memory.Options{Size: 100})
	h, srv := serveHub(t, Config{Transport: tr, Auth: bearerAuth{mustMatcher(t, topic.TypeLegacy, "*")}, Heartbeat: -1})
	fp := h.fastPublish.Load()
	rc := dialTakenOver(t, srv, "Authorization: Bearer good")

	rc.send(postRequest(publishForm("urn:bad"), "Authorization: Bearer bad"))
	resp, _ := rc.response()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("bad token in the loop: %d, WWW-Authenticate %q; want 401 with a Bearer challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	rc.send(postRequest(publishForm("urn:no-token")))
	if resp, _ := rc.response(); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token in the loop: %d, want 401", resp.StatusCode)
	}
	rc.send(postRequest(publishForm("urn:cookie"), "Cookie: other=1; mercureAuthorization=good"))
	rc.expectPublished("urn:cookie")
	bigOK := url.Values{"topic": {"https://example.com/t"}, "id": {"urn:big"}, "data": {strings.Repeat("y", 40<<10)}}.Encode()
	rc.send(postRequest(bigOK, "Authorization: Bearer good"))
	rc.expectPublished("urn:big")
	if fp.served.Load() != 4 {
		t.Fatalf("loop served %d, want 4", fp.served.Load())
	}
	if got := storedIDs(t, tr); fmt.Sprint(got) != "[urn:first urn:cookie urn:big]" {
		t.Fatalf("stored %v", got)
	}
	var data string
	_ = tr.Replay(context.Background(), 0, tr.LastSeq(), func(ev *transport.Event) error { data = ev.Data; return nil })
	if data != strings.Repeat("y", 40<<10) {
		t.Fatalf("the large body arrived as %d bytes", len(data))
	}
}

// TestPUB_TakenOverRefusalOfABodyStillArrivingClosesTheConnection: a
// refusal answered before the body was read, while the body is still
// arriving, ends the connection after the answer instead of waiting for
// the rest, as under net/http; the stored history is untouched.
func TestPUB_TakenOverRefusalOfABodyStillArrivingClosesTheConnection(t *testing.T) {
	tr := memory.New(memory.Options{Size: 10})
	_, srv := serveHub(t, Config{Transport: tr, Auth: bearerAuth{mustMatcher(t, topic.TypeLegacy, "*")}, Heartbeat: -1})
	rc := dialTakenOver(t, srv, "Authorization: Bearer good")
	big := postRequest(publishForm("urn:refused") + "&pad=" + strings.Repeat("x", 40<<10))
	rc.send(big[:len(big)-100]) // the last bytes never come
	resp, _ := rc.response()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Fatalf("refusal with the body still arriving: %d (close %v), want 401 and the connection closed", resp.StatusCode, resp.Close)
	}
	if _, err := rc.br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the refusal the connection gave %v, want EOF", err)
	}
	if got := storedIDs(t, tr); fmt.Sprint(got) != "[urn:first]" {
		t.Fatalf("stored %v", got)
	}
}

// TestPUB_TakenOverPanicEndsTheConnectionNotTheHub: a handler that panics
// in the loop ends its connection without an answer, as under net/http;
// the hub serves the next connection.
func TestPUB_TakenOverPanicEndsTheConnectionNotTheHub(t *testing.T) {
	tr := memory.New(memory.Options{Size: 10})
	_, srv := serveHub(t, Config{Transport: tr, Auth: bearerAuth{mustMatcher(t, topic.TypeLegacy, "*")}, Heartbeat: -1, Logger: slog.New(slog.DiscardHandler)})
	rc := dialTakenOver(t, srv, "Authorization: Bearer good")
	rc.send(postRequest(publishForm("urn:panic"), "Authorization: Bearer panic"))
	if b, err := rc.br.ReadByte(); err == nil {
		t.Fatalf("the connection answered %q after a panic, want it closed", b)
	}
	rc = dialPublisher(t, srv)
	rc.send(postRequest(publishForm("urn:after"), "Authorization: Bearer good"))
	rc.expectPublished("urn:after")
}

// TestPUB_TakenOverConnectionKeepsTheServersTimeouts: in the loop, a head
// that stops arriving is cut after the header timeout and a connection
// with no next request after the idle timeout, as net/http cuts them.
func TestPUB_TakenOverConnectionKeepsTheServersTimeouts(t *testing.T) {
	cfg := Config{
		Transport: memory.New(memory.Options{Size: 10}),
		Auth:      openAuth{mustMatcher(t, topic.TypeLegacy, "*")},
		Anonymous: true,
		Heartbeat: -1,
	}
	_, srv := serveHubTimeouts(t, cfg, 200*time.Millisecond, 300*time.Millisecond)
	slowHead := dialTakenOver(t, srv)
	idle := dialTakenOver(t, srv)
	slowHead.send("POST " + Path + " HTTP/1.1\r\nHost: hub.test\r\n")
	for name, rc := range map[string]*rawClient{"a head that stopped": slowHead, "an idle connection": idle} {
		if _, err := rc.br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("%s in the loop gave %v, want EOF once the timeout passed", name, err)
		}
	}
}

// TestPUB_TakenOverSlowBodyIsCut: the body deadline holds in the loop: a
// body that stops arriving is answered 408 and the connection closed.
func TestPUB_TakenOverSlowBodyIsCut(t *testing.T) {
	_, srv := serveHub(t, Config{
		Transport:   memory.New(memory.Options{Size: 10}),
		Auth:        openAuth{mustMatcher(t, topic.TypeLegacy, "*")},
		Anonymous:   true,
		Heartbeat:   -1,
		BodyTimeout: 200 * time.Millisecond,
	})
	rc := dialTakenOver(t, srv)
	form := publishForm("urn:slow")
	full := postRequest(form)
	rc.send(full[:len(full)-len(form)/2])
	resp, _ := rc.response()
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Fatalf("slow body in the loop: %d (close %v), want 408 and the connection closed", resp.StatusCode, resp.Close)
	}
	if _, err := rc.br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the 408 the connection gave %v, want EOF", err)
	}
}

// TestPUB_TakenOverConnectionsEndWithTheShutdown: a taken-over connection
// waiting for its next request is closed when the shutdown begins, as
// net/http closes its idle connections.
func TestPUB_TakenOverConnectionsEndWithTheShutdown(t *testing.T) {
	h, srv := newTestHub(t, 10)
	rc := dialTakenOver(t, srv)
	rc.send(postRequest(publishForm("urn:second")))
	rc.expectPublished("urn:second")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Shutdown(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("the idle taken-over connection gave %v after the shutdown, want EOF", err)
	}
}

// TestPUB_ExpectContinueIsLeftToNetHTTP: a field the loop does not handle
// (Expect) sends the request to net/http, which answers 100 first.
func TestPUB_ExpectContinueIsLeftToNetHTTP(t *testing.T) {
	h, srv := newTestHub(t, 10)
	rc := dialTakenOver(t, srv)
	form := publishForm("urn:expect")
	req := postRequest(form, "Expect: 100-continue")
	rc.send(req[:len(req)-len(form)])
	resp, _ := rc.response()
	if resp.StatusCode != http.StatusContinue {
		t.Fatalf("Expect: 100-continue in a taken-over connection: %d, want 100", resp.StatusCode)
	}
	rc.send(form)
	rc.expectPublished("urn:expect")
	if h.fastPublish.Load().handedBack.Load() != 1 {
		t.Fatal("the request was not handed back")
	}
}

// FuzzParsePublishHead: whatever the loop serves, net/http reads the same
// way: the same method, path, Host, Content-Length and values of the
// fields the publish path reads, and no framing of its own.
func FuzzParsePublishHead(f *testing.F) {
	f.Add([]byte(postRequest("topic=a")))
	f.Add([]byte(postRequest("", "Authorization: Bearer x", "Cookie: a=b")))
	f.Add([]byte("POST " + Path + " HTTP/1.1\r\nhost: h\r\ncontent-length: 010\r\nconnection: Keep-Alive\r\n\r\n"))
	f.Add([]byte("POST " + Path + " HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Add([]byte("POST " + Path + " HTTP/1.1\r\nHost: h\r\n Content-Length: 1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, head []byte) {
		pr := parsePublishHead(head, 1<<20)
		if pr == nil {
			return
		}
		end := bytes.Index(head, crlfcrlf)
		if end < 0 || end+4 != len(head) {
			t.Fatalf("served a head that does not end at its first blank line: %q", head)
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("served a head net/http refuses (%v): %q", err, head)
		}
		if req.Method != http.MethodPost || req.URL.Path != Path || req.URL.RawQuery != "" || req.Host != pr.req.Host || req.ContentLength != pr.req.ContentLength {
			t.Fatalf("net/http reads %s %s host %q length %d; the loop %s %s host %q length %d: %q",
				req.Method, req.URL, req.Host, req.ContentLength, pr.req.Method, pr.req.URL, pr.req.Host, pr.req.ContentLength, head)
		}
		if len(req.TransferEncoding) != 0 || req.Close || req.Header.Get("Expect") != "" {
			t.Fatalf("served a request net/http frames or answers differently: %q", head)
		}
		for _, name := range []string{"Content-Type", "Authorization", "Cookie", "Origin", "Referer"} {
			if got, want := pr.req.Header.Values(name), req.Header.Values(name); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: the loop reads %q, net/http %q: %q", name, got, want, head)
			}
		}
	})
}
