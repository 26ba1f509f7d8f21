// Package wsproto implements the wire protocol of RFC 6455 WebSocket
// servers for roomloop's raw epoll loop: parsing and validating the HTTP
// upgrade request, an incremental and strict client-to-server frame parser,
// and writing server frames.
//
// Everything is bounded (request heads, header counts, message sizes and
// fragment counts), allocation-light, and panic-free on any input. The
// package holds no mutable package-level state; its functions are safe for
// concurrent use, while a [Parser] belongs to one connection and is not.
package wsproto
