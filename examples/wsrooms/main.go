// Command wsrooms shows a wsrooms server's handlers ported to roomloop:
// unchanged wsrooms.js clients connect to /wsrooms, and each handler
// registered with wsrooms' RegisterHandler becomes a Server.Handle
// handler, one to one.
//
// In wsrooms a handler ran instead of the broadcast for its event and
// answered with TrySend, SendToRoom or SendToClient; here it runs instead
// of the default route, and answers with Conn.Send, Server.Broadcast or
// Server.Send.
// The wsrooms fields map onto a Frame: room → Room (for a direct message,
// dst → To), event → Event, src → From (always the true sender), payload
// → Payload (bytes).
//
//	go run ./examples/wsrooms
package main

import (
	"context"
	"log"
	"os/signal"
	"strings"
	"syscall"

	"github.com/roomloop/roomloop/api"
	"github.com/roomloop/roomloop/frame"
	"github.com/roomloop/roomloop/wire/wsrooms"
)

func main() {
	srv := api.New(&api.Options{
		Endpoints: []api.Endpoint{{Path: "/wsrooms", Wire: wsrooms.New(wsrooms.Options{})}},
	})

	// wsrooms:
	//	RegisterHandler("ping", func(c *wsrooms.Conn, msg *wsrooms.Message) error {
	//		reply := wsrooms.NewMessage("util", "pong", "", c.ID, nil)
	//		c.TrySend(reply.Bytes())
	//		return nil
	//	})
	srv.Handle("ping", func(c *api.Conn, f *api.Frame) error {
		return c.Send(frame.Frame{Event: "pong", Room: "util", From: c.ID()})
	})

	// wsrooms: c.SendToRoom(msg.Room, "shout", upper(msg.Payload)), which
	// reaches the room's other members.
	srv.Handle("shout", func(c *api.Conn, f *api.Frame) error {
		_, err := srv.Broadcast(f.Room, frame.Frame{Event: "shout", From: c.ID(),
			Kind: frame.BytesPayload, Payload: []byte(strings.ToUpper(string(f.Payload)))}, c.ID())
		return err
	})

	// wsrooms: c.SendToClient(dstID, "echo", []byte("ack")), a direct
	// message, which arrives in room root.
	srv.Handle("chat", func(c *api.Conn, f *api.Frame) error {
		return srv.Send(c.ID(), frame.Frame{Event: "echo", Room: "root", From: c.ID(),
			Kind: frame.BytesPayload, Payload: []byte("ack")})
	})

	if err := srv.Start("127.0.0.1:8080"); err != nil {
		log.Fatal(err)
	}
	log.Printf("wsrooms.js clients: ws://%s/wsrooms", srv.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	_ = srv.Shutdown(context.Background())
}
