// roomloop.js against the real roomloop binary: rooms, presence, direct
// messages, error codes, both codecs, resume after a cut connection,
// resending unanswered frames, a gap after a restart, the final close
// codes and the send buffer's bound.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, RoomloopError } from "../roomloop.js";
import { startServer, startProxy, memoryStorage, eventually, record, collect } from "./helpers.mjs";

const fast = { minBackoffMs: 10, maxBackoffMs: 100 };

function client(t, url, opts) {
  const c = connect(url, { ...fast, ...opts });
  t.after(() => c.close());
  return c;
}

const same = (a, b) => assert.deepEqual([...a].sort(), [...b].sort());

test("rooms, presence, direct messages, calls and their error codes (JSON codec)", async (t) => {
  const srv = await startServer(t);
  const a = client(t, srv.url), b = client(t, srv.url);
  const ra = await a.join("lobby");
  assert.equal(ra.name, "lobby");
  assert.deepEqual(ra.members, [a.session]);
  const presence = [];
  ra.onPresence((p) => presence.push(p));
  const rb = await b.join("lobby");
  same(rb.members, [a.session, b.session]);
  await eventually(() => presence.length === 1, "b's join");
  assert.deepEqual(presence[0], { session: b.session, joined: true });
  same(ra.members, [a.session, b.session]);

  const inRoom = collect(rb, "chat"), anywhere = collect(b, "chat");
  const ack = await ra.publish("chat", { text: "hi" });
  assert.equal(ack.event, "$ack");
  ra.send("chat", { text: "no answer" });
  await eventually(() => inRoom.length === 2 && anywhere.length === 2, "two chats");
  const m = inRoom[0];
  assert.deepEqual([m.event, m.room, m.from, m.payload, m.bytes], ["chat", "lobby", a.session, { text: "hi" }, undefined]);
  assert.deepEqual(m.json(), { text: "hi" });
  assert.ok(m.seq > 0 && inRoom[1].seq > m.seq);
  assert.deepEqual(inRoom[1].payload, { text: "no answer" });

  // Direct messages: JSON, and raw bytes (sent as "bin").
  const dms = collect(a, "dm");
  await b.sendTo(a.session, "dm", [1, "two"]);
  await b.sendTo(a.session, "dm", new Uint8Array([0, 255, 128]));
  await eventually(() => dms.length === 2, "two direct messages");
  assert.deepEqual([dms[0].from, dms[0].room, dms[0].payload], [b.session, "", [1, "two"]]);
  assert.deepEqual([dms[1].payload, [...dms[1].bytes]], [undefined, [0, 255, 128]]);

  // Error codes.
  const code = async (p, want) => {
    const e = await p.then(() => assert.fail("resolved"), (e) => e);
    assert.ok(e instanceof RoomloopError);
    assert.equal(e.code, want);
  };
  await code(a.call("no-handler", {}), "bad_request");
  await code(a.call("$bogus"), "bad_request");
  await code(a.sendTo("s-nobody", "dm", 1), "no_such_session");
  const other = await a.join("other");
  await other.leave();
  await code(other.publish("chat", 1), "not_member");
  await other.leave(); // not a member: leave still resolves
  assert.deepEqual(a.rooms.map((r) => r.name), ["lobby"]);

  await rb.leave();
  await eventually(() => presence.length === 2, "b's leave");
  assert.deepEqual(presence[1], { session: b.session, joined: false });
  assert.deepEqual(ra.members, [a.session]);
});

