package main

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"html"
	"net/http"
	"strings"
	"time"

	jsclient "github.com/roomloop/roomloop/clients/js"
)

// indexPage is the chat demo the binary serves at "/": a page of the same
// origin as the WebSocket, built on roomloop.js (demoScript).
//
//go:embed web/index.html
var indexPage string

// demoScript is the demo's module, served at /demo.js.
//
//go:embed web/demo.js
var demoScript string

// pages returns the binary's HTTP handler for requests that are not
// WebSocket upgrades at wsPath: the chat demo at "/", its module at
// /demo.js, the JavaScript client at /roomloop.js, 426 Upgrade Required
// with a reason at wsPath and the other WebSocket paths (wsPaths), and
// 404 elsewhere.
func pages(wsPath string, wsPaths ...string) http.Handler {
	page := strings.Replace(indexPage, "<body>", `<body data-path="`+html.EscapeString(wsPath)+`">`, 1)
	// The page's one inline style is allowed by its hash; scripts only
	// from this origin, so no inline script runs.
	style := page[strings.Index(page, "<style>")+len("<style>") : strings.Index(page, "</style>")]
	sum := sha256.Sum256([]byte(style))
	csp := "default-src 'none'; script-src 'self'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; connect-src 'self' "
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("Referrer-Policy", "no-referrer")
		// 'self' covers ws:// and wss:// of the same host only in newer
		// browsers: name them.
		h.Set("Content-Security-Policy", csp+"ws://"+r.Host+" wss://"+r.Host)
		_, _ = w.Write([]byte(page))
	})
	mux.Handle("GET /demo.js", script(demoScript))
	mux.Handle("GET /roomloop.js", script(jsclient.Source()))
	for _, p := range append([]string{wsPath}, wsPaths...) {
		if p != "" && p != "/" {
			mux.Handle(p, upgradeRequired(p))
		}
	}
	return mux
}

// upgradeRequired answers a plain HTTP request at a WebSocket path: 426
// with the reason, so that a curl or a misconfigured proxy says what is
// wrong instead of "404 page not found".
func upgradeRequired(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		http.Error(w, path+" is a WebSocket endpoint: connect with a WebSocket client (GET with Upgrade: websocket); this request is not a WebSocket upgrade", http.StatusUpgradeRequired)
	})
}

// script serves a JavaScript module. Browsers revalidate it on every load
// (no-cache) and get 304 while its ETag, a hash of it, still matches.
func script(src string) http.Handler {
	sum := sha256.Sum256([]byte(src))
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, strings.NewReader(src))
	})
}
