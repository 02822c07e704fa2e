package redisbatch_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/switchyard/switchyard/internal/redisbatch"
	"github.com/switchyard/switchyard/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pipelineCounter counts the pipelines and single commands a client sends
// that touch this test's keys (go-redis sends its own on each new
// connection).
type pipelineCounter struct {
	prefix                            string
	pipelines, pipelinedCmds, singles atomic.Int64
}

func (c *pipelineCounter) ours(cmd redis.Cmder) bool {
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && strings.HasPrefix(s, c.prefix) {
			return true
		}
	}
	return false
}

func (c *pipelineCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if c.ours(cmd) {
			c.singles.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (c *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && c.ours(cmds[0]) {
			c.pipelines.Add(1)
			c.pipelinedCmds.Add(int64(len(cmds)))
		}
		return next(ctx, cmds)
	}
}

// setup returns a test Redis client whose traffic is counted, with a
// Batcher installed after the counter: the counter sees what actually
// leaves, not what callers issue.
func setup(t *testing.T, o redisbatch.Options) (*redis.Client, string, *pipelineCounter, *redisbatch.Batcher) {
	t.Helper()
	rdb, prefix := testenv.Redis(t)
	b := redisbatch.New(rdb, o)
	counter := &pipelineCounter{prefix: prefix}
	rdb.AddHook(counter)
	t.Cleanup(b.Close)
	return rdb, prefix, counter, b
}

func TestDeferredCommandsShareAPipeline(t *testing.T) {
	// A window far longer than it takes to start 20 goroutines, so that
	// they all land in one window even on a loaded machine.
	rdb, prefix, counter, _ := setup(t, redisbatch.Options{Window: time.Second})
	ctx := redisbatch.Deferred(context.Background())
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- rdb.IncrBy(ctx, prefix+"sum", int64(i+1)).Err()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := rdb.Get(context.Background(), prefix+"sum").Val(); got != "210" {
		t.Errorf("sum = %s; want 210 (1+...+20)", got)
	}
	if p, c := counter.pipelines.Load(), counter.pipelinedCmds.Load(); p != 1 || c != n {
		t.Errorf("%d commands went in %d pipelines; want %d in 1", c, p, n)
	}
}

func TestOtherCommandsGoStraightThrough(t *testing.T) {
	rdb, prefix, counter, _ := setup(t, redisbatch.Options{Window: time.Hour})
	// With an hour-long window, a command that went through the Batcher
	// would not return within the test's lifetime.
	if err := rdb.Set(context.Background(), prefix+"k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if counter.pipelines.Load() != 0 || counter.singles.Load() != 1 {
		t.Errorf("pipelines %d, single commands %d; want 0 and 1", counter.pipelines.Load(), counter.singles.Load())
	}
}

// TestScriptsAndErrorsPerCommand: a script whose SHA Redis does not know
// yet falls back to EVAL through the Batcher, and one command's error
// stays its own while its pipeline neighbours succeed.
func TestScriptsAndErrorsPerCommand(t *testing.T) {
	rdb, prefix, _, _ := setup(t, redisbatch.Options{Window: 100 * time.Millisecond})
	ctx := redisbatch.Deferred(context.Background())
	if err := rdb.HSet(context.Background(), prefix+"hash", "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	// A script body unique to this run, so Redis cannot know its SHA.
	script := redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1]) -- ` + prefix)
	var wg sync.WaitGroup
	var scriptVal int64
	var scriptErr, wrongTypeErr, okErr error
	wg.Go(func() { scriptVal, scriptErr = script.Run(ctx, rdb, []string{prefix + "counter"}, 7).Int64() })
	wg.Go(func() { wrongTypeErr = rdb.Incr(ctx, prefix+"hash").Err() })
	wg.Go(func() { okErr = rdb.Incr(ctx, prefix+"other").Err() })
	wg.Wait()
	if scriptErr != nil || scriptVal != 7 {
		t.Errorf("script = %d, %v; want 7", scriptVal, scriptErr)
	}
	if wrongTypeErr == nil || !strings.Contains(wrongTypeErr.Error(), "WRONGTYPE") {
		t.Errorf("INCR on a hash: %v; want its own WRONGTYPE error", wrongTypeErr)
	}
	if okErr != nil {
		t.Errorf("a neighbour of the failed command failed too: %v", okErr)
	}
}

// TestUnreachableRedis: deferred commands to a server that is not there
// fail with the transport's error, and do not hang.
func TestUnreachableRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer rdb.Close()
	b := redisbatch.New(rdb, redisbatch.Options{Window: time.Millisecond, Timeout: 2 * time.Second})
	defer b.Close()
	err = rdb.Incr(redisbatch.Deferred(context.Background()), "k").Err()
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("err = %v; want the dial error", err)
	}
}

// TestAfterClose: Close sends what is waiting in the window, and deferred
// commands issued afterwards still run, one by one.
func TestAfterClose(t *testing.T) {
	// An hour-long window: the queued command returns only if Close sends it.
	rdb, prefix, counter, b := setup(t, redisbatch.Options{Window: time.Hour})
	ctx := redisbatch.Deferred(context.Background())
	queued := make(chan error, 1)
	go func() { queued <- rdb.Incr(ctx, prefix+"n").Err() }()
	time.Sleep(500 * time.Millisecond) // let it reach the window
	b.Close()
	if err := <-queued; err != nil {
		t.Fatalf("queued command: %v", err)
	}
	if counter.pipelines.Load() != 1 {
		t.Errorf("%d pipelines; the queued command should have gone in the one Close sent", counter.pipelines.Load())
	}
	if err := rdb.Incr(ctx, prefix+"n").Err(); err != nil {
		t.Fatalf("after Close: %v", err)
	}
	if got := rdb.Get(context.Background(), prefix+"n").Val(); got != "2" {
		t.Errorf("n = %s; want 2", got)
	}
}
