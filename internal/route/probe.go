package route

import (
	"context"
	"sync"
	"time"
)

// ProbeFunc checks one deployment, for instance with a one-token chat
// request; nil means healthy. It must honour ctx.
type ProbeFunc func(ctx context.Context, d *Deployment) error

// StartProbes checks every deployment each interval (real time) until ctx
// ends, feeding the results to the breakers like live traffic: a probe of
// an open breaker whose interval has passed is its half-open trial, so a
// recovered deployment rejoins without risking a client request; a
// deployment whose trial is taken or whose breaker is still open is
// skipped. Each probe may take up to interval. Probes do not count
// towards quota or latency averages. The goroutines end when ctx does.
func (r *Router) StartProbes(ctx context.Context, interval time.Duration, probe ProbeFunc) {
	if interval <= 0 || probe == nil {
		return
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.probeAll(ctx, interval, probe)
			}
		}
	}()
}

func (r *Router) probeAll(ctx context.Context, timeout time.Duration, probe ProbeFunc) {
	var wg sync.WaitGroup
	for _, d := range r.deps {
		trial, ok := d.st.brk.acquire(r.clock.Now().UnixNano())
		if !ok {
			continue
		}
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			err := probe(pctx, d)
			now := r.clock.Now().UnixNano()
			switch {
			case err == nil:
				d.st.brk.success(now, trial)
			case ctx.Err() != nil:
				d.st.brk.release(trial)
			default:
				d.noteError(now, err)
				d.st.brk.failure(now, trial)
			}
		})
	}
	wg.Wait()
}
