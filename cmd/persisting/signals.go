package main

import (
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// graceful is set by a command that ends cleanly on SIGINT/SIGTERM itself
// (tail --follow stops with status 0; compact and cleanup finish and close
// the bucket in hand, then stop with 130). Any other command exits 130 at
// once: it only reads.
var graceful atomic.Bool

// notifyInterrupt returns a channel closed at the first SIGINT or SIGTERM;
// a second one exits 130 at once. It also turns a write to a closed pipe
// (`persisting tail ... | head`) into an EPIPE error instead of a SIGPIPE death.
func notifyInterrupt() <-chan struct{} {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	interrupted := make(chan struct{})
	go func() {
		<-sig
		if !graceful.Load() {
			os.Exit(exitInterrupted)
		}
		close(interrupted)
		<-sig
		os.Exit(exitInterrupted)
	}()
	return interrupted
}
