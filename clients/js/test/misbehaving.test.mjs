// roomloop.js against a hand-written server that breaks the protocol
// (docs/clients.md, "Misbehaving servers"): the client reports an error,
// never crashes or hangs, and drops and resumes or ignores as the table says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../roomloop.js";
import { startFake } from "./fakeserver.mjs";
import { eventually, record, collect } from "./helpers.mjs";

const fast = { minBackoffMs: 10, maxBackoffMs: 50 };

function client(t, url, opts) {
  const c = connect(url, { ...fast, ...opts });
  t.after(() => c.close());
  return c;
}

const W = { session: "s-1", resume: "s-1.secret" };
const n = (seq, payload) => ({ seq, event: "n", payload });

// resumeOn answers connections after the first as a resume of s-1 from the
// seq the client asks for, then sends the frames of more.
function resumeWelcome(c) {
  assert.equal(c.url.searchParams.get("resume"), W.resume);
  c.welcome({ ...W, resumed: true });
  return Number(c.url.searchParams.get("last_seq"));
}

test("an undecodable frame: error, drop, resume from the last frame handed over", async (t) => {
  const fake = await startFake(t, (c, i) => {
    if (i === 0) {
      c.welcome(W);
      c.send(n(1, "a"));
      c.send("{this is not json");
    } else {
      assert.equal(resumeWelcome(c), 1);
      c.send(n(2, "b"));
    }
  });
  const cl = client(t, fake.url), rec = record(cl), got = collect(cl, "n");
  await eventually(() => got.length === 2, "the frame after the resume");
  assert.deepEqual(got.map((m) => m.payload), ["a", "b"]);
  assert.equal(rec.errors[0].code, "undecodable");
  assert.deepEqual(rec.states, ["connecting", "connected", "disconnected", "resuming", "resumed"]);
  assert.match(rec.reports[2].reason, /undecodable/);
});

test("a binary message on a JSON connection, and a bad version byte on a binary one", async (t) => {
  const fake = await startFake(t, (c, i) => {
    c.welcome(i === 0 ? W : { ...W, resumed: true });
    if (i === 0) c.send(Buffer.from([1, 1, 1, 0x6e, 0, 0, 0, 0]));
  });
  const cl = client(t, fake.url), rec = record(cl);
  await eventually(() => cl.state === "resumed", "a resume");
  assert.equal(rec.errors[0].code, "undecodable");

  const fakeBin = await startFake(t, (c, i) => {
    // A binary client's first frame: a JSON $welcome as binary payload.
    const welcome = Buffer.from(JSON.stringify({ ...W, resumed: i > 0, heartbeat_ms: 25000 }));
    c.send(Buffer.concat([Buffer.from([1, 0, 8]), Buffer.from("$welcome"), Buffer.from([0, 0, 0, 0]), welcome]));
    if (i === 0) {
      c.send(Buffer.concat([Buffer.from([1, 1, 1, 0x6e, 0, 0, 0, 0]), Buffer.from("ü")]));
      c.send(Buffer.from([2, 2, 1, 0x6e, 0, 0, 0, 0]));
    }
  });
  const b = client(t, fakeBin.url, { codec: "binary" }), brec = record(b), got = collect(b, "n");
  await eventually(() => b.state === "resumed", "a resume");
  assert.equal(new TextDecoder().decode(got[0].bytes), "ü");
  assert.equal(brec.errors[0].code, "undecodable");
  assert.match(brec.errors[0].message, /version/);
  assert.equal(fakeBin.conns[1].url.searchParams.get("last_seq"), "1");
});

test("a seq that jumps ahead: error, drop, resume, the skipped frames replayed", async (t) => {
  const fake = await startFake(t, (c, i) => {
    if (i === 0) {
      c.welcome(W);
      c.send(n(1, 1));
      c.send(n(3, 3));
    } else {
      const from = resumeWelcome(c);
      for (let s = from + 1; s <= 4; s++) c.send(n(s, s));
    }
  });
  const cl = client(t, fake.url), rec = record(cl), got = collect(cl, "n");
  await eventually(() => got.length === 4, "four frames");
  assert.deepEqual(got.map((m) => m.seq), [1, 2, 3, 4]);
  assert.equal(rec.errors[0].code, "seq_jump");
  assert.equal(fake.conns[1].url.searchParams.get("last_seq"), "1");
});

test("a repeated seq, an unknown $event, a second $welcome, a missing seq: reported and ignored", async (t) => {
  const fake = await startFake(t, (c) => {
    c.welcome(W);
    c.send(n(1, 1));
    c.send(n(1, "again"));
    c.send({ seq: 2, event: "$surprise", payload: {} });
    c.send({ event: "$welcome", payload: W });
    c.send({ event: "n", payload: "no seq" });
    c.send(n(3, 3));
  });
  const cl = client(t, fake.url), rec = record(cl), got = collect(cl, "n");
  await eventually(() => got.length === 2, "two frames");
  assert.deepEqual(got.map((m) => m.payload), [1, 3]);
  assert.deepEqual(rec.errors.map((e) => e.code), ["seq_repeat", "unknown_event", "unexpected_welcome", "no_seq"]);
  assert.equal(cl.state, "connected");
  assert.equal(fake.conns.length, 1);
});

