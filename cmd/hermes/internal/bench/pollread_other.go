//go:build !linux

package bench

import "context"

// pollers are Linux only (pollread_linux.go): elsewhere every stream has
// its goroutine.
type pollers struct{}

func newPollers(*env) *pollers { return nil }

func (*pollers) start(context.Context) {}

func (*pollers) add(context.Context, *subscriber, *stream) bool { return false }
