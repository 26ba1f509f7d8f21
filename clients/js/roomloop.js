// roomloop.js: the JavaScript client of roomloop (docs/clients.md), one ES
// module without dependencies, for browsers and Node (22, or 20 with
// --experimental-websocket). It keeps one logical session across
// connections: it reconnects with full-jitter backoff, resumes with the
// session's token and last seq, resends unanswered frames, rejoins rooms
// after a gap, and probes silent connections.
//
//   import { connect } from "/roomloop.js";
//   const client = connect("/ws", { storage: sessionStorage });
//   const room = await client.join("lobby");
//   room.on("chat", (m) => console.log(m.from, m.payload));
//   await room.publish("chat", { text: "hi" });

const MAX_UNANSWERED = 64; // the server remembers the last 64 ids
const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });
const FINAL = { 1000: "closed by the server", 4001: "kicked", 4003: "replaced: the session resumed on another connection" };

/** An error with a code: a server $error code, or timeout, closed,
 * buffer_full, session_lost; onError also reports undecodable, seq_jump,
 * seq_repeat, no_seq, unknown_event, unexpected_welcome, rejoin_failed,
 * refresh_failed (the token option failed while refreshing). */
export class RoomloopError extends Error {
  constructor(code, message, payload) {
    super(message || code);
    this.name = "RoomloopError";
    this.code = code;
    this.payload = payload;
  }
}

const err = (code, message, payload) => new RoomloopError(code, message, payload);

// A message handed to handlers. payload: the parsed JSON value of a JSON
// payload; bytes: the raw bytes (a "bin" payload, or any payload of the
// binary codec); json() parses either.
class Message {
  constructor(f) {
    this.event = f.event;
    this.room = f.room || "";
    this.to = f.to || "";
    this.from = f.from || "";
    this.seq = f.seq || 0;
    this.payload = f.payload;
    this.bytes = f.bytes;
  }
  json() {
    const b = this.bytes;
    return b ? (b.length ? JSON.parse(dec.decode(b)) : undefined) : this.payload;
  }
}

// on adds fn to map's set for key and returns its remover.
function on(map, key, fn) {
  let s = map.get(key);
  if (!s) map.set(key, (s = new Set()));
  s.add(fn);
  return () => s.delete(fn);
}

// call runs handlers; one that throws is reported, and the others still run.
function call(set, arg) {
  if (set) for (const fn of [...set]) {
    try { fn(arg); } catch (e) { (globalThis.reportError || console.error)(e); }
  }
}

// --- codecs (docs/protocol.md, "Frames") ---

function b64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(s);
}

function unb64(s) {
  const t = atob(s), b = new Uint8Array(t.length);
  for (let i = 0; i < t.length; i++) b[i] = t.charCodeAt(i);
  return b;
}

const isBytes = (p) => p instanceof Uint8Array;

function encodeJSON(f) {
  const o = { event: f.event };
  if (f.room) o.room = f.room;
  if (f.to) o.to = f.to;
  if (f.id) o.id = f.id;
  if (isBytes(f.payload)) { if (f.payload.length) o.bin = b64(f.payload); } else if (f.payload !== undefined) o.payload = f.payload;
  return JSON.stringify(o);
}

function encodeBinary(f) {
  const parts = [f.event, f.room, f.to, "", f.id].map((s) => enc.encode(s || ""));
  const p = f.payload;
  const body = isBytes(p) ? p : enc.encode(JSON.stringify(p) ?? "");
  const out = [1, 0]; // version, seq 0
  for (const b of parts) {
    let n = b.length;
    for (; n > 127; n = Math.floor(n / 128)) out.push((n & 127) | 128);
    out.push(n, ...b);
  }
  const u = new Uint8Array(out.length + body.length);
  u.set(out);
  u.set(body, out.length);
  return u;
}

const str = (v) => v === undefined || typeof v === "string";

// decodeJSON parses one text message; it throws on anything else than a
// frame object.
function decodeJSON(data) {
  if (typeof data !== "string") throw Error("a binary message on a JSON connection");
  const f = JSON.parse(data);
  if (!f || typeof f !== "object" || typeof f.event !== "string" || !f.event ||
      !str(f.room) || !str(f.to) || !str(f.from) || !str(f.id) || !str(f.bin) ||
      (f.seq !== undefined && !(Number.isSafeInteger(f.seq) && f.seq >= 0))) throw Error("not a roomloop frame");
  if (f.bin !== undefined) f.bytes = unb64(f.bin);
  return f;
}