test("presence: joins and leaves made at once come as diffs, reported one member at a time", async (t) => {
  const srv = await startServer(t);
  const a = client(t, srv.url);
  const ra = await a.join("p");
  const seen = [];
  ra.onPresence((p) => seen.push(p));
  const others = [1, 2, 3, 4].map(() => client(t, srv.url));
  const rooms = await Promise.all(others.map((c) => c.join("p")));
  const ids = others.map((c) => c.session);
  await eventually(() => ra.members.length === 5, "four joins");
  same(ra.members, [a.session, ...ids]);
  await Promise.all(rooms.slice(0, 2).map((r) => r.leave()));
  await eventually(() => ra.members.length === 3, "two leaves");
  same(ra.members, [a.session, ...ids.slice(2)]);
  same(seen.filter((p) => p.joined).map((p) => p.session), ids);
  same(seen.filter((p) => !p.joined).map((p) => p.session), ids.slice(0, 2));
});

test("the binary codec, with a JSON client in the same room; non-ASCII text both ways", async (t) => {
  const srv = await startServer(t);
  const j = client(t, srv.url), bin = client(t, srv.url, { codec: "binary" });
  const room = "säle ☃ 日本";
  const rj = await j.join(room), rb = await bin.join(room);
  same(rb.members, [j.session, bin.session]);
  await eventually(() => rj.members.length === 2, "the binary client's presence");
  const atJ = collect(rj, "t"), atB = collect(rb, "t");

  const text = "grüße 🌍 — ünïcödé, 日本語";
  await rb.publish("t", { text });
  await eventually(() => atJ.length === 1, "the JSON client's message");
  assert.deepEqual(atJ[0].payload, { text });
  assert.equal(atJ[0].from, bin.session);

  await rj.publish("t", { text });
  await eventually(() => atB.length === 1, "the binary client's message");
  assert.equal(atB[0].payload, undefined);
  assert.deepEqual(atB[0].json(), { text });
  assert.equal(atB[0].room, room);
  assert.equal(new TextDecoder().decode(atB[0].bytes), JSON.stringify({ text }));

  // Raw bytes from the binary client reach the JSON client as bytes.
  await rb.publish("t", new Uint8Array([0xff, 0, 0x80]));
  await eventually(() => atJ.length === 2, "the bytes");
  assert.deepEqual([...atJ[1].bytes], [0xff, 0, 0x80]);

  const dm = collect(bin, "dm");
  await j.sendTo(bin.session, "dm", "¡hola!");
  await eventually(() => dm.length === 1, "the direct message");
  assert.equal(dm[0].json(), "¡hola!");
  await assert.rejects(bin.call("no-handler", 1), { code: "bad_request" });
  await assert.rejects(bin.sendTo("s-nobody", "dm", 1), { code: "no_such_session" });
});

test("a cut connection resumes exactly: the frames sent meanwhile arrive once, in order", async (t) => {
  const srv = await startServer(t);
  const px = await startProxy(t, srv.port);
  let tokens = 0;
  const a = client(t, px.url, { token: async () => "t" + ++tokens }), b = client(t, srv.url);
  const rec = record(a);
  const ra = await a.join("r"), rb = await b.join("r");
  await eventually(() => ra.members.length === 2, "b's join, in the room's next diff");
  const got = collect(ra, "n");
  await rb.publish("n", 0);
  await eventually(() => got.length === 1, "the first frame");
  const session = a.session;

  px.refuse = true;
  px.cut();
  await eventually(() => rec.states.includes("disconnected"), "the drop");
  for (let i = 1; i <= 20; i++) await rb.publish("n", i);
  px.refuse = false;
  await eventually(() => a.state === "resumed", "the resume");
  for (let i = 21; i <= 25; i++) await rb.publish("n", i);
  await eventually(() => got.length === 26, "26 frames");

  assert.deepEqual(got.map((m) => m.payload), [...Array(26).keys()]);
  for (let i = 1; i < got.length; i++) assert.ok(got[i].seq > got[i - 1].seq);
  assert.equal(a.session, session);
  assert.deepEqual(rec.gaps, []);
  assert.deepEqual(rec.errors, []);
  same(ra.members, [a.session, b.session]);
  // A token per attempt, in the query; the resume names the token and seq.
  const reqs = px.requests;
  assert.ok(reqs.length >= 2);
  reqs.forEach((r, i) => assert.match(r, new RegExp("[?&]token=t" + (i + 1) + "(&| )")));
  assert.match(reqs.at(-1), /[?&]resume=s-[^&]+&last_seq=\d+/);
});

