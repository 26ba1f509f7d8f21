package api_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// Example embeds a roomloop server: tokens become session ids, a "shout"
// handler rewrites frames before they reach the room, and a client joins a
// room and hears its own shout echoed by the handler.
func Example() {
	srv := api.New(&api.Options{
		Authorize: func(r *http.Request) (api.Identity, error) {
			user := r.URL.Query().Get("user")
			if user == "" {
				return api.Identity{}, api.Unauthorized("?user= is required")
			}
			return api.Identity{SessionID: user, Rooms: []string{"lobby"}}, nil
		},
	})
	srv.Handle("shout", func(c *api.Conn, f *api.Frame) error {
		// Handlers decide what a frame does; here it goes to the whole
		// room, sender included.
		srv.Broadcast(f.Room, api.Frame{Event: "shouted", Room: f.Room, From: c.ID(),
			Kind: f.Kind, Payload: f.Payload})
		return nil
	})
	if err := srv.Start("127.0.0.1:0"); err != nil {
		panic(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr().String()+"/ws?user=ada", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_ = ws.WriteJSON(map[string]any{"event": "shout", "room": "lobby", "id": "1", "payload": "hi"})
	var welcome struct{ Payload frame.WelcomePayload }
	_ = ws.ReadJSON(&welcome) // $welcome (with a random resume token)
	fmt.Println("session", welcome.Payload.Session)
	for range 3 { // $joined, shouted, $ack
		_, data, _ := ws.ReadMessage()
		fmt.Println(string(data))
	}
	// Output:
	// session ada
	// {"seq":1,"event":"$joined","room":"lobby","payload":{"count":1,"members":["ada"],"truncated":false}}
	// {"seq":2,"event":"shouted","room":"lobby","from":"ada","payload":"hi"}
	// {"seq":3,"event":"$ack","id":"1"}
}
