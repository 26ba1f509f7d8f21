package main

// Helpers of the browser tests (browser_test.go): a headless Chromium
// driven through the DevTools protocol (chromedp), tabs of the demo page,
// each loaded through a cutproxy of its own, and a plain WebSocket
// observer that sees what the server sends to a room.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/roomloop/roomloop/internal/cutproxy"
)

// browserWait bounds each wait on a page or on the observer: generous,
// since the tests may share two loaded cores with others.
const browserWait = 60 * time.Second

// chromiumPath returns the Chromium on PATH. Without one it skips the test,
// or fails it when ROOMLOOP_BROWSER_REQUIRED=1 (as in CI, where the
// browser tests must run).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no chromium or chromium-browser on PATH; on Debian: apt-get install -y chromium"
	if os.Getenv("ROOMLOOP_BROWSER_REQUIRED") == "1" {
		t.Fatal(msg + " (ROOMLOOP_BROWSER_REQUIRED=1: the browser tests must run)")
	}
	t.Skip(msg)
	return ""
}

// chromium is one headless Chromium for a test. The test's cleanup closes
// it and waits for its processes to end.
type chromium struct {
	t     *testing.T
	ctx   context.Context
	shots *screenshots
}

// startBrowser starts Chromium headless (as root it needs --no-sandbox).
func startBrowser(t *testing.T) *chromium {
	t.Helper()
	path := chromiumPath(t)
	out := &syncBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.WindowSize(1024, 768),
		chromedp.CombinedOutput(out),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()      // closes the browser
		cancelAlloc() // and waits for its process
		if t.Failed() {
			t.Logf("chromium's output:\n%s", out.String())
		}
	})
	// The browser lives as long as the context of its first run: start it
	// on ctx itself, without a deadline.
	require.NoError(t, chromedp.Do(ctx), "starting %s", path)
	return &chromium{t: t, ctx: ctx, shots: newScreenshots(t)}
}

// tab is one tab of the browser showing the demo through its own proxy.
type tab struct {
	t     *testing.T
	name  string // A, B: names the tab in failures and screenshots
	ctx   context.Context
	proxy *cutproxy.Proxy
	shots *screenshots
}

// viewport is a tab's size; mobile emulates a phone's screen.
type viewport struct {
	width, height int64
	mobile        bool
}

var (
	phone   = viewport{375, 667, true}
	desktop = viewport{1024, 768, false}
)

// open starts a proxy to server ("host:port") and opens a new tab on
// http://PROXY+path, so the page's origin, and its WebSocket, run
// through the proxy.
func (b *chromium) open(name, server, path string, vp viewport) *tab {
	t := b.t
	t.Helper()
	proxy, err := cutproxy.Start(server)
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	ctx, cancel := chromedp.NewContext(b.ctx)
	t.Cleanup(cancel) // runs before the proxy's and the browser's cleanup
	// The tab lives as long as the context of its first run: ctx itself.
	require.NoError(t, chromedp.Do(ctx), "opening tab %s", name)
	tb := &tab{t: t, name: name, ctx: ctx, proxy: proxy, shots: b.shots}
	var opts []chromedp.EmulateViewportOption
	if vp.mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	tb.do("open "+path, chromedp.EmulateViewport(vp.width, vp.height, opts...), chromedp.Navigate("http://"+proxy.Addr()+path))
	return tb
}

// do runs actions on the tab within browserWait, failing the test on an
// error.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("tab %s: %s: %v\n%s", tb.name, what, err, tb.describe())
	}
}

// eval evaluates a JavaScript expression in the tab and decodes its value.
func eval[T any](tb *tab, js string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.t.Fatalf("tab %s: evaluating %s: %v\n%s", tb.name, js, err, tb.describe())
	}
	return v
}

// waitFor polls the page (every 100 ms, in the page) until the JavaScript
// expression js is truthy, for at most browserWait.
func (tb *tab) waitFor(what, js string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait+10*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(browserWait)))
	if err != nil {
		tb.t.Fatalf("tab %s: waited %v for %s: %v\n%s", tb.name, browserWait, what, err, tb.describe())
	}
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// fill empties the input #id and types value into it, key by key.
func (tb *tab) fill(id, value string) {
	tb.t.Helper()
	eval[chromedp.Void](tb, `(() => { const el = document.getElementById(`+jsString(id)+`);
		el.value = ""; el.dispatchEvent(new Event("input", {bubbles: true})); })()`)
	if value != "" {
		tb.do("typing into #"+id, chromedp.SendKeys(chromedp.ID(id), value))
	}
}

// setName sets the display name.
func (tb *tab) setName(name string) {
	tb.t.Helper()
	tb.fill("name", name)
	tb.do("leaving #name", chromedp.Blur(chromedp.ID("name")))
}

