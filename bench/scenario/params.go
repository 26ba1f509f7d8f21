package scenario

import "time"

// Params sizes the scenarios.
type Params struct {
	IdleConns    int           // idle: connections (100 rooms)
	Members      int           // broadcast: room members, publishers included
	Publishers   int           // broadcast: publishing members
	EchoConns    int           // echo: closed-loop connections
	ConnectConns int           // connect: connections opened
	SlowReaders  int           // slowconsumer: healthy readers
	SlowStalled  int           // slowconsumer: clients that stop reading
	Duration     time.Duration // each timed phase
	Dialers      int           // concurrent dials
}

// Full returns the full-size parameters.
func Full() Params {
	return Params{
		IdleConns: 10000, Members: 2000, Publishers: 4, EchoConns: 1000,
		ConnectConns: 10000, SlowReaders: 100, SlowStalled: 10,
		Duration: 5 * time.Second, Dialers: 64,
	}
}

// Quick returns small parameters for a fast check.
func Quick() Params {
	return Params{
		IdleConns: 300, Members: 100, Publishers: 4, EchoConns: 50,
		ConnectConns: 300, SlowReaders: 100, SlowStalled: 10,
		Duration: time.Second, Dialers: 16,
	}
}
