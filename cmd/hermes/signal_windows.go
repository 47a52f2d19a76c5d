package main

import "os"

// notifyHangup does nothing on Windows, which has no SIGHUP: the
// certificate files are reloaded by polling only.
func notifyHangup(chan<- os.Signal) {}

// stopHangup undoes notifyHangup.
func stopHangup(chan<- os.Signal) {}