// send types text (to a session id when to is set, else to the room) and
// clicks Send, then waits until the tab shows it as its own message.
func (tb *tab) send(text, to, shownAs string) {
	tb.t.Helper()
	tb.fill("to", to)
	tb.fill("text", text)
	tb.do("clicking #send", chromedp.Click(chromedp.ID("send")))
	tb.waitFor("its own message "+shownAs, countJS(shownAs)+` >= 1`)
}

// countJS is a JavaScript expression: how many #log li.msg read text.
func countJS(text string) string {
	return `[...document.querySelectorAll("#log li.msg")].filter(li => li.textContent.trim() === ` + jsString(text) + `).length`
}

// logEntry is one #log li.msg.
type logEntry struct {
	Text string `json:"text"`
	Seq  string `json:"seq"`
	Room string `json:"room"`
	From string `json:"from"`
	DM   bool   `json:"dm"`
	Mine bool   `json:"mine"`
}

const logJS = `[...document.querySelectorAll("#log li.msg")].map(li => ({
	text: li.textContent.trim(), seq: li.dataset.seq || "", room: li.dataset.room || "",
	from: li.dataset.from || "", dm: li.classList.contains("dm"), mine: li.classList.contains("mine")}))`

// log returns the tab's message log.
func (tb *tab) log() []logEntry {
	tb.t.Helper()
	return eval[[]logEntry](tb, logJS)
}

// texts returns the texts of the tab's message log, in order.
func (tb *tab) texts() []string {
	tb.t.Helper()
	var out []string
	for _, e := range tb.log() {
		out = append(out, e.Text)
	}
	return out
}

// stateInfo is #state's current state and history.
type stateInfo struct {
	State   string `json:"state"`
	History string `json:"history"`
}

const stateJS = `(() => { const s = document.getElementById("state");
	return {state: s.dataset.state || "", history: s.dataset.history || ""}; })()`

func (tb *tab) state() stateInfo {
	tb.t.Helper()
	return eval[stateInfo](tb, stateJS)
}

// history returns #state's data-history as a list.
func (tb *tab) history() []string {
	tb.t.Helper()
	return strings.Fields(tb.state().History)
}

// waitState waits until #state's data-state is one of states.
func (tb *tab) waitState(states ...string) {
	tb.t.Helper()
	list, _ := json.Marshal(states)
	tb.waitFor("state "+strings.Join(states, " or "),
		string(list)+`.includes(document.getElementById("state")?.dataset.state)`)
}

// session returns the tab's own session id (#session).
func (tb *tab) session() string {
	tb.t.Helper()
	return eval[string](tb, `document.getElementById("session").textContent.trim()`)
}

// waitMember waits until #members lists session.
func (tb *tab) waitMember(session string) {
	tb.t.Helper()
	tb.waitFor("member "+session, `[...document.querySelectorAll("#members li[data-session]")].some(li => li.dataset.session === `+jsString(session)+`)`)
}

// lifecycle sets the page's web lifecycle state (frozen or active).
func (tb *tab) lifecycle(state page.SetWebLifecycleStateState) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	_, err := chromedp.Call(ctx, page.SetWebLifecycleState, page.SetWebLifecycleStateParams{State: state})
	require.NoError(tb.t, err, "tab %s: lifecycle %s", tb.name, state)
}

// setVisible minimizes the tab's window (the page is then hidden, as a
// tab in the background) or restores it (visible again), and waits for
// the page to see it.
func (tb *tab) setVisible(visible bool) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	w, err := chromedp.Call(ctx, browser.GetWindowForTarget, browser.GetWindowForTargetParams{TargetID: chromedp.FromContext(tb.ctx).Target.TargetID})
	require.NoError(tb.t, err, "tab %s: its window", tb.name)
	state, want := browser.WindowStateMinimized, "hidden"
	if visible {
		state, want = browser.WindowStateNormal, "visible"
	}
	_, err = chromedp.CallBrowser(ctx, browser.SetWindowBounds, browser.SetWindowBoundsParams{WindowID: w.WindowID, Bounds: &browser.Bounds{WindowState: state}})
	require.NoError(tb.t, err, "tab %s: window %s", tb.name, state)
	tb.waitFor("visibility "+want, `document.visibilityState === `+jsString(want))
}