// decodeBinary parses one binary message: 0x01 | uvarint seq | uvarint
// len + event | room | to | from | id | payload (the rest).
function decodeBinary(data) {
  if (typeof data === "string") throw Error("a text message on a binary connection");
  const b = new Uint8Array(data);
  let i = 1;
  const uvarint = () => {
    let n = 0, m = 1;
    for (let k = 0; k < 10; k++, m *= 128) {
      if (i >= b.length) break;
      const c = b[i++];
      n += (c & 127) * m;
      if (c < 128) {
        if (n > Number.MAX_SAFE_INTEGER) break;
        return n;
      }
    }
    throw Error("bad uvarint");
  };
  if (b[0] !== 1) throw Error("unknown version byte " + b[0]);
  const f = { seq: uvarint() };
  for (const k of ["event", "room", "to", "from", "id"]) {
    const n = uvarint();
    if (n > b.length - i) throw Error(k + " runs past the end");
    f[k] = dec.decode(b.subarray(i, (i += n)));
  }
  if (!f.event) throw Error("no event");
  f.bytes = b.slice(i);
  return f;
}

// --- the client ---

/** connect returns a client and starts connecting (docs/clients.md). */
export function connect(url, options) {
  return new Client(url, options);
}

const DEFAULTS = {
  codec: "json", storageKey: "roomloop", minBackoffMs: 500, maxBackoffMs: 20000, jitter: true,
  probeTimeoutMs: 5000, sendBuffer: 256, callTimeoutMs: 10000,
};

class Client {
  constructor(url, options) {
    const o = (this._o = { ...DEFAULTS, ...options });
    this._WS = o.WebSocket || globalThis.WebSocket;
    if (!this._WS) throw err("closed", "no WebSocket: pass the WebSocket option (Node 20: --experimental-websocket)");
    const loc = globalThis.location;
    const u = new URL(url, loc && loc.href);
    u.protocol = u.protocol.replace(/^http/, "ws");
    this._url = u.href;
    this._bin = o.codec === "binary";
    this._sub = this._bin ? "roomloop.bin" : "roomloop.json";
    this._h = new Map(); // event → handlers
    this._sh = new Set(); // state handlers
    this._gh = new Set(); // gap handlers
    this._eh = new Set(); // error handlers
    this._rooms = new Map(); // name → Room
    this._queue = []; // entries waiting to be written
    this._inflight = new Map(); // id → entry written, unanswered (in order)
    this._rejoin = new Map(); // id → room name, while rejoining after a gap
    this._prefix = Math.random().toString(36).slice(2, 8) + "."; // ids stay unique across page reloads
    this._n = 0;
    this._ws = null;
    this._gen = 0;
    this._attempt = 0;
    this._upAt = 0; // when the connection got its $welcome
    this._hold = -1; // after a resume: the seq the replay must reach before resending
    this._live = false;
    this._seen = 0; // the last seq told to the server with $seen
    this._seenAt = 0;
    this.session = "";
    this._token = "";
    this._seq = 0;
    try {
      const s = o.storage && JSON.parse(o.storage.getItem(o.storageKey) || "null");
      if (s && s.t) [this.session, this._token, this._seq] = [s.s, s.t, s.q | 0];
    } catch { /* unreadable storage: start afresh */ }
    this.state = this._token ? "resuming" : "connecting";
    this.ready = new Promise((res, rej) => { this._ready = [res, rej]; });
    this.ready.catch(() => {});
    // The first report reaches handlers set right after connect().
    this._timer = setTimeout(() => this._connect(), 0);
    this._tk = Math.max(25, Math.min(1000, o.probeTimeoutMs / 4));
    this._due = Date.now() + this._tk;
    this._tick = this._tick.bind(this);
    this._ticker = setTimeout(this._tick, this._tk);
    // Browsers: reconnect at once when the network or the page is back. A
    // page that unloads closes its socket with 1001, which leaves the
    // session suspended for a reload to resume from storage; without
    // storage nothing can resume it, so it is ended at once (1000).
    const wake = () => this._wake(), d = globalThis.document;
    this._listen = [["online", wake], ["pageshow", wake], ["pagehide", (e) => {
      if (!e.persisted && !o.storage && this._ws) try { this._ws.close(1000); } catch { /* gone */ }
    }]].map(([e, fn]) => [globalThis, e, fn]);
    if (d) this._listen.push([d, "visibilitychange", wake]);
    this._listeners("add");
  }