test("a close in the middle of a message: a drop, then a resume", async (t) => {
  const fake = await startFake(t, (c, i) => {
    if (i === 0) {
      c.welcome(W);
      c.send(n(1, 1));
      c.raw(Buffer.concat([Buffer.from([0x81, 100]), Buffer.from('{"seq":2,"ev')]));
      setImmediate(() => c.sock.destroy());
    } else {
      assert.equal(resumeWelcome(c), 1);
      c.send(n(2, 2));
    }
  });
  const cl = client(t, fake.url), rec = record(cl), got = collect(cl, "n");
  await eventually(() => got.length === 2, "the replayed frame");
  assert.equal(rec.states[2], "disconnected");
  assert.match(rec.reports[2].reason, /1006/);
  assert.equal(cl.state, "resumed");
});

test("the first frame is not a $welcome: error, then a new attempt", async (t) => {
  const fake = await startFake(t, (c, i) => {
    if (i === 0) c.send(n(1, 1));
    else c.welcome(W);
  });
  const cl = client(t, fake.url), rec = record(cl);
  await cl.ready;
  assert.equal(rec.errors[0].code, "undecodable");
  assert.equal(cl.session, "s-1");
});

test("close 4001 (kicked) ends the client", async (t) => {
  const fake = await startFake(t, (c) => {
    c.welcome(W);
    c.close(4001, "bye");
  });
  const cl = client(t, fake.url), rec = record(cl);
  await eventually(() => cl.state === "closed", "closed");
  assert.match(rec.reports.at(-1).reason, /kicked \(4001: bye\)/);
  await assert.rejects(cl.call("x"), { code: "closed" });
  assert.equal(fake.conns.length, 1);
});

test("at most 64 frames with ids are unanswered; the rest wait their turn", async (t) => {
  let atMark = -1;
  const fake = await startFake(t, (c) => {
    c.welcome(W);
    let seq = 0;
    c.onMessage = (m) => {
      if (m.event === "$join") c.send({ seq: ++seq, event: "$joined", room: m.room, id: m.id, payload: { members: ["s-1"] } });
      if (m.event === "$seen" && atMark < 0) atMark = c.messages.filter((x) => x.event === "x").length;
    };
  });
  const cl = client(t, fake.url);
  await cl.join("r");
  const calls = [];
  // The 70 calls are written, or held back, in this one turn. The first
  // $seen (its timer was set by the $joined) comes after them on the wire.
  for (let i = 0; i < 70; i++) calls.push(cl.call("x", i));
  await eventually(() => atMark >= 0, "the first $seen");
  assert.equal(atMark, 64);
  const c = fake.conns[0], xs = () => c.messages.filter((x) => x.event === "x");
  let seq = 1;
  for (let i = 0; i < 70; i++) {
    await eventually(() => xs().length > i, "call " + i);
    c.send({ seq: ++seq, event: "$ack", id: xs()[i].id });
  }
  assert.deepEqual((await Promise.all(calls)).map((m) => m.event), Array(70).fill("$ack"));
  assert.deepEqual(xs().map((m) => m.payload), [...Array(70).keys()]);
});

test("a silent connection is probed with $ping and dropped, then resumed", async (t) => {
  const fake = await startFake(t, (c, i) => {
    c.welcome({ ...W, resumed: i > 0, heartbeat_ms: 100 });
    if (i > 0) c.onMessage = (m) => { if (m.event === "$ping") c.send({ seq: 1, event: "$pong" }); };
  });
  const cl = client(t, fake.url, { probeTimeoutMs: 150 }), rec = record(cl);
  await eventually(() => cl.state === "resumed", "the resume");
  assert.ok(fake.conns[0].messages.some((m) => m.event === "$ping"), "a $ping first");
  assert.match(rec.reports[2].reason, /no answer to \$ping/);
});

test("$seen tells the server how far the client got, at most once a second", async (t) => {
  const seen = [];
  const fake = await startFake(t, (c) => {
    c.welcome(W);
    for (let s = 1; s <= 3; s++) c.send(n(s, s));
    c.onMessage = (m) => {
      if (m.event !== "$seen") return;
      seen.push({ seq: m.payload.seq, at: Date.now() });
      if (seen.length === 1) for (let s = 4; s <= 6; s++) c.send(n(s, s));
    };
  });
  const cl = client(t, fake.url);
  await eventually(() => seen.length && seen.at(-1).seq === 6, "$seen 6");
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i].seq > seen[i - 1].seq, "only when there is something new");
    assert.ok(seen[i].at - seen[i - 1].at >= 900, "a second apart: " + (seen[i].at - seen[i - 1].at) + " ms");
  }
  assert.equal(cl.state, "connected");
});

