package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const redisEnv = "SWITCHYARD_TEST_REDIS_URL"

// testRedis connects to the test Redis named by SWITCHYARD_TEST_REDIS_URL
// and returns a client plus a key prefix unique to this test, whose keys
// are deleted at cleanup. Without the variable the test is skipped,
// except in CI where it fails.
func testRedis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url := os.Getenv(redisEnv)
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s must be set in CI (e.g. redis://127.0.0.1:6379/0)", redisEnv)
		}
		t.Skipf("set %s (e.g. redis://127.0.0.1:6379/0) to run Redis tests", redisEnv)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s: %v", redisEnv, err)
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		rdb.Close()
		t.Fatalf("Redis at %s (%s) unreachable: %v", url, redisEnv, err)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "sytest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, prefix
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
