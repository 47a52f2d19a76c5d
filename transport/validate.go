package transport

import "fmt"

// MaxIDLength bounds an event id in bytes. Durable transports index ids
// (bbolt keys are limited to 32 KiB), and one bound for all lets a history
// move between them.
const MaxIDLength = 16 << 10

// CheckAppend tells whether a transport may store evs: no nil event, no id
// longer than MaxIDLength. Transports call it before taking a batch, so
// that one invalid event fails the whole batch before anything is stored.
func CheckAppend(evs []*Event) error {
	for i, ev := range evs {
		if ev == nil {
			return fmt.Errorf("event %d is nil", i)
		}
		if len(ev.ID) > MaxIDLength {
			return fmt.Errorf("event %d: id of %d bytes, longer than %d", i, len(ev.ID), MaxIDLength)
		}
	}
	return nil
}