// The server frees the id of a frame it refused, so a copy sent again
// while its $error waits in the replay would be judged again and might be
// applied, while the caller is told it was refused (then retries it).
test("after a resume, an unanswered frame waits for the replay, which settles it: not sent again", async (t) => {
  let id, before = -1;
  const fake = await startFake(t, (c, i) => {
    if (i === 0) {
      c.welcome(W);
      c.onMessage = (m) => { if (m.event === "x") { id = m.id; c.sock.destroy(); } };
    } else {
      c.welcome({ ...W, resumed: true, last_seq: 1 });
      setTimeout(() => {
        before = c.messages.filter((m) => m.id === id).length;
        c.send({ seq: 1, event: "$error", id, payload: { code: "rate_limited", message: "slow down" } });
      }, 200);
    }
  });
  const cl = client(t, fake.url);
  await cl.ready;
  assert.equal(await cl.call("x", {}).then(() => "ack", (e) => e.code), "rate_limited");
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(before, 0, "the frame was sent again before its answer in the replay was read");
  assert.equal(fake.conns[1].messages.filter((m) => m.id === id).length, 0, "the refused frame was sent again");
});

test("after a resume, the frames the replay leaves unanswered are sent again first, in order", async (t) => {
  let before = -1;
  const fake = await startFake(t, (c, i) => {
    if (i === 0) {
      c.welcome(W);
      c.onMessage = (m) => { if (m.payload === 3) c.sock.destroy(); };
      return;
    }
    c.welcome({ ...W, resumed: true, last_seq: 2 });
    const [x1, , x3] = fake.conns[0].messages.map((m) => m.id);
    let seq = 2;
    setTimeout(() => {
      before = c.messages.filter((m) => m.id).length;
      c.send({ seq: 1, event: "$ack", id: x1 });
      c.send({ seq: 2, event: "$error", id: x3, payload: { code: "internal" } });
      c.onMessage = (m) => m.id && c.send({ seq: ++seq, event: "$ack", id: m.id });
    }, 200);
  });
  const cl = client(t, fake.url, { callTimeoutMs: 3000 }), later = [];
  // Queued while down, and once resumed: both wait behind the resent frame.
  cl.onState((s) => {
    if (s.state === "disconnected") later.push(cl.call("y", 4));
    if (s.state === "resumed") later.push(cl.call("z", 5));
  });
  await cl.ready;
  const calls = [1, 2, 3].map((p) => cl.call("x", p).then((m) => m.event, (e) => e.code));
  assert.deepEqual(await Promise.all(calls), ["$ack", "$ack", "internal"]);
  await Promise.all(later);
  assert.equal(before, 0, "something was sent before the replay was read");
  assert.deepEqual(fake.conns[1].messages.filter((m) => m.id).map((m) => m.payload), [2, 4, 5]);
});

test("the backoff starts over only after a connection has lasted 10 s", async (t) => {
  const fake = await startFake(t, (c, i) => {
    c.welcome(i ? { ...W, resumed: true } : W);
    if (i < 4) c.close(4002, "welcome, then gone");
  });
  const cl = client(t, fake.url, { minBackoffMs: 10, maxBackoffMs: 40, jitter: false }), rec = record(cl);
  await eventually(() => fake.conns.length === 5 && cl.state === "resumed", "the fifth connection");
  const now = Date.now;
  t.after(() => { Date.now = now; });
  Date.now = () => now() + 10000;
  fake.conns[4].close(4002, "after 10 s");
  const waits = () => rec.reports.filter((r) => r.state === "disconnected").map((r) => r.retryInMs);
  await eventually(() => waits().length === 5, "the fifth drop");
  assert.deepEqual(waits(), [10, 20, 40, 40, 10]);
});

test("a token function that never settles fails the attempt after twice probeTimeoutMs", async (t) => {
  const fake = await startFake(t, (c) => c.welcome(W));
  let calls = 0;
  const token = () => (++calls === 1 ? new Promise(() => {}) : "tok");
  const cl = client(t, fake.url, { probeTimeoutMs: 50, token }), rec = record(cl);
  await eventually(() => cl.state === "connected", "the second attempt", 3000);
  assert.deepEqual(rec.states, ["connecting", "disconnected", "connecting", "connected"]);
  assert.match(rec.reports[1].reason, /^token: no token within 100 ms$/);
  assert.equal(rec.reports[2].reason, rec.reports[1].reason, "connecting tells the last drop's reason");
  assert.equal(fake.conns.length, 1);
  assert.equal(fake.conns[0].url.searchParams.get("token"), "tok");
});

test("a server with resumption off: a gap with reason no_resume", async (t) => {
  const fake = await startFake(t, (c, i) => {
    c.welcome({ session: "s-" + (i + 1), resume: "" });
    if (i === 0) c.sock.destroy();
  });
  const cl = client(t, fake.url), rec = record(cl);
  await eventually(() => rec.gaps.length === 1, "the gap");
  assert.deepEqual(rec.gaps[0], { reason: "no_resume", oldSession: "s-1", session: "s-2", lost: 0 });
  assert.equal(rec.reports.at(-1).reason, "new session: no_resume");
});
