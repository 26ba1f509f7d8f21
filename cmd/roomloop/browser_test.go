package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestBrowserDemo drives the demo page the binary serves at "/" in a real
// browser (headless Chromium). Tabs A (phone-sized) and B chat in a room,
// each through a proxy of its own. Then A's connection is cut while B
// talks, A's page is reloaded, and A's tab is frozen while B talks: each
// time A comes back to the same session and shows every message once, in
// order. Last, A sends B a direct message. Each step saves screenshots
// (kept when ROOMLOOP_SCREENSHOT_DIR is set).
func TestBrowserDemo(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // registered first: runs last
	server, _ := startBinary(t)
	br := startBrowser(t)
	obs := startObserver(t, server, "lobby")

	t.Log("step 1: A and B join the lobby and chat")
	a := br.open("A", server, "/?room=lobby", phone)
	b := br.open("B", server, "/?room=lobby", desktop)
	a.waitState("connected")
	b.waitState("connected")
	for _, tb := range []*tab{a, b} {
		tb.waitFor("the lobby as the current room", `document.querySelector('#rooms li[data-room="lobby"].current button.leave') !== null`)
		tb.waitFor("window.demo.client", `typeof window.demo?.client === "object" && window.demo.client !== null`)
	}
	a.setName("Ann")
	b.setName("Ben")
	sa, sb := a.session(), b.session()
	require.NotEmpty(t, sa)
	require.NotEmpty(t, sb)
	require.NotEqual(t, sa, sb)
	a.waitMember(sb) // B joined after A: A learns of B live
	b.waitMember(sa)
	chat := []struct {
		from, to *tab
		line     string
	}{
		{a, b, "Ann: hello from Ann"},
		{b, a, "Ben: hi Ann, ça va? ✓"},
		{a, b, "Ann: all good <b>here</b> & there"},
	}
	for _, c := range chat {
		name, text, _ := strings.Cut(c.line, ": ")
		require.Equal(t, c.from.name[0], name[0])
		c.from.send(text, "", c.line)
		c.to.waitFor("the message "+c.line, countJS(c.line)+" >= 1")
	}
	for _, tb := range []*tab{a, b} {
		log := tb.log()
		for _, c := range chat {
			e := once(t, tb, log, c.line)
			assert.False(t, e.DM, "tab %s: %q is no direct message", tb.name, c.line)
			assert.Equal(t, c.from == tb, e.Mine, "tab %s: %q is its own message?", tb.name, c.line)
			if c.from != tb {
				assert.Equal(t, "lobby", e.Room, "tab %s: %q", tb.name, c.line)
				assert.Equal(t, c.from.session(), e.From, "tab %s: %q", tb.name, c.line)
			}
		}
	}
	a.shot("1-chat")
	b.shot("1-chat")

	t.Log("step 2: A's connection is cut; B sends 20 messages while A is away")
	before := len(a.history())
	a.proxy.Refuse(true) // A's reconnects fail until B has sent
	require.GreaterOrEqual(t, a.proxy.Cut(), 1, "A's WebSocket ran through its proxy")
	a.waitFor("disconnected after the cut", historySinceJS(before)+`.includes("disconnected")`)
	a.shot("2-disconnected")
	var away []string
	for i := 1; i <= 20; i++ {
		text := fmt.Sprintf("while A is away %02d", i)
		b.send(text, "", "Ben: "+text)
		away = append(away, text)
	}
	obs.waitTexts(t, sb, away) // the server has them: A's session holds them too
	a.proxy.Refuse(false)
	a.waitState("resumed")
	want := withPrefix("Ben: ", away)
	a.waitFor("the 20 messages sent while away", countAllJS(want))
	assert.Equal(t, want, filterPrefix(a.texts(), "Ben: while A is away "), "tab A: each once, in order")
	tail := a.history()[before:]
	t.Logf("tab A's states since the cut: %v", tail)
	assert.Equal(t, "disconnected", tail[0], "tab A: the first state after the cut")
	assert.Contains(t, tail, "resuming")
	assert.Equal(t, "resumed", tail[len(tail)-1])
	for _, s := range []string{"gap", "connecting", "connected", "closed"} {
		assert.NotContains(t, tail, s, "tab A: after the cut it only resumes")
	}
	assert.Equal(t, sa, a.session(), "tab A: the same session")
	checkLog(t, a)
	a.shot("2-resumed")

	t.Log("step 3: A's page reloads and resumes its session")
	a.do("reload", chromedp.Reload())
	a.waitState("resumed", "connected", "closed")
	a.shot("3-reloaded")
	hist := a.history()
	t.Logf("tab A's states after the reload: %v", hist)
	require.Equal(t, "resumed", a.state().State, "tab A: a reload resumes (the token is in sessionStorage)")
	assert.NotContains(t, hist, "gap")
	assert.Equal(t, sa, a.session(), "tab A: the same session after the reload")
	a.setName("Ann")
	b.send("after the reload", "", "Ben: after the reload")
	a.waitFor("the message sent after the reload", countJS("Ben: after the reload")+" >= 1")
	once(t, a, a.log(), "Ben: after the reload")
	checkLog(t, a)
	a.shot("3-message-after-reload")

	t.Log("step 4: A's tab goes to the background and is frozen while B sends 5 messages, then comes back")
	before = len(a.history())
	a.setVisible(false)
	a.lifecycle(page.SetWebLifecycleStateStateFrozen)
	var frozen []string
	for i := 1; i <= 5; i++ {
		text := fmt.Sprintf("while A is frozen %d", i)
		b.send(text, "", "Ben: "+text)
		frozen = append(frozen, text)
	}
	obs.waitTexts(t, sb, frozen)
	a.lifecycle(page.SetWebLifecycleStateStateActive)
	a.setVisible(true) // the user comes back to the tab
	want = withPrefix("Ben: ", frozen)
	a.waitFor("the 5 messages sent while frozen", countAllJS(want))
	a.waitState("connected", "resumed")
	assert.Equal(t, want, filterPrefix(a.texts(), "Ben: while A is frozen "), "tab A: each once, in order")
	t.Logf("tab A's states since the freeze: %v", a.history()[before:])
	assert.NotContains(t, a.history(), "gap")
	assert.Equal(t, sa, a.session(), "tab A: the same session after the freeze")
	checkLog(t, a)
	a.shot("4-thawed")

	t.Log("step 5: A sends B a direct message")
	a.send("psst, Ben", sb, "Ann: psst, Ben")
	b.waitFor("the direct message", countJS("Ann: psst, Ben")+" >= 1")
	e := once(t, b, b.log(), "Ann: psst, Ben")
	assert.True(t, e.DM, "tab B: a direct message has class dm")
	assert.False(t, e.Mine)
	assert.Equal(t, sa, e.From)
	// A room message A sends after it reaches the observer after the
	// direct message would have: the observer never saw the direct one.
	a.send("bye", "", "Ann: bye")
	obs.waitTexts(t, sa, []string{"bye"})
	assert.False(t, obs.saw("psst"), "a direct message goes to its recipient only")
	b.waitFor("A's last room message", countJS("Ann: bye")+" >= 1")
	assert.False(t, once(t, b, b.log(), "Ann: bye").DM)
	checkLog(t, a)
	checkLog(t, b)
	a.shot("5-direct")
	b.shot("5-direct")
}