test("an unanswered frame is sent again after a resume and applied once", async (t) => {
  const srv = await startServer(t);
  const px = await startProxy(t, srv.port);
  const a = client(t, px.url), b = client(t, srv.url);
  const rec = record(a);
  const ra = await a.join("r"), rb = await b.join("r");
  const got = collect(rb, "n");
  const count = (p) => got.filter((m) => m.payload === p).length;

  // Lost on the way in: the server never saw it.
  px.holdUp = true;
  const up = ra.publish("n", "lost-in");
  await eventually(() => a.state === "connected" && px.requests.length === 1, "the hold");
  px.cut();
  px.holdUp = false;
  await up;

  // Applied, but the $ack lost on the way out.
  px.holdDown = true;
  const down = ra.publish("n", "lost-out");
  await eventually(() => count("lost-out") === 1, "the frame applied");
  px.cut();
  px.holdDown = false;
  await down;

  await ra.publish("n", "after");
  await eventually(() => count("after") === 1, "the last frame");
  assert.equal(count("lost-in"), 1);
  assert.equal(count("lost-out"), 1);
  assert.deepEqual(got.map((m) => m.payload), ["lost-in", "lost-out", "after"]);
  assert.deepEqual(rec.gaps, []);
  assert.equal(rec.states.filter((x) => x === "resumed").length, 2);
});

test("after a server restart: a new session, rooms rejoined first, a gap, unanswered frames fail session_lost", async (t) => {
  const s1 = await startServer(t);
  const px = await startProxy(t, s1.port);
  const a = client(t, px.url);
  const rec = record(a);
  const g1 = await a.join("g1");
  await a.join("g2");
  const old = a.session;
  const presence = [];
  g1.onPresence((p) => presence.push(p));

  px.holdUp = true;
  const pending = g1.publish("n", "unanswered");
  await s1.kill();
  px.cut();
  px.holdUp = false;
  await eventually(() => rec.states.includes("disconnected"), "the drop");
  const queued = g1.publish("n", "queued while down"); // never sent: not lost
  const s2 = await startServer(t);
  px.target = s2.port;

  await assert.rejects(pending, { code: "session_lost" });
  await eventually(() => rec.gaps.length === 1, "the gap");
  const gap = rec.gaps[0];
  assert.deepEqual(gap, { reason: "unknown", oldSession: old, session: a.session, lost: 1 });
  assert.notEqual(a.session, old);
  const i = rec.states.lastIndexOf("connected");
  assert.deepEqual(rec.states.slice(i), ["connected", "gap"]);
  assert.deepEqual(rec.reports.at(-1).gap, gap);
  assert.equal(rec.states[i - 1], "resuming");

  await queued; // sent after the rejoin, so the server took it
  assert.deepEqual(g1.members, [a.session]);
  assert.deepEqual(presence, [{ session: old, joined: false }, { session: a.session, joined: true }]);
  const b = client(t, s2.url);
  same((await b.join("g2")).members, [a.session, b.session]);
});

test("two clients holding one token: the one replaced (4003) closes; a reload resumes from storage", async (t) => {
  const srv = await startServer(t);
  const storage = memoryStorage();
  const a = client(t, srv.url, { storage });
  const ra = await a.join("x"), atA = collect(a, "n");
  const sender = client(t, srv.url);
  const rs = await sender.join("x");
  await eventually(() => ra.members.length === 2, "the sender's join, in the room's next diff");
  await rs.publish("n", 1);
  await eventually(() => atA.length === 1, "a's frame");
  assert.equal(JSON.parse(storage.getItem("roomloop")).q, atA[0].seq);

  const b = client(t, srv.url, { storage });
  const got = collect(b, "n");
  await b.ready;
  assert.equal(b.state, "resumed");
  assert.equal(b.session, a.session);
  await eventually(() => a.state === "closed", "a's close");
  assert.equal(got.length, 0, "nothing replayed that a had handed over");
  await rs.publish("n", 2);
  await eventually(() => got.length === 1, "the next frame");
  assert.equal(got[0].payload, 2);
  const recA = record(a); // closed is final: no more reports
  assert.deepEqual(recA.states, []);
  assert.ok(ra.members.length === 2);
});

