package main

import (
	_ "embed"
	"html"
	"net/http"
	"strings"
)

// indexPage is the page the binary serves at "/": it says what the server
// is and connects to it, as any page of the same origin may.
//
//go:embed web/index.html
var indexPage string

// pages returns the binary's HTTP handler for requests that are not
// WebSocket upgrades at wsPath: the index page at "/", 404 elsewhere.
func pages(wsPath string) http.Handler {
	page := strings.Replace(indexPage, "<body>", `<body data-path="`+html.EscapeString(wsPath)+`">`, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		// 'self' covers ws:// and wss:// of the same host only in newer
		// browsers: name them.
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "+
			"connect-src 'self' ws://"+r.Host+" wss://"+r.Host)
		_, _ = w.Write([]byte(page))
	})
	return mux
}
