// roomloop.js and credential expiry, against the real binary with JWT
// auth: the token option is called again before the token expires and
// sent with $refresh; when a refresh is refused, the server's 4004 at
// expiry is followed by a reconnect with a fresh token and an exact resume.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { connect } from "../roomloop.js";
import { startServer, startProxy, eventually, record, collect } from "./helpers.mjs";

const secret = "a-test-secret-of-at-least-32-bytes!!";

// jwt signs an HS256 token for sub that expires in secs seconds.
function jwt(sub, secs) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = b64({ alg: "HS256", typ: "JWT" }) + "." + b64({ sub, exp: Math.floor(Date.now() / 1000) + secs });
  return body + "." + createHmac("sha256", secret).update(body).digest("base64url");
}

async function jwtServer(t) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "roomloop-jwt-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "secret");
  writeFileSync(file, secret + "\n");
  return startServer(t, "-jwt-secret-file", file);
}

test("the token option refreshes the credential before it expires: no reconnect", async (t) => {
  const srv = await jwtServer(t);
  const px = await startProxy(t, srv.port);
  const tokens = [jwt("ann", 2), jwt("ann", 3600)];
  let calls = 0;
  const a = connect(px.url, { token: () => tokens[Math.min(calls++, 1)] });
  t.after(() => a.close());
  const rec = record(a);
  await a.ready;
  await eventually(() => calls === 2, "the refresh's token call");
  // The condition is the first token's expiry (at most 2 s) passing.
  await new Promise((res) => setTimeout(res, 2500));
  assert.equal(a.state, "connected");
  assert.deepEqual(rec.errors, []);
  assert.equal(px.requests.length, 1, "one connection all along");
  assert.equal(calls, 2);
});

test("a refused refresh is reported; at expiry the server closes with 4004 and a fresh token resumes", async (t) => {
  const srv = await jwtServer(t);
  const px = await startProxy(t, srv.port);
  // The refresh gets another user's token: refused (forbidden).
  const tokens = [jwt("ann", 2), jwt("eve", 3600), jwt("ann", 3600)];
  let calls = 0;
  const a = connect(px.url, { minBackoffMs: 10, maxBackoffMs: 100, token: () => tokens[Math.min(calls++, 2)] });
  const b = connect(srv.url, { token: () => jwt("bob", 3600) });
  t.after(() => { a.close(); b.close(); });
  const rec = record(a);
  const ra = await a.join("r"), rb = await b.join("r");
  const got = collect(ra, "n");
  const session = a.session;

  await eventually(() => rec.errors.some((e) => e.code === "forbidden"), "the refused refresh");
  await eventually(() => rec.reports.some((s) => s.state === "disconnected" && /4004/.test(s.reason)), "the 4004 close");
  await eventually(() => a.state === "resumed", "the resume");
  assert.equal(a.session, session);
  assert.deepEqual(rec.gaps, []);
  await rb.publish("n", 1);
  await eventually(() => got.length === 1, "a frame after the resume");
  assert.match(px.requests.at(-1), /[?&]resume=s-/);
});