// once returns the entry of log reading text, failing the test unless
// there is exactly one.
func once(t *testing.T, tb *tab, log []logEntry, text string) logEntry {
	t.Helper()
	var found []logEntry
	for _, e := range log {
		if e.Text == text {
			found = append(found, e)
		}
	}
	require.Len(t, found, 1, "tab %s: %q appears once\n%s", tb.name, text, tb.describe())
	return found[0]
}

// checkLog checks the whole log of a tab: no message twice (every text
// the test sends is unique), and the messages from others in seq order.
func checkLog(t *testing.T, tb *tab) {
	t.Helper()
	seen := map[string]bool{}
	last := int64(0)
	for _, e := range tb.log() {
		assert.False(t, seen[e.Text], "tab %s: %q appears twice", tb.name, e.Text)
		seen[e.Text] = true
		if e.Mine {
			continue
		}
		seq, err := strconv.ParseInt(e.Seq, 10, 64)
		if assert.NoError(t, err, "tab %s: %q has data-seq %q", tb.name, e.Text, e.Seq) {
			assert.Greater(t, seq, last, "tab %s: %q is out of seq order", tb.name, e.Text)
			last = seq
		}
	}
}

// historySinceJS is a JavaScript expression: #state's history from entry
// n on, as an array.
func historySinceJS(n int) string {
	return `(document.getElementById("state").dataset.history || "").split(" ").filter(Boolean).slice(` + strconv.Itoa(n) + `)`
}

// countAllJS is a JavaScript expression: whether the log shows each of
// lines at least once.
func countAllJS(lines []string) string {
	var all []string
	for _, l := range lines {
		all = append(all, "("+countJS(l)+" >= 1)")
	}
	return strings.Join(all, " && ")
}

func withPrefix(prefix string, texts []string) []string {
	var out []string
	for _, s := range texts {
		out = append(out, prefix+s)
	}
	return out
}

func filterPrefix(texts []string, prefix string) []string {
	return slices.DeleteFunc(slices.Clone(texts), func(s string) bool { return !strings.HasPrefix(s, prefix) })
}

// TestBrowserCompression runs the binary with -compression: Chromium
// offers permessage-deflate on every WebSocket, so the demo's
// connections negotiate it (checked on a WebSocket the page opens, whose
// extensions the browser reports), and a long chat line, compressed
// both ways, reaches the other tab intact.
func TestBrowserCompression(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // registered first: runs last
	server, _ := startBinary(t, "-compression")
	br := startBrowser(t)
	a := br.open("A", server, "/?room=lobby", desktop)
	b := br.open("B", server, "/?room=lobby", desktop)
	for _, tb := range []*tab{a, b} {
		tb.waitState("connected")
		tb.waitFor("window.demo.client", `typeof window.demo?.client === "object" && window.demo.client !== null`)
	}
	a.setName("Ann")
	b.setName("Ben")
	b.waitMember(a.session())

	eval[chromedp.Void](a, `(() => { const ws = new WebSocket("ws://" + location.host + "/ws");
		ws.onopen = () => { window.negotiated = ws.extensions; ws.close(1000); }; })()`)
	a.waitFor("a test WebSocket to open", `typeof window.negotiated === "string"`)
	ext := eval[string](a, `window.negotiated`)
	assert.Contains(t, ext, "permessage-deflate", "Chromium negotiated compression")
	assert.Contains(t, ext, "server_no_context_takeover")
	assert.Contains(t, ext, "client_no_context_takeover")

	long := strings.Repeat("compressed chat line, ", 15) + "end"
	a.send(long, "", "Ann: "+long)
	b.waitFor("the long message", countJS("Ann: "+long)+" >= 1")
	b.send("short reply", "", "Ben: short reply")
	a.waitFor("the reply", countJS("Ben: short reply")+" >= 1")
}
