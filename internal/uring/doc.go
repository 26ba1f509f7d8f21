// Package uring is a minimal io_uring submitter for one job: hand many
// sockets' sends to the kernel in one system call (io_uring_enter)
// instead of one write per socket. It speaks the raw interface through
// golang.org/x/sys/unix (io_uring_setup, io_uring_enter, mmap'd rings),
// without cgo or liburing.
//
// A Ring is not safe for concurrent use: one goroutine owns it (a
// flusher). Every send is submitted with MSG_DONTWAIT, so the kernel
// runs it inline during io_uring_enter and never parks it: a socket that
// cannot take bytes now completes with EAGAIN, and SendAll returns only
// once every send it submitted has completed. The caller therefore owns
// its buffers again when SendAll returns.
package uring