// describe is what the tab shows, for a failure's message; it never
// fails itself.
func (tb *tab) describe() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({location: location.href,
		state: document.getElementById("state")?.dataset.state, history: document.getElementById("state")?.dataset.history,
		session: document.getElementById("session")?.textContent,
		members: [...document.querySelectorAll("#members li[data-session]")].map(li => li.dataset.session),
		log: `+logJS+`}, null, 1)`))
	if err != nil {
		return fmt.Sprintf("(tab %s: no description: %v)", tb.name, err)
	}
	return "tab " + tb.name + " shows: " + v
}

// shot saves a screenshot of the whole page as NN-step-NAME.png.
func (tb *tab) shot(step string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(tb.t, err, "tab %s: screenshot %s", tb.name, step)
	tb.shots.save(step+"-"+tb.name, png)
}

// screenshots keeps a test's screenshots in a temporary directory, and
// copies them to $ROOMLOOP_SCREENSHOT_DIR when it is set, to keep them.
type screenshots struct {
	t         *testing.T
	dir, keep string
	mu        sync.Mutex
	n         int
}

func newScreenshots(t *testing.T) *screenshots {
	s := &screenshots{t: t, dir: t.TempDir(), keep: os.Getenv("ROOMLOOP_SCREENSHOT_DIR")}
	if s.keep != "" {
		s.keep = filepath.Join(s.keep, t.Name())
		require.NoError(t, os.MkdirAll(s.keep, 0o755))
	}
	return s
}

func (s *screenshots) save(name string, png []byte) {
	s.t.Helper()
	s.mu.Lock()
	s.n++
	file := fmt.Sprintf("%02d-%s.png", s.n, name)
	s.mu.Unlock()
	for _, dir := range []string{s.dir, s.keep} {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, file)
		require.NoError(s.t, os.WriteFile(p, png, 0o644))
		s.t.Logf("screenshot %s", p)
	}
}

// observer is a plain WebSocket client in a room, straight to the server:
// what it receives, every member of the room has been sent.
type observer struct {
	conn *websocket.Conn
	done chan struct{}

	mu      sync.Mutex
	frames  []observed
	changed chan struct{} // closed and replaced on every frame
}

// observed is a frame the observer received.
type observed struct {
	Seq     int64           `json:"seq"`
	Event   string          `json:"event"`
	Room    string          `json:"room"`
	From    string          `json:"from"`
	Payload json.RawMessage `json:"payload"`
}

// startObserver connects to server ("host:port") and joins room.
func startObserver(t *testing.T, server, room string) *observer {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"roomloop.json"}, HandshakeTimeout: browserWait}
	conn, resp, err := d.Dial("ws://"+server+"/ws", http.Header{})
	require.NoError(t, err)
	_ = resp.Body.Close()
	o := &observer{conn: conn, done: make(chan struct{}), changed: make(chan struct{})}
	go o.read()
	t.Cleanup(func() {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		select {
		case <-o.done: // the server answered the close
		case <-time.After(5 * time.Second):
		}
		_ = conn.Close()
		<-o.done
	})
	join, _ := json.Marshal(map[string]string{"event": "$join", "room": room, "id": "join"})
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, join))
	o.wait(t, "$joined "+room, func(fs []observed) bool {
		for _, f := range fs {
			if f.Event == "$joined" && f.Room == room {
				return true
			}
		}
		return false
	})
	return o
}

func (o *observer) read() {
	defer close(o.done)
	for {
		_, msg, err := o.conn.ReadMessage()
		if err != nil {
			return
		}
		var f observed
		if json.Unmarshal(msg, &f) != nil {
			continue
		}
		o.mu.Lock()
		o.frames = append(o.frames, f)
		close(o.changed)
		o.changed = make(chan struct{})
		o.mu.Unlock()
	}
}

// wait waits until cond holds for the frames received so far.
func (o *observer) wait(t *testing.T, what string, cond func([]observed) bool) {
	t.Helper()
	deadline := time.After(browserWait)
	for {
		o.mu.Lock()
		ok, changed, n := cond(o.frames), o.changed, len(o.frames)
		o.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-o.done:
			t.Fatalf("observer: the connection ended while waiting for %s", what)
		case <-deadline:
			t.Fatalf("observer: waited %v for %s; %d frames received", browserWait, what, n)
		}
	}
}

// waitTexts waits until the observer has received, from session, an
// application frame whose payload holds each of texts.
func (o *observer) waitTexts(t *testing.T, from string, texts []string) {
	t.Helper()
	o.wait(t, fmt.Sprintf("%d frames from %s", len(texts), from), func(fs []observed) bool {
		for _, text := range texts {
			found := false
			for _, f := range fs {
				if f.From == from && !strings.HasPrefix(f.Event, "$") && strings.Contains(string(f.Payload), jsString(text)) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
}

// saw reports whether any frame received so far holds text.
func (o *observer) saw(text string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, f := range o.frames {
		if strings.Contains(string(f.Payload), text) {
			return true
		}
	}
	return false
}
