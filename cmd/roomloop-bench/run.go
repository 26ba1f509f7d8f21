package main

import "errors"

// runMain runs the scenarios against both implementations.
func runMain(args []string) error { return errors.New("run: not built yet") }
