// A hand-written WebSocket server for tests only: it upgrades with
// node:http and writes whatever frames a test asks for, well-formed or not,
// so the client can be shown a misbehaving server.
import { createHash } from "node:crypto";
import http from "node:http";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// header returns a server frame's head (FIN set, unmasked) for opcode and
// length n.
function header(opcode, n) {
  if (n < 126) return Buffer.from([0x80 | opcode, n]);
  if (n < 65536) {
    const h = Buffer.from([0x80 | opcode, 126, 0, 0]);
    h.writeUInt16BE(n, 2);
    return h;
  }
  const h = Buffer.alloc(10);
  h[0] = 0x80 | opcode;
  h[1] = 127;
  h.writeBigUInt64BE(BigInt(n), 2);
  return h;
}

// Conn is one upgraded connection: url is the request's, messages what the
// client sent (text messages parsed as JSON).
class Conn {
  constructor(sock, url) {
    this.sock = sock;
    this.url = new URL(url, "http://fake");
    this.messages = [];
    this.onMessage = () => {};
    this.buf = Buffer.alloc(0);
    this.closed = new Promise((res) => sock.on("close", res));
    sock.on("data", (d) => this.read(d));
    sock.on("error", () => {});
  }

  read(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const opcode = b[0] & 15;
      let n = b[1] & 127, off = 2;
      if (n === 126) { if (b.length < 4) return; n = b.readUInt16BE(2); off = 4; }
      else if (n === 127) { if (b.length < 10) return; n = Number(b.readBigUInt64BE(2)); off = 10; }
      if (b.length < off + 4 + n) return;
      const mask = b.subarray(off, off + 4), data = Buffer.from(b.subarray(off + 4, off + 4 + n));
      for (let i = 0; i < n; i++) data[i] ^= mask[i & 3];
      this.buf = b.subarray(off + 4 + n);
      if (opcode === 8) { this.sock.end(); return; }
      if (opcode === 1) {
        const m = JSON.parse(data.toString("utf8"));
        this.messages.push(m);
        this.onMessage(m);
      } else if (opcode === 2) {
        this.messages.push(data);
        this.onMessage(data);
      }
    }
  }

  // raw writes bytes as they are.
  raw(b) { this.sock.write(b); }

  // send writes a text message (an object is JSON-encoded) or, for a
  // Buffer, a binary one.
  send(m) {
    const bin = Buffer.isBuffer(m), data = bin ? m : Buffer.from(typeof m === "string" ? m : JSON.stringify(m));
    this.raw(Buffer.concat([header(bin ? 2 : 1, data.length), data]));
  }

  welcome(p) {
    this.send({ event: "$welcome", payload: { resume_window_ms: 30000, heartbeat_ms: 25000, heartbeat_timeout_ms: 60000, resumed: false, last_seq: 0, ...p } });
  }

  // close sends a close frame with code and reason, then ends the socket.
  close(code, reason = "") {
    const r = Buffer.from(reason), p = Buffer.alloc(2 + r.length);
    p.writeUInt16BE(code, 0);
    r.copy(p, 2);
    this.raw(Buffer.concat([header(8, p.length), p]));
    this.sock.end();
  }
}

// startFake listens on 127.0.0.1; onConn(conn, index) runs for each upgrade.
export async function startFake(t, onConn) {
  const conns = [];
  const server = http.createServer((req, res) => res.writeHead(404).end());
  server.on("upgrade", (req, sock) => {
    const key = req.headers["sec-websocket-key"];
    const accept = createHash("sha1").update(key + GUID).digest("base64");
    const proto = (req.headers["sec-websocket-protocol"] || "").split(",")[0].trim();
    sock.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Accept: " + accept + "\r\n" + (proto ? "Sec-WebSocket-Protocol: " + proto + "\r\n" : "") + "\r\n");
    const c = new Conn(sock, req.url);
    conns.push(c);
    onConn(c, conns.length - 1);
  });
  await new Promise((res) => server.listen(0, "127.0.0.1", res));
  t.after(() => {
    for (const c of conns) c.sock.destroy();
    return new Promise((res) => server.close(res));
  });
  return { url: "ws://127.0.0.1:" + server.address().port + "/ws", conns };
}