  _listeners(op) {
    for (const [t, e, fn] of this._listen) if (t[op + "EventListener"]) t[op + "EventListener"](e, fn);
  }

  /** The rooms joined, as Room handles. */
  get rooms() { return [...this._rooms.values()]; }

  onState(fn) { this._sh.add(fn); return () => this._sh.delete(fn); }
  onGap(fn) { this._gh.add(fn); return () => this._gh.delete(fn); }
  onError(fn) { this._eh.add(fn); return () => this._eh.delete(fn); }
  on(event, fn) { return on(this._h, event, fn); }

  /** join sends $join and resolves with the room once $joined arrives. */
  join(room, opts) { return this._req({ event: "$join", room }, opts); }
  sendTo(session, event, payload, opts) { return this._req({ event, to: session, payload }, opts); }
  call(event, payload, opts) { return this._req({ event, payload }, opts); }

  /** close ends the session (close 1000) and the client: final. */
  close() {
    if (this.state === "closed") return;
    const ws = this._ws;
    this._detach();
    if (ws) try { ws.close(1000); } catch { /* already closing */ }
    this._end("closed by the application", true);
  }

  // --- state ---

  _set(state, reason, extra) {
    this.state = state;
    call(this._sh, { state, reason: reason || "", retryInMs: undefined, gap: undefined, ...extra });
  }

  _error(code, message) { call(this._eh, err(code, message)); }

  _save() {
    const o = this._o;
    try {
      if (o.storage) {
        if (this._token) o.storage.setItem(o.storageKey, JSON.stringify({ s: this.session, t: this._token, q: this._seq }));
        else o.storage.removeItem(o.storageKey);
      }
    } catch { /* a full or refusing storage only costs the resume across reloads */ }
  }

  // _end makes the client final: every waiting frame fails with closed.
  _end(reason, forget) {
    clearTimeout(this._timer);
    clearTimeout(this._ticker);
    clearTimeout(this._seenTimer);
    clearTimeout(this._rt);
    this._listeners("remove");
    if (forget) { this._token = ""; this._save(); }
    const e = err("closed", "client closed: " + reason);
    for (const x of [...this._inflight.values(), ...this._queue]) this._settle(x, e);
    this._ready[1](e);
    this._set("closed", reason);
  }

  // --- connections ---

  async _connect() {
    const gen = ++this._gen, o = this._o;
    this._live = false;
    this._set(this._token ? "resuming" : "connecting", this._why);
    // The token gets the handshake's bound: a promise that never settles
    // is a failed attempt, not a client stuck in resuming.
    let tok;
    if (o.token) try {
      const ms = 2 * o.probeTimeoutMs;
      tok = await new Promise((res, rej) => {
        this._timer = setTimeout(rej, ms, Error("no token within " + ms + " ms"));
        Promise.resolve(o.token()).then(res, rej);
      });
    } catch (e) {
      if (gen === this._gen) this._drop("token: " + ((e && e.message) || e));
      return;
    }
    if (gen !== this._gen || this.state === "closed") return;
    clearTimeout(this._timer);
    const u = new URL(this._url);
    if (tok) u.searchParams.set("token", tok);
    if (this._token) {
      u.searchParams.set("resume", this._token);
      u.searchParams.set("last_seq", this._seq);
    }
    let ws;
    try {
      ws = new this._WS(u.href, [this._sub]);
    } catch (e) {
      this._drop("cannot open: " + ((e && e.message) || e));
      return;
    }
    ws.binaryType = "arraybuffer";
    this._ws = ws;
    this._welcomed = false;
    this._t0 = Date.now();
    ws.onopen = () => {
      if (this._bin && ws.protocol !== this._sub) this._stop("the server does not speak " + this._sub);
    };
    ws.onmessage = (ev) => this._onMessage(ev.data);
    ws.onclose = (ev) => this._onClose(ev.code, ev.reason);
    // A close event follows an error, except in some Node versions after a
    // failed handshake: then the error is the end of the attempt.
    ws.onerror = () => setTimeout(() => ws === this._ws && this._drop("connection failed"), 0);
  }

  // _detach stops listening to the current socket: it is never read again.
  _detach() {
    const ws = this._ws;
    this._ws = null;
    this._live = false;
    this._gen++;
    if (ws) ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    return ws;
  }

