// Helpers for the roomloop.js tests: the real server binary, a TCP proxy
// that can cut, refuse or hold connections, an in-memory Storage, and
// waiting for conditions.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../../..");

let built;

// binary returns the roomloop binary: $ROOMLOOP_BIN, or one built from the
// repository for this test process.
export function binary() {
  if (process.env.ROOMLOOP_BIN) return process.env.ROOMLOOP_BIN;
  if (!built) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "roomloop-js-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    built = path.join(dir, "roomloop");
    execFileSync("go", ["build", "-o", built, "./cmd/roomloop"], { cwd: repoRoot, stdio: "inherit" });
  }
  return built;
}

// startServer runs the binary with args on 127.0.0.1 (port 0 unless args
// name -addr, no admin address unless they name -admin-addr) until the
// test ends. It resolves once the server logs its url.
export function startServer(t, ...args) {
  if (!args.includes("-addr")) args.unshift("-addr", "127.0.0.1:0");
  // No admin listener: its default port is fixed, and a second binary (or
  // a roomloop the developer runs) would hold it.
  if (!args.includes("-admin-addr")) args.push("-admin-addr", "");
  const proc = spawn(binary(), args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const exited = new Promise((res) => proc.on("exit", res));
  t.after(() => { proc.kill("SIGKILL"); return exited; });
  return new Promise((resolve, reject) => {
    proc.stderr.setEncoding("utf8");
    proc.stderr.on("data", (d) => {
      log += d;
      const m = /msg="roomloop serving" url=(\S+)/.exec(log);
      if (m && !proc.url) {
        proc.url = m[1];
        const u = new URL(m[1]);
        resolve({
          url: m[1], port: Number(u.port), proc, log: () => log,
          kill: () => { proc.kill("SIGKILL"); return exited; },
        });
      }
    });
    proc.on("exit", (code) => reject(new Error("the server exited (" + code + "):\n" + log)));
  });
}

// startProxy forwards 127.0.0.1:<its port> to target (a port, settable).
// cut() destroys every connection; refuse = true answers new ones 503, and
// a target that is down gets them 502; holdUp / holdDown swallow the bytes
// of one direction.
export async function startProxy(t, targetPort) {
  const links = new Set();
  const p = {
    target: targetPort, refuse: false, holdUp: false, holdDown: false, requests: [],
    cut() { for (const s of links) s.destroy(); },
  };
  const server = net.createServer((c) => {
    c.on("error", () => {});
    let head = false, up = false;
    c.once("data", (d) => { p.requests.push(d.toString("latin1").split("\r\n")[0]); head = true; });
    // Refused, or no server behind: an HTTP error, as a load balancer says.
    const answer = (status) => {
      const end = () => c.end("HTTP/1.1 " + status + "\r\nContent-Length: 0\r\n\r\n");
      head ? end() : c.once("data", end);
    };
    if (p.refuse) return answer("503 Service Unavailable");
    const u = net.connect(p.target, "127.0.0.1");
    u.on("connect", () => { up = true; links.add(c).add(u); });
    u.on("error", () => { if (!up) answer("502 Bad Gateway"); });
    c.on("data", (d) => {
      if (!p.holdUp) u.write(d);
    });
    u.on("data", (d) => { if (!p.holdDown) c.write(d); });
    u.on("close", () => { links.delete(u); if (up) c.destroy(); });
    c.on("close", () => { links.delete(c); u.destroy(); });
  });
  await new Promise((res) => server.listen(0, "127.0.0.1", res));
  p.port = server.address().port;
  p.url = "ws://127.0.0.1:" + p.port + "/ws";
  t.after(() => { p.cut(); return new Promise((res) => server.close(res)); });
  return p;
}

// memoryStorage is a Storage-like object in memory.
export function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
  };
}

// eventually resolves once cond() is true, checking every 5 ms; it rejects
// after ms with what.
export async function eventually(cond, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting for " + (what || cond.toString()));
    await new Promise((res) => setTimeout(res, 5));
  }
}

// record logs a client's states (and gaps) and errors.
export function record(client) {
  const r = { states: [], reports: [], gaps: [], errors: [] };
  client.onState((s) => { r.states.push(s.state); r.reports.push(s); });
  client.onGap((g) => { r.gaps.push(g); r.states.push("gap"); });
  client.onError((e) => r.errors.push(e));
  return r;
}

// collect records the messages of event on target (a client or a room).
export function collect(target, event) {
  const got = [];
  target.on(event, (m) => got.push(m));
  return got;
}
