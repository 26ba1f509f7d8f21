// Package client is the Go client of roomloop: one logical session with a
// roomloop server that outlives the connections under it. It reconnects
// with jittered backoff, resumes the session exactly (every missed frame,
// in order, once), sends unanswered frames again after a resume, and
// reports a gap when the server could not resume. docs/clients.md states
// the rules; docs/protocol.md the wire.
//
//	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", nil)
//	...
//	c.On("chat", func(m client.Message) { fmt.Println(m.From, string(m.Payload)) })
//	room, err := c.Join(ctx, "lobby", func(r *client.Room) { r.OnPresence(...) })
//	err = room.Publish(ctx, "chat", map[string]string{"text": "hi"})
//	...
//	c.Close()
//
// # Concurrency
//
// A Client and its Rooms are safe for concurrent use by any number of
// goroutines. Frames are not kept for handlers that do not exist yet:
// register handlers before their frames can arrive, in Options.Setup
// (before the first connection) or in Join's setup (before $join). Handlers (On, Room.On, OnPresence, OnState, OnGap, OnError)
// run one at a time on the client's dispatch goroutine, in the order the
// server sent the frames, state changes included. A handler may call any
// method. One that waits for an answer (Publish, Join, Call…) holds up
// the frames behind it, and if more than 256 are waiting, reading stops
// until the wait ends by its context; from a handler, prefer Send or wait
// in a goroutine of your own.
//
// Close stops the connection and its goroutines before it returns; the
// dispatch goroutine then delivers the final Closed state and ends, which
// Done reports. No handler starts after Close returns, but the final
// Closed state change.
package client