  // _drop leaves the current connection and schedules the next attempt.
  // An open socket of a resumable session is closed with 4000 (resuming),
  // which suspends the session instead of ending it; any other is failed.
  // The backoff starts over only after a connection that lasted 10 s: a
  // server that welcomes and closes at once is retried ever more slowly.
  _drop(reason) {
    if (this.state === "closed") return;
    const ws = this._detach();
    if (ws) try { ws.readyState === 1 && this._token ? ws.close(4000, "resuming") : ws.close(); } catch { /* gone */ }
    if (this._upAt && Date.now() - this._upAt >= 10000) this._attempt = 0;
    this._upAt = 0;
    const o = this._o, n = ++this._attempt;
    let wait = Math.min(o.maxBackoffMs, o.minBackoffMs * 2 ** (n - 1));
    if (o.jitter) wait = Math.random() * wait;
    if (hidden()) wait = Math.max(wait, o.maxBackoffMs);
    wait = Math.round(wait);
    this._why = reason;
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._connect(), wait);
    this._set("disconnected", reason, { retryInMs: wait });
  }

  _stop(reason) {
    const ws = this._detach();
    if (ws) try { ws.close(1000); } catch { /* gone */ }
    this._end(reason, false);
  }

  // _wake reconnects at once when the browser says the network or the page
  // is back, instead of waiting for a timer it may have throttled.
  _wake() {
    if (hidden()) return;
    if (this.state === "disconnected") {
      clearTimeout(this._timer);
      this._connect();
    } else if (this._welcomed && this._ws && !this._probeAt) {
      this._probeAt = Date.now();
      this._ctl({ event: "$ping" });
    }
  }

  _onClose(code, reason) {
    const what = FINAL[code];
    if (what) {
      // 1000, 4001, 4003: retrying cannot help. A replaced session lives
      // on elsewhere, so its stored token stays.
      this._detach();
      this._end(what + " (" + code + (reason ? ": " + reason : "") + ")", code !== 4003);
    } else if (!this._welcomed && code === 1006) {
      // Browsers hide the HTTP status of a refused handshake: back off.
      this._drop("connection failed (1006: no WebSocket; refused or unreachable)");
    } else {
      this._drop("connection closed (" + code + (reason ? ": " + reason : "") + ")");
    }
  }

  // _tick checks liveness by the wall clock. A tick that comes late (a
  // throttled timer) restarts the probe instead of judging by it.
  _tick() {
    const now = Date.now(), o = this._o, late = now - this._due > Math.max(1000, this._tk);
    this._due = now + this._tk;
    this._ticker = setTimeout(this._tick, this._tk);
    if (!this._ws) return;
    if (!this._welcomed) {
      if (late) this._t0 = now;
      else if (now - this._t0 > 2 * o.probeTimeoutMs) this._drop("no $welcome within " + 2 * o.probeTimeoutMs + " ms");
    } else if (this._probeAt) {
      if (late) this._probeAt = now;
      else if (now - this._probeAt >= o.probeTimeoutMs) this._drop("no answer to $ping within " + o.probeTimeoutMs + " ms");
    } else if (now - this._rx >= this._hb / 2) {
      this._probeAt = now;
      this._ctl({ event: "$ping" });
    }
  }

  // --- receiving ---

  _onMessage(data) {
    this._rx = Date.now();
    this._probeAt = 0;
    let f;
    try {
      f = (this._bin ? decodeBinary : decodeJSON)(data);
      if (this._bin && f.event[0] === "$") f.payload = f.bytes.length ? JSON.parse(dec.decode(f.bytes)) : undefined;
    } catch (e) {
      this._error("undecodable", "undecodable frame: " + e.message);
      return this._drop("undecodable frame");
    }
    const ev = f.event;
    if (!this._welcomed) {
      if (ev === "$welcome" && f.payload && typeof f.payload.session === "string") return this._welcome(f.payload);
      this._error("undecodable", "the first frame is not a $welcome");
      return this._drop("no $welcome");
    }
    if (ev === "$welcome") return this._error("unexpected_welcome", "a second $welcome: ignored");
    const seq = f.seq;
    if (!seq) return this._error("no_seq", ev + " without a seq: ignored");
    if (seq <= this._seq) return this._error("seq_repeat", "seq " + seq + " again (at " + this._seq + "): ignored");
    if (seq !== this._seq + 1) {
      this._error("seq_jump", "seq jumped from " + this._seq + " to " + seq);
      return this._drop("seq jumped");
    }
    this._seq = seq;
    this._save();
    this._seeSoon();
    this._dispatch(f);
    this._resend();
  }

  _welcome(p) {
    this._welcomed = true;
    this._upAt = Date.now();
    this._hold = -1;
    this._why = "";
    this._hb = p.heartbeat_ms > 0 ? p.heartbeat_ms : 25000;
    this._expires(p.expires_in_ms);
    const old = this.session;
    if (this._token && p.resumed && p.session === old) {
      this._set("resumed");
      this._hold = Number(p.last_seq) || 0;
      this._resend();
    } else {
      this.session = p.session;
      this._token = p.resume || "";
      this._seq = this._seen = Number(p.last_seq) || 0;
      this._save();
      const lost = [...this._inflight.values()], reason = p.reason || "no_resume";
      this._inflight.clear();
      const gap = old ? { reason, oldSession: old, session: p.session, lost: lost.length } : undefined;
      for (const x of lost) this._settle(x, err("session_lost", "the session was lost before an answer (" + reason + ")"));
      // Rejoin every room before anything else is sent.
      this._rejoin.clear();
      for (const name of this._rooms.keys()) this._rejoin.set(this._id(), name);
      this._rejoinAll();
      this._set("connected", gap && "new session: " + reason, { gap });
      if (gap) call(this._gh, gap);
    }
    this._ready[0](this);
  }

  // _expires schedules the credential's refresh (docs/protocol.md,
  // "Credential expiry"): the token option's result goes out with $refresh
  // once max(half the time left, all but its last 30 s) has passed.
  _expires(ms) {
    clearTimeout(this._rt);
    if (ms > 0 && this._o.token) this._rt = setTimeout(() => this._refresh(Date.now() + ms), Math.max(ms / 2, ms - 30000));
  }

  // _refresh sends a fresh token; a failure is reported and tried again in
  // 5 s while the credential lasts. Offline, the next $welcome reschedules;
  // past expiry the server closes with 4004 and the reconnect resumes.
  async _refresh(until) {
    if (!this._live) return;
    try {
      await this._req({ event: "$refresh", payload: { token: await this._o.token() } });
    } catch (e) {
      if (this.state === "closed") return;
      call(this._eh, e instanceof RoomloopError ? e : err("refresh_failed", "token: " + ((e && e.message) || e)));
      if (until - Date.now() > 6000) this._rt = setTimeout(() => this._refresh(until), 5000);
    }
  }

  // _resend, once the replay of a resume has reached the seq the server had
  // at its $welcome, sends every id still unanswered again, in order, ahead
  // of anything queued. Not before: the server forgets the id of a frame it
  // refused, so a copy sent while its $error waits in the replay could be
  // applied. Those answered in the replay are settled by then.
  _resend() {
    if (this._hold < 0 || this._seq < this._hold) return;
    this._hold = -1;
    for (const x of this._inflight.values()) this._write(x.data);
    this._rejoinAll();
  }

  // _rejoinAll sends the $join of every room not yet rejoined after a gap
  // (again after a resume: ids are applied once), or opens the send buffer.
  _rejoinAll() {
    for (const [id, room] of this._rejoin) this._ctl({ event: "$join", room, id });
    if (!this._rejoin.size) this._go();
  }

  _dispatch(f) {
    const ev = f.event, p = f.payload || {}, id = f.id, rj = this._rejoin.get(id);
    if (rj !== undefined && (ev === "$joined" || ev === "$error")) {
      this._rejoin.delete(id);
      if (ev === "$error") {
        this._rooms.delete(rj);
        this._error("rejoin_failed", "rejoining " + rj + " failed: " + p.code);
      } else this._joined(f.room, p);
      if (!this._rejoin.size && this._hold < 0) this._go();
      return;
    }
    const room = this._rooms.get(f.room);
    switch (ev) {
      case "$joined":
        return this._answer(id, null, this._joined(f.room, p));
      case "$left":
        this._rooms.delete(f.room);
        return this._answer(id);
      case "$presence": // a diff: those gone, then those new
        if (room) {
          for (const s of list(p.left)) room._presence(s, false);
          for (const s of list(p.joined)) room._presence(s, true);
        }
        return;
      case "$ack":
        return this._answer(id, null, new Message(f));
      case "$error": {
        const e = err(p.code || "internal", p.message, p);
        if (!this._answer(id, e)) call(this._eh, e);
        return;
      }
      case "$refreshed":
        this._expires(p.expires_in_ms);
        return this._answer(id);
      case "$pong":
        return;
    }
    if (ev[0] === "$") return this._error("unknown_event", "unknown event " + ev + ": ignored");
    const m = new Message(f);
    call(this._h.get(ev), m);
    if (room) call(room._h.get(ev), m);
  }

  _joined(name, p) {
    let r = this._rooms.get(name);
    if (!r) this._rooms.set(name, (r = new Room(this, name)));
    const now = new Set(list(p.members));
    for (const s of r._m) if (!now.has(s)) r._presence(s, false);
    for (const s of now) if (!r._m.has(s)) r._presence(s, true);
    return r;
  }

  // $seen at most once a second, when there is something new, on a live
  // connection (going live calls this again).
  _seeSoon() {
    if (this._seenTimer || !this._live || this._seq <= this._seen) return;
    this._seenTimer = setTimeout(() => {
      this._seenTimer = 0;
      if (this._live && this._seq > this._seen) {
        this._seen = this._seq;
        this._seenAt = Date.now();
        this._ctl({ event: "$seen", payload: { seq: this._seq } });
      }
    }, Math.max(0, this._seenAt + 1000 - Date.now()));
  }

  // --- sending ---

  _id() { return this._prefix + (++this._n).toString(36); }

  _encode(f) { return (this._bin ? encodeBinary : encodeJSON)(f); }

  _write(data) {
    try { this._ws.send(data); } catch { /* the close event follows */ }
  }

  // _ctl writes a control frame now, if there is a welcomed connection.
  _ctl(f) {
    if (this._ws && this._welcomed) this._write(this._encode(f));
  }

  // _go opens the connection to the send buffer.
  _go() {
    this._live = true;
    this._pump();
    this._seeSoon();
  }

  _pump() {
    const q = this._queue;
    while (this._live && q.length && !(q[0].id && this._inflight.size >= MAX_UNANSWERED)) {
      const x = q.shift();
      if (x.id) this._inflight.set(x.id, x);
      this._write(x.data);
    }
  }

  _enqueue(f, x) {
    if (this.state === "closed") throw err("closed", "the client is closed");
    if (this._queue.length >= this._o.sendBuffer) throw err("buffer_full", "the send buffer is full (" + this._o.sendBuffer + " frames)");
    x.data = this._encode(f);
    this._queue.push(x);
    this._pump();
  }

  // _req sends f with an id and settles when its answer arrives.
  _req(f, opts) {
    return new Promise((resolve, reject) => {
      const x = { id: (f.id = this._id()), resolve, reject };
      this._enqueue(f, x);
      const ms = (opts && opts.timeoutMs) || this._o.callTimeoutMs;
      x.timer = setTimeout(() => this._settle(x, err("timeout", f.event + ": no answer within " + ms + " ms")), ms);
    }).then(null, (e) => {
      if (f.event === "$leave" && e.code === "not_member") this._rooms.delete(f.room);
      else throw e;
    });
  }

  // _fire sends f without an id: no answer. It throws buffer_full or closed.
  _fire(f) { this._enqueue(f, {}); }

  // _answer settles the frame id with e or v; it reports whether one waited.
  _answer(id, e, v) {
    const x = id && this._inflight.get(id);
    if (x) this._settle(x, e, v);
    return !!x;
  }

  _settle(x, e, v) {
    clearTimeout(x.timer);
    if (!this._inflight.delete(x.id)) {
      const i = this._queue.indexOf(x);
      if (i >= 0) this._queue.splice(i, 1);
    }
    if (x.resolve) e ? x.reject(e) : x.resolve(v);
    this._pump();
  }
}

const list = (a) => (Array.isArray(a) ? a : []);

function hidden() {
  const d = globalThis.document;
  return !!d && d.visibilityState === "hidden";
}

/** A joined room. members: the session ids in it, kept current by the
 * server's $presence diffs, reported to onPresence one member at a time
 * (the first $joined lists at most the server's -max-members-listed). */
class Room {
  constructor(client, name) {
    this._c = client;
    this.name = name;
    this._m = new Set();
    this._h = new Map();
    this._ph = new Set();
  }
  get members() { return [...this._m]; }
  on(event, fn) { return on(this._h, event, fn); }
  onPresence(fn) { this._ph.add(fn); return () => this._ph.delete(fn); }
  publish(event, payload, opts) { return this._c._req({ event, room: this.name, payload }, opts); }
  send(event, payload) { this._c._fire({ event, room: this.name, payload }); }
  leave(opts) { return this._c._req({ event: "$leave", room: this.name }, opts); }
  _presence(session, joined) {
    if (!session || joined === this._m.has(session)) return;
    joined ? this._m.add(session) : this._m.delete(session);
    call(this._ph, { session, joined });
  }
}
