package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
)

// Example embeds a roomloop server: ?user= becomes the session id, a
// "shout" handler builds a new frame with api.JSON and broadcasts it to the
// room, and a client joins a room and hears its own shout from the handler.
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
		// Handlers decide what a frame does; here it is rewritten and
		// goes to the whole room, sender included.
		var text string
		if err := json.Unmarshal(f.Payload, &text); err != nil {
			return api.NewError(api.CodeBadRequest, "shout needs a string") // sent as is
		}
		out, err := api.JSON("shouted", strings.ToUpper(text)+"!")
		if err != nil {
			return err // logged; the client gets $error internal
		}
		out.From = c.ID()
		if _, err := srv.Broadcast(f.Room, out); err != nil { // fills in out.Room
			return err
		}
		return nil // → $ack, since the frame has an id
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
	// {"seq":2,"event":"shouted","room":"lobby","from":"ada","payload":"HI!"}
	// {"seq":3,"event":"$ack","id":"1"}
}
