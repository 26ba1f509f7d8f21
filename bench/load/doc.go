// Package load is the benchmark's load generator: many WebSocket client
// connections of the roomloop.json protocol held by one nbio event loop
// (no goroutine per connection), with a small client-side framing of its
// own (masked frames out, unmasked server frames in), source addresses
// spread over 127.0.0.2, 127.0.0.3, … so that ephemeral ports last, and a
// latency histogram.
package load
