// Package resume is where roomloop's sessions and their resumption live.
//
// A session outlives its connections. Its Stream is its outbound frames:
// each gets the next seq, waits in a queue for the attached connection
// (the Stream is the connection's loop.Source), and stays in the replay
// ring after it is written until the client confirms it (a pong to a ping
// sent after it, or $seen) or the replay bound evicts it. When a
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
