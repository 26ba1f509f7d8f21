// Package jsclient holds roomloop.js, the JavaScript client of roomloop
// (docs/clients.md), for Go programs that serve it: the bundled binary
// serves it at /roomloop.js. The module itself lives beside this file,
// with its types (roomloop.d.ts) and tests (test.sh, size.sh).
package jsclient

import _ "embed"

//go:embed roomloop.js
var source string

// Source returns the ES module roomloop.js, as it is in the repository.
func Source() string { return source }
