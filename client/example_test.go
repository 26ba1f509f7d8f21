package client_test

import (
	"context"
	"log"
	"time"

	"github.com/roomloop/roomloop/client"
)

// The README's Go quick start, as a program.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", &client.Options{
		OnState: func(s client.StateChange) { log.Println(s.State, s.Err) },
	})
	if err != nil {
		log.Fatal(err) // a *client.RefusedError for an HTTP refusal
	}
	defer func() {
		_ = c.Close()
		<-c.Done() // the final Closed state has been delivered
	}()
	c.OnGap(func(g client.Gap) { log.Println("missed frames:", g.Reason) })
	room, err := c.Join(ctx, "lobby", func(r *client.Room) {
		r.On("chat", func(m client.Message) { log.Println(m.From, string(m.Payload)) })
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := room.Publish(ctx, "chat", map[string]string{"text": "hi"}); err != nil {
		log.Fatal(err) // a *client.Error: its Code says why
	}
}
