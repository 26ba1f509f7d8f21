package api

import "errors"

// Broker joins a Server to the other nodes of a cluster (docs/cluster.md).
// Package cluster implements it on NATS; with Options.Broker nil the
// server is one node, and nothing of a broker is compiled into it.
//
// A broker moves opaque records. It keeps one order per room across the
// cluster: every record published to a room reaches every node that
// holds the room, the publisher included, once, in that order. The
// server decides what the records mean.
//
// The server calls Attach once, before it serves, and Detach when it has
// shut down; the other methods may be called concurrently.
type Broker interface {
	// Attach starts the broker for this server, which it calls back
	// through node. It fails if the broker cannot reach its peers.
	Attach(node BrokerNode) error
	// Detach stops the broker; node is called no more once it returns.
	Detach()
	// Node returns this node's id: letters, digits and '-'.
	Node() string
	// Nodes returns the other nodes that are up now (heard from lately),
	// in no order.
	Nodes() []string
	// Publish puts rec at the end of room's order and returns once it is
	// there. key, if not empty, makes a retry of the same record a no-op.
	// An error means rec may not have been published: the caller reports
	// it and may retry with the same key.
	Publish(room, key string, rec []byte) error
	// Hold starts delivering room's records to this node: it returns once
	// node.RoomReset has given the room's state and every later record
	// will follow through node.RoomRecord. Holds are counted; Release
	// ends one.
	Hold(room string) error
	// Release ends one Hold of room.
	Release(room string)
	// Request sends rec to node's BrokerNode.Handle and returns its
	// answer; ErrNoNode when that node is not there.
	Request(node string, rec []byte) ([]byte, error)
	// Sync calls fn in the order of a room this node holds, as if it were
	// a record, once the records up to position atLeast have been applied
	// (fetched from where they are stored, if they have not come yet);
	// pos is the last one applied. It returns when fn has returned.
	Sync(room string, atLeast uint64, fn func(pos uint64)) error
	// Replay calls fn with the room's stored records from position from
	// to to, in order; ErrAgedOut if some of them may no longer be
	// stored.
	Replay(room string, from, to uint64, fn func(pos uint64, rec []byte)) error
}

// BrokerNode is what a Broker calls on its server. For one room, the
// Room methods are called one at a time, in the room's order.
type BrokerNode interface {
	// RoomState returns the room's state, to start another node's Hold
	// from, and the position it is at; ok false when this node does not
	// hold the room.
	RoomState(room string) (pos uint64, state []byte, ok bool)
	// RoomReset sets the room's state as another node gave it at pos (nil:
	// an empty room); the records after pos follow.
	RoomReset(room string, pos uint64, state []byte)
	// RoomRecord applies the record at pos of room's order.
	RoomRecord(room string, pos uint64, rec []byte)
	// RoomLost says that records of room up to pos were lost to this node
	// (they aged out before it could fetch them); the ones after follow.
	RoomLost(room string, pos uint64)
	// Handle answers a Request from another node. It may be called
	// concurrently.
	Handle(rec []byte) []byte
	// NodeDown says that node has been silent for too long: its sessions
	// are gone.
	NodeDown(node string)
}

// Errors of a Broker.
var (
	// ErrNoNode is a Request to a node that is not there.
	ErrNoNode = errors.New("api: no such node in the cluster")
	// ErrAgedOut is a Replay of records the broker no longer keeps.
	ErrAgedOut = errors.New("api: the room's records have aged out")
)
