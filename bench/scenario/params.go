package scenario

import (
	"syscall"
	"time"
)

// Params sizes the scenarios.
type Params struct {
	IdleConns int // idle: connections (100 rooms)
	// IdleLater, when set, is a second no-GC RSS reading this long after
	// the idle storm's last join (the first is at 2 s).
	IdleLater    time.Duration
	Members      int     // broadcast: room members, publishers included
	Publishers   int     // broadcast: publishing members
	LightRate    float64 // broadcast: messages/s of the light-load phase
	LightMembers int     // broadcast: members of the light-load phase's room
	EchoConns    int     // echo: connections
	ConnectConns int     // connect: connections opened
	SlowReaders  int     // slowconsumer: healthy readers
	SlowStalled  int     // slowconsumer: clients that stop reading
	ResumeConns  int     // resume: sessions that drop and come back
	ResumeMissed int     // resume: room messages sent while they are away
	Reconnects   int     // reconnect: Go clients that reconnect after a restart
	APIMembers   int     // api-publish: members of the room published to
	APIClients   int     // api-publish: concurrent HTTP clients
	JSONMembers  int     // broadcast-json: room members, publishers included
	JSONWindow   int     // broadcast-json: messages in flight
	JSONRate     float64 // broadcast-json: messages/s of the fixed-rate phase; 0 skips it
	// JSONInflateEach makes broadcast-json's clients inflate every
	// compressed message on its own, as browsers do, instead of once per
	// distinct compressed body (load.Config.InflateCache).
	JSONInflateEach bool
	// resume-load: sessions (each behind its own severing proxy), the
	// publisher's frames/s, the length of the flood, and the cuts per
	// session during it.
	ResumeLoadConns int
	ResumeLoadRate  float64
	ResumeLoadFlood time.Duration
	ResumeLoadCuts  int
	// cluster-fanout: members of the room (spread over the nodes) and
	// the publisher's messages in flight.
	ClusterMembers  int
	ClusterInFlight int
	// cluster-pairs: 2-member rooms, and messages in flight per room.
	PairRooms    int
	PairInFlight int
	// cluster-idle: idle connections, in rooms of 100, spread over the
	// nodes.
	ClusterIdleConns int
	// cluster-resume: sessions on the node that drains (in rooms of
	// 100), and messages per room before the drain and again during it.
	ClusterResumeConns  int
	ClusterResumeMissed int
	// cluster-hold: connections held over HoldNodes nodes.
	HoldConns int
	// Exe is the benchmark binary, which cluster-hold starts as its load
	// generator processes ("hold"); the runner sets it.
	Exe      string
	Duration time.Duration // each timed phase
	Dialers  int           // concurrent dials

	// EchoRate is the offered rate (round trips/s, all connections
	// together) of echo's fixed-rate phase; 0 skips the phase. The runner
	// sets it, before the echo rounds, to EchoRateFraction of the
	// baseline's closed-loop rate measured in a calibration run.
	EchoRate         float64
	EchoRateFraction float64

	// Variant is the variant of a scenario that has them (Variants); the
	// runner sets it for each run.
	Variant string
}

// Full returns the full-size parameters.
func Full() Params {
	return Params{
		IdleConns: idleDefault(), Members: 10000, Publishers: 4, LightRate: 5, LightMembers: 2000, EchoConns: 5000,
		ConnectConns: 10000, SlowReaders: 100, SlowStalled: 10,
		ResumeConns: 5000, ResumeMissed: 20, Reconnects: 10000,
		ResumeLoadConns: 1000, ResumeLoadRate: 200, ResumeLoadFlood: 10 * time.Second, ResumeLoadCuts: 3,
		APIMembers: 1000, APIClients: 32, JSONMembers: 2000, JSONWindow: 32, JSONRate: 10, ClusterMembers: 2000, ClusterInFlight: 16,
		PairRooms: 1000, PairInFlight: 4, ClusterIdleConns: 6000, ClusterResumeConns: 5000, ClusterResumeMissed: 5, HoldConns: 90000,
		Duration: 5 * time.Second, Dialers: 64, EchoRateFraction: 0.5,
	}
}

// Quick returns small parameters for a fast check.
func Quick() Params {
	return Params{
		IdleConns: 300, Members: 100, Publishers: 4, LightRate: 10, LightMembers: 50, EchoConns: 50,
		ConnectConns: 300, SlowReaders: 100, SlowStalled: 10,
		ResumeConns: 200, ResumeMissed: 5, Reconnects: 1000,
		ResumeLoadConns: 100, ResumeLoadRate: 200, ResumeLoadFlood: 2 * time.Second, ResumeLoadCuts: 3,
		APIMembers: 100, APIClients: 8, JSONMembers: 100, JSONWindow: 8, JSONRate: 50, ClusterMembers: 60, ClusterInFlight: 16,
		PairRooms: 50, PairInFlight: 4, ClusterIdleConns: 300, ClusterResumeConns: 200, ClusterResumeMissed: 3, HoldConns: 1000,
		Duration: time.Second, Dialers: 16, EchoRateFraction: 0.5,
	}
}

// idleDefault is 19,000 idle connections, or fewer where the open-file
// limit (which the server process and the load generator each live
// under) leaves less than 512 descriptors to spare.
func idleDefault() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil || l.Cur > 19000+512 {
		return 19000
	}
	return max(100, int(l.Cur)-512)
}
