// Types of roomloop.js, the JavaScript client of roomloop (docs/clients.md).

/** The client's states (docs/clients.md, "States"). */
export type State = "connecting" | "connected" | "resuming" | "resumed" | "disconnected" | "closed";

/** A Storage-like object, such as sessionStorage. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface Options {
  /** "json" (subprotocol roomloop.json, the default) or "binary" (roomloop.bin). */
  codec?: "json" | "binary";
  /** Called before every connection attempt; its result is sent as ?token=. Not settled within twice probeTimeoutMs: a failed attempt.
   * When the server says the credential expires ($welcome expires_in_ms), also called before then, its result sent with $refresh
   * (docs/protocol.md, "Credential expiry"); a failure is reported to onError and retried in 5 s. */
  token?: () => string | Promise<string>;
  /** Keeps the resume token and last seq, so that a page reload resumes. */
  storage?: StorageLike;
  /** The key in storage (default "roomloop"). */
  storageKey?: string;
  /** Backoff bounds: attempt n waits up to min(maxBackoffMs, minBackoffMs × 2^(n−1)). Defaults 500 and 20000. The count starts over only after a connection has lasted 10 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Full jitter (default true): a random wait between 0 and the bound. */
  jitter?: boolean;
  /** How long a $ping may go unanswered (default 5000); a handshake gets twice this for its $welcome. */
  probeTimeoutMs?: number;
  /** Frames that may wait to be sent (default 256); beyond: buffer_full. */
  sendBuffer?: number;
  /** How long join, publish, sendTo, call and leave wait for an answer (default 10000), connected or not; then they fail with timeout and are not sent again (they may still have been applied). */
  callTimeoutMs?: number;
  /** The WebSocket constructor (default globalThis.WebSocket). */
  WebSocket?: { new (url: string, protocols?: string | string[]): WebSocket };
}

/** A state change, with why. */
export interface StateReport {
  state: State;
  /** Why. disconnected, closed: what ended the connection or the client. connecting, resuming: the previous drop's reason (empty on the first attempt). connected after a gap: "new session: " and the gap's reason. Empty for resumed and a first connected. */
  reason: string;
  /** With "disconnected": when the next attempt starts. */
  retryInMs?: number;
  /** With "connected" after a new session replaced a lost one. */
  gap?: Gap;
}

/** A new session replaced one that could not be resumed: frames were missed. */
export interface Gap {
  /** The server's reason: "unknown", "expired", "gap", "invalid", or "no_resume" (the server has resumption off). */
  reason: string;
  oldSession: string;
  session: string;
  /** How many unanswered frames failed with session_lost. */
  lost: number;
}

/** A frame handed to handlers (and, for $ack, the answer to a request). */
export interface Message {
  event: string;
  /** The room, or "" for a direct message. */
  room: string;
  to: string;
  /** The sender's session id ("" for the server). */
  from: string;
  seq: number;
  /** The parsed JSON payload (JSON codec), else undefined. */
  payload: unknown;
  /** The raw bytes: a "bin" payload of the JSON codec, any payload of the binary codec. */
  bytes?: Uint8Array;
  /** The payload as JSON: payload, or bytes parsed as UTF-8 JSON (undefined when empty). */
  json(): unknown;
}

/** A payload: raw bytes as a Uint8Array; anything else is sent as JSON. */
export type Payload = unknown;

export interface CallOptions {
  timeoutMs?: number;
}

export type Unsubscribe = () => void;

export class RoomloopError extends Error {
  /**
   * A server $error code (bad_request, forbidden, not_member, no_such_session,
   * too_many_rooms, rate_limited, dropped, internal, unauthorized) or the
   * client's own: timeout, closed, buffer_full, session_lost; onError also
   * reports undecodable, seq_jump, seq_repeat, no_seq, unknown_event,
   * unexpected_welcome, rejoin_failed and refresh_failed.
   */
  code: string;
  /** The $error's payload, when the server sent one. */
  payload?: unknown;
  constructor(code: string, message?: string, payload?: unknown);
}

export interface Room {
  readonly name: string;
  /** The members' session ids, kept current by the server's $presence diffs. */
  readonly members: string[];
  /**
   * Members joining and leaving, one call per member: the server gathers a
   * room's changes into one $presence diff per interval (100 ms by default),
   * reported here those that left first. A member that joined and left
   * within one interval is not reported.
   */
  onPresence(fn: (p: { session: string; joined: boolean }) => void): Unsubscribe;
  /** Handlers for this room's frames of event. */
  on(event: string, fn: (m: Message) => void): Unsubscribe;
  /** Sends with an id and waits for $ack (resolves with it) or $error. */
  publish(event: string, payload?: Payload, opts?: CallOptions): Promise<Message>;
  /** Sends without an id: no answer, at most once (not sent again after a drop). Throws buffer_full or closed. */
  send(event: string, payload?: Payload): void;
  leave(opts?: CallOptions): Promise<void>;
}

export interface Client {
  readonly state: State;
  /** The session id ("" before the first $welcome, unless from storage). */
  readonly session: string;
  /** Resolves at the first $welcome; rejects if the client closes before. */
  readonly ready: Promise<Client>;
  /** The rooms joined. */
  readonly rooms: Room[];
  onState(fn: (s: StateReport) => void): Unsubscribe;
  onGap(fn: (g: Gap) => void): Unsubscribe;
  /** Protocol anomalies from the server, and $error frames without a request. */
  onError(fn: (e: RoomloopError) => void): Unsubscribe;
  /** Handlers for every frame of event, from any room or direct. */
  on(event: string, fn: (m: Message) => void): Unsubscribe;
  /** Joins room; resolves once $joined arrives. */
  join(room: string, opts?: CallOptions): Promise<Room>;
  sendTo(session: string, event: string, payload?: Payload, opts?: CallOptions): Promise<Message>;
  /** A frame for a server handler (neither room nor recipient). */
  call(event: string, payload?: Payload, opts?: CallOptions): Promise<Message>;
  /** Ends the session (close 1000) and the client: final. */
  close(): void;
}

/** Returns a client and starts connecting. url: ws://, wss://, or a path resolved against location. */
export function connect(url: string, options?: Options): Client;
