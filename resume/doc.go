// Package resume is where roomloop's sessions and their resumption live.
//
// A session outlives its connections. Its Stream is its outbound frames:
// each gets the next seq, waits in a queue for the attached connection
// (the Stream is the connection's loop.Source), and stays in the replay
// ring after it is written until the client confirms it (a pong to a ping
// sent after it, or $seen). Written and unconfirmed frames are bounded by
// a window sized to what TCP holds in flight for the connection: past it,
// writing waits for a confirmation, and the queue's bound meets the
// slow-consumer policy; only a suspended session evicts frames, past its
// own bound (docs/protocol.md, "When a resume gets gap"). When a
// connection drops the session is suspended (Registry.Suspend) and its
// frames wait; a new connection presenting the session's token and the
// last seq it processed attaches to the stream after that seq and gets
// every later frame in order, once, or a plain refusal (Reason...).
// Suspended sessions end when their window passes or the suspended-bytes
// budget is spent (Registry.Expire).
//
// Besides: secret resume tokens checked in constant time (NewToken,
// Match), the parsing of a resume request (ParseRequest), session ids
// (NewSessionID), and the bounded window of client frame ids that applies
// each frame once (Dedupe). The rules as clients see them are in
// docs/protocol.md, "Resuming".
package resume
