// Package resume holds what session resumption needs besides the replay
// buffer (which is the session's outbound stream, loop.Stream): secret
// resume tokens checked in constant time, the parsing of a resume request,
// and the bounded window of client frame ids used to apply each frame once.
package resume
