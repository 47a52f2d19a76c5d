//go:build !windows

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// notifyHangup delivers SIGHUP to ch: the signal to reload the TLS
// certificate.
func notifyHangup(ch chan<- os.Signal) { signal.Notify(ch, syscall.SIGHUP) }

// stopHangup undoes notifyHangup.
func stopHangup(ch chan<- os.Signal) { signal.Stop(ch) }
