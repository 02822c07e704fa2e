package route

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestBreaker(cfg BreakerConfig) *breaker {
	b := &breaker{name: "d"}
	cfg = cfg.withDefaults()
	b.cfg.Store(&cfg)
	return b
}

func TestBreakerHalfOpenAdmitsExactlyOne(t *testing.T) {
	b := newTestBreaker(BreakerConfig{FailureThreshold: 1, OpenFor: time.Second})
	b.failure(0, false)
	if b.State() != BreakerOpen {
		t.Fatalf("state %v after threshold failures", b.State())
	}
	if _, ok := b.acquire(int64(time.Second) - 1); ok {
		t.Fatal("admitted a request before the open interval passed")
	}
	var trials, admitted atomic.Int32
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			if trial, ok := b.acquire(int64(time.Second)); ok {
				admitted.Add(1)
				if trial {
					trials.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if trials.Load() != 1 || admitted.Load() != 1 {
		t.Fatalf("%d admitted, %d trials; want exactly one trial", admitted.Load(), trials.Load())
	}
}

func TestBreakerTransitions(t *testing.T) {
	sec := int64(time.Second)
	tests := []struct {
		desc string
		run  func(b *breaker)
		want BreakerState
	}{
		{desc: "below threshold stays closed", want: BreakerClosed, run: func(b *breaker) {
			b.failure(0, false)
			b.failure(1, false)
			b.success(2, false)
			b.failure(3, false)
			b.failure(4, false)
		}},
		{desc: "threshold consecutive failures open", want: BreakerOpen, run: func(b *breaker) {
			for i := range 3 {
				b.failure(int64(i), false)
			}
		}},
		{desc: "failure ratio opens", want: BreakerOpen, run: func(b *breaker) {
			for i := range 10 {
				b.success(int64(i), false)
				b.failure(int64(i), false)
			}
		}},
		{desc: "trial success closes", want: BreakerClosed, run: func(b *breaker) {
			for i := range 3 {
				b.failure(int64(i), false)
			}
			trial, _ := b.acquire(2 * sec)
			b.success(2*sec, trial)
		}},
		{desc: "trial failure reopens", want: BreakerOpen, run: func(b *breaker) {
			for i := range 3 {
				b.failure(int64(i), false)
			}
			trial, _ := b.acquire(2 * sec)
			b.failure(2*sec, trial)
		}},
		{desc: "late answers do not move an open breaker", want: BreakerOpen, run: func(b *breaker) {
			for i := range 3 {
				b.failure(int64(i), false)
			}
			b.success(10, false)
		}},
		{desc: "released trial lets another try", want: BreakerHalfOpen, run: func(b *breaker) {
			for i := range 3 {
				b.failure(int64(i), false)
			}
			trial, _ := b.acquire(2 * sec)
			b.release(trial)
			if t2, ok := b.acquire(2 * sec); !ok || !t2 {
				panic("second trial refused after release")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			b := newTestBreaker(BreakerConfig{FailureThreshold: 3, FailureRatio: 0.5, MinRequests: 10, OpenFor: time.Second})
			tc.run(b)
			if b.State() != tc.want {
				t.Errorf("state %v, want %v", b.State(), tc.want)
			}
		})
	}
}

func TestBreakerBacksOffWhileFlapping(t *testing.T) {
	b := newTestBreaker(BreakerConfig{FailureThreshold: 1, OpenFor: time.Second, MaxOpenFor: 4 * time.Second})
	now := int64(0)
	var got []time.Duration
	for range 4 {
		b.failure(now, false)
		got = append(got, time.Duration(b.openFor.Load()))
		now += b.openFor.Load()
		trial, _ := b.acquire(now)
		b.failure(now, trial)
		got = append(got, time.Duration(b.openFor.Load()))
		now += b.openFor.Load()
		trial, _ = b.acquire(now)
		b.success(now, trial)
	}
	want := []time.Duration{1, 2, 4, 4, 4, 4, 4, 4}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("open intervals %v, want %v seconds", got, want)
		}
	}
	// A healthy spell of one base interval forgives the past.
	now += int64(time.Second)
	b.success(now, false)
	b.failure(now, false)
	if d := time.Duration(b.openFor.Load()); d != time.Second {
		t.Errorf("after a healthy spell the breaker opened for %v, want 1s", d)
	}
}