test("a closed client: ready rejects before $welcome, everything fails closed, storage forgets", async (t) => {
  const srv = await startServer(t);
  const early = connect(srv.url);
  early.close();
  await assert.rejects(early.ready, { code: "closed" });

  const storage = memoryStorage();
  const c = client(t, srv.url, { storage });
  const rec = record(c);
  await c.ready;
  assert.ok(storage.getItem("roomloop"));
  const pending = c.call("x", 1, { timeoutMs: 60000 });
  c.close();
  await assert.rejects(pending, { code: "closed" });
  await assert.rejects(c.join("y"), { code: "closed" });
  assert.deepEqual(rec.states, ["connecting", "connected", "closed"]);
  assert.equal(rec.reports[2].reason, "closed by the application");
  assert.equal(storage.getItem("roomloop"), null);
});

test("a full send buffer fails at once with buffer_full; a call without answer times out", async (t) => {
  const srv = await startServer(t);
  const px = await startProxy(t, srv.port);
  const a = client(t, px.url, { sendBuffer: 3, callTimeoutMs: 200 }), b = client(t, srv.url);
  const rec = record(a);
  const ra = await a.join("r"), rb = await b.join("r");
  const got = collect(rb, "n");
  px.refuse = true;
  px.cut();
  await eventually(() => rec.states.includes("disconnected"), "the drop");
  ra.send("n", 1);
  ra.send("n", 2);
  ra.send("n", 3);
  assert.throws(() => ra.send("n", 4), { code: "buffer_full" });
  await assert.rejects(ra.publish("n", 5), { code: "buffer_full" });
  await assert.rejects(a.call("x"), { code: "buffer_full" });
  px.refuse = false;
  await eventually(() => got.length === 3, "the buffered frames");
  assert.deepEqual(got.map((m) => m.payload), [1, 2, 3]);

  px.holdUp = true;
  await assert.rejects(ra.publish("n", 6), { code: "timeout" });
});

test("a connection the client leaves (a probe unanswered) closes with 4000: the session is suspended, then resumed", async (t) => {
  const srv = await startServer(t, "-heartbeat", "400ms");
  const px = await startProxy(t, srv.port);
  const a = client(t, px.url, { probeTimeoutMs: 300 }), b = client(t, srv.url);
  const rec = record(a);
  const ra = await a.join("r"), rb = await b.join("r");
  const presence = [], got = collect(ra, "n");
  rb.onPresence((p) => presence.push(p));
  const session = a.session;

  // Nothing reaches a: it probes, gives up and closes the connection with
  // 4000, which goes through; then the link is whole again.
  a.onState((s) => { if (s.state === "disconnected") px.holdDown = false; });
  px.holdDown = true;
  await rb.publish("n", 1);
  await eventually(() => a.state === "resumed", "the resume");
  await rb.publish("n", 2);
  await eventually(() => got.length === 2, "both frames");

  assert.match(rec.reports[rec.states.indexOf("disconnected")].reason, /no answer to \$ping/);
  assert.equal(a.session, session);
  assert.deepEqual(rec.gaps, []);
  assert.deepEqual(got.map((m) => m.payload), [1, 2]);
  assert.deepEqual(presence, [], "the session never ended");
  same(ra.members, [a.session, b.session]);
  await ra.publish("n", 3);
});
