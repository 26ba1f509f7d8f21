// The chat demo the roomloop binary serves at "/", built on roomloop.js.
// Rooms are joined and left; room messages are event "chat", direct ones
// "dm", both with payload {name, text}. sessionStorage keeps the session,
// the name and the rooms, so a reload resumes where the page was.
import { connect } from "/roomloop.js";

const $ = (sel) => document.querySelector(sel);
const store = sessionStorage;
const client = connect(document.body.dataset.path || "/ws", { storage: store, storageKey: "roomloop-demo" });
window.demo = { client };

const el = (tag, props, ...kids) => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...kids);
  return e;
};

// --- name ---
const nameInput = $("#name");
nameInput.value = store.getItem("demo-name") || "guest-" + Math.random().toString(36).slice(2, 6);
const myName = () => nameInput.value.trim() || "guest";
const saveName = () => store.setItem("demo-name", nameInput.value);
saveName();
nameInput.addEventListener("change", saveName);

const names = new Map(); // session → the last name it used

// --- connection state ---
const stateEl = $("#state"), history = [];
function entered(word) {
  history.push(word);
  stateEl.dataset.history = history.join(" ");
}
client.onState((s) => {
  entered(s.state);
  stateEl.dataset.state = s.state;
  stateEl.classList.toggle("gap", !!s.gap);
  stateEl.textContent = {
    connecting: "connecting…", disconnected: "reconnecting…", resuming: "reconnecting…", resumed: "resumed",
    connected: s.gap ? "gap: " + s.gap.reason : "connected", closed: "closed: " + s.reason,
  }[s.state];
  stateEl.title = s.reason;
  $("#session").textContent = client.session;
  renderMembers();
});
client.onGap((g) => {
  entered("gap");
  stateEl.classList.add("gap");
  stateEl.textContent = "gap: " + g.reason;
  showError("Messages may be missing: the session was lost (" + g.reason + ") and a new one began.");
});
client.onError((e) => console.warn("roomloop:", e.code, e.message));

// --- rooms ---
const rooms = new Map(); // name → {room, li}
let current = "";

function saveRooms() { store.setItem("demo-rooms", JSON.stringify([...rooms.keys()])); }

function select(name) {
  current = rooms.has(name) ? name : "";
  for (const [n, r] of rooms) r.li.classList.toggle("current", n === current);
  renderMembers();
}

async function join(name, makeCurrent) {
  try {
    const room = await client.join(name);
    if (!rooms.has(name)) {
      const leave = el("button", { type: "button", className: "leave", textContent: "leave", title: "Leave " + name });
      const li = el("li", {}, el("span", { textContent: name }), leave);
      li.dataset.room = name;
      li.addEventListener("click", () => select(name));
      leave.addEventListener("click", (ev) => { ev.stopPropagation(); leaveRoom(name); });
      room.onPresence(() => name === current && renderMembersSoon());
      rooms.set(name, { room, li });
      $("#rooms").append(li);
      saveRooms();
    }
    if (makeCurrent || !current) select(name);
  } catch (e) {
    showError("Cannot join " + name + ": " + e.message);
  }
}

async function leaveRoom(name) {
  const r = rooms.get(name);
  if (!r) return;
  try {
    await r.room.leave();
  } catch (e) {
    return showError("Cannot leave " + name + ": " + e.message);
  }
  r.li.remove();
  rooms.delete(name);
  saveRooms();
  if (current === name) select(rooms.keys().next().value || "");
}

// A $presence diff reports its members one call each: the list is drawn
// once, after the last.
let renderQueued = false;
function renderMembersSoon() {
  if (renderQueued) return;
  renderQueued = true;
  queueMicrotask(() => { renderQueued = false; renderMembers(); });
}

function renderMembers() {
  const r = rooms.get(current), ul = $("#members");
  ul.replaceChildren();
  if (!r) return;
  for (const s of r.room.members) {
    const you = s === client.session, name = you ? myName() : names.get(s);
    const li = el("li", { textContent: (name ? name + " · " : "") + s + (you ? " (you)" : ""), title: "Send a direct message" });
    li.dataset.session = s;
    li.addEventListener("click", () => { $("#to").value = you ? "" : s; $("#text").focus(); });
    ul.append(li);
  }
}

$("#join-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const name = $("#room").value.trim();
  if (!name) return;
  $("#room").value = "";
  join(name, true);
});

// --- messages ---
const log = $("#log");

function show({ seq, room, from, name, text, dm, mine }) {
  const li = el("li", { className: "msg" + (dm ? " dm" : "") + (mine ? " mine" : ""), textContent: name + ": " + text });
  if (seq) li.dataset.seq = seq;
  if (room) li.dataset.room = room;
  li.dataset.from = from;
  li.title = (dm ? "direct, " : "#" + room + ", ") + "from " + from;
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
  log.append(li);
  if (atEnd || mine) log.scrollTop = log.scrollHeight;
}

function received(m, dm) {
  const p = m.json();
  const ok = p && typeof p === "object" && typeof p.text === "string";
  const name = ok && typeof p.name === "string" && p.name ? p.name : m.from;
  if (ok && name !== m.from) {
    const changed = names.get(m.from) !== name;
    names.set(m.from, name);
    if (changed) renderMembers();
  }
  show({ seq: m.seq, room: m.room, from: m.from, name, text: ok ? p.text : JSON.stringify(p), dm });
}

client.on("chat", (m) => received(m, false));
client.on("dm", (m) => received(m, true));

let errTimer;
function showError(text) {
  $("#error").textContent = text;
  clearTimeout(errTimer);
  errTimer = setTimeout(() => { $("#error").textContent = ""; }, 8000);
}

$("#send-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const textInput = $("#text"), text = textInput.value.trim(), to = $("#to").value.trim();
  if (!text) return;
  const payload = { name: myName(), text };
  const room = !to && rooms.get(current);
  if (!to && !room) return showError("Join a room first, or give a session in 'to'.");
  textInput.value = "";
  try {
    if (to) await client.sendTo(to, "dm", payload);
    else await room.room.publish("chat", payload);
    show({ room: to ? "" : current, from: client.session, name: payload.name, text, dm: !!to, mine: true });
  } catch (e) {
    showError("Not sent (" + e.code + "): " + e.message);
    if (!textInput.value) textInput.value = text;
  }
});

// --- start: the ?room= room (default lobby), then the rooms of before a reload ---
const first = new URLSearchParams(location.search).get("room") || "lobby";
let saved = [];
try { saved = JSON.parse(store.getItem("demo-rooms") || "[]"); } catch { /* none */ }
join(first, true);
for (const name of saved) if (name !== first) join(name, false);
