package memory

import (
	"testing"

	"github.com/hermes-hub/hermes/transport"
	"github.com/hermes-hub/hermes/transport/transporttest"
)

func TestConformance(t *testing.T) {
	transporttest.Run(t, transporttest.Factory{
		Open: func(t *testing.T, _ string, r transporttest.Retention) transport.Transport {
			size := r.Size
			if size == 0 {
				size = transporttest.MaxEventsPerCase
			}
			return New(Options{Size: size})
		},
	})
}
