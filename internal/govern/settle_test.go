package govern

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestSettler(t *testing.T) {
	for _, tt := range []struct {
		name string
		s    *settler
	}{
		{"nil runs inline", nil},
		{"in memory runs inline", &settler{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			tt.s.run(context.Background(), func(context.Context) { ran = true })
			if !ran {
				t.Fatal("run returned before f ran")
			}
			tt.s.wait()
		})
	}
	t.Run("redis runs in the background and wait waits", func(t *testing.T) {
		s := &settler{async: true}
		release := make(chan struct{})
		var done atomic.Bool
		s.run(context.Background(), func(context.Context) {
			<-release
			done.Store(true)
		})
		// run returned while f is blocked: it did not run inline.
		waited := make(chan struct{})
		go func() {
			s.wait()
			close(waited)
		}()
		select {
		case <-waited:
			t.Fatal("wait returned while a settlement was still running")
		case <-time.After(20 * time.Millisecond):
		}
		close(release)
		<-waited
		if !done.Load() {
			t.Fatal("wait returned before the settlement finished")
		}
	})
}
