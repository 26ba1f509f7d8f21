//go:build race

package client_test

// raceBuild is true when the tests run with the race detector, which
// makes everything several times slower: heavy tests pace themselves down.
const raceBuild = true
