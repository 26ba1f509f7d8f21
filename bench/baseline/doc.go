// Package baseline is the goroutine-model server that roomloop is measured
// against: a room server built the way typical gorilla/websocket servers
// are, with one read goroutine and one write goroutine per connection, a
// buffered send channel of 256 frames (a full channel drops the client),
// 1 KiB read and write buffers, and a hub that keeps rooms in a map behind
// one mutex.
//
// It speaks the subset of the roomloop.json protocol that the benchmark
// scenarios use ($welcome, $join/$joined, room broadcast excluding the
// sender, direct messages via "to", $ping/$pong), and writes frames that
// are byte-compatible with roomloop's JSON codec, so that one load
// generator drives both servers.
//
// With Options.Compression it is the same server with gorilla's
// permessage-deflate on, as a gorilla user turns it on: the upgrader
// negotiates it (no context takeover), and every frame goes out as a
// websocket.PreparedMessage, so that a broadcast is compressed once and
// its frame shared by every member. Its frames then carry no seq.
package baseline
