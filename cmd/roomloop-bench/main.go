// Command roomloop-bench benchmarks roomloop against a goroutine-model
// baseline server.
//
//	roomloop-bench run -scenario all|idle|broadcast|echo|connect|slowconsumer|resume|reconnect|resume-load|api-publish|broadcast-json|cluster-fanout|cluster-pairs|cluster-idle|cluster-resume|cluster-hold [-quick] [-rounds N] [-out DIR] [-centrifuge]
//	roomloop-bench server -impl roomloop|baseline|roomloop-metrics|roomloop-uring -addr 127.0.0.1:0 [-api] [-defaults] [-nats URL -node-id ID]
//	roomloop-bench load -scenario NAME -addr HOST:PORT [-pid PID] [-impl centrifuge] [-admin-addr HOST:PORT -api-key KEY]
//	roomloop-bench soak -run idle|churn|chaos|slowmix|hostile|drain|all [-duration D] [-sample 10s] [-conns N]
//
// "run" starts each implementation as a child process ("server"), drives
// it with the in-process load generator, and prints Markdown tables;
// with -centrifuge it also builds and runs the centrifuge comparator
// (module bench/centrifuge) where it applies.
// cluster-fanout's cluster variant also starts a hidden "nats" child, an
// embedded NATS server with JetStream, for its three nodes to meet on;
// cluster-hold also starts hidden "hold" children, load generators that
// hold one node's connections each.
// "soak" runs roomloop's soak and chaos runs (the soak plan in
// bench/README.md) against roomloop and fails when a run breaks its rules. See bench/README.md.
package main

import (
	"fmt"
	"os"
)

func main() {
	os.Exit(dispatch(os.Args[1:]))
}

// dispatch runs a subcommand and returns the exit status.
func dispatch(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: roomloop-bench run|server|load|soak [flags]")
		return 2
	}
	var err error
	switch args[0] {
	case "server":
		err = serverMain(args[1:])
	case "load":
		err = loadMain(args[1:])
	case "run":
		err = runMain(args[1:])
	case "soak":
		err = soakMain(args[1:])
	case "nats": // hidden: the cluster scenarios' NATS child
		err = natsMain(args[1:])
	case "hold": // hidden: cluster-hold's load generator children
		err = holdMain(args[1:])
	default:
		err = fmt.Errorf("unknown subcommand %q (want run, server, load or soak)", args[0])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "roomloop-bench:", err)
		return 1
	}
	return 0
}
