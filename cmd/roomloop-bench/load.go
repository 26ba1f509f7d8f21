package main

import "errors"

// loadMain runs one scenario's load against a server that is already
// running.
func loadMain(args []string) error { return errors.New("load: not built yet") }
