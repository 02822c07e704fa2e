// Package testenv connects tests to the real servers the project's tests
// use — Redis here; PostgreSQL in store/storetest — and follows the rule
// every such test shares: without the server's URL the test is skipped,
// except in CI (CI=true), where a missing or unreachable server fails it.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// RedisEnv names the variable holding the test Redis URL.
const RedisEnv = "SWITCHYARD_TEST_REDIS_URL"

// RedisURL returns the test Redis URL and a key prefix unique to this
// test, skipping (or, in CI, failing) when none is configured.
func RedisURL(t testing.TB) (url, prefix string) {
	t.Helper()
	url = os.Getenv(RedisEnv)
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s must be set in CI (e.g. redis://127.0.0.1:6379/0)", RedisEnv)
		}
		t.Skipf("set %s (e.g. redis://127.0.0.1:6379/0) to run Redis tests", RedisEnv)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return url, "sytest:" + hex.EncodeToString(b[:]) + ":"
}

// Redis connects to the test Redis and returns a client and a key prefix
// unique to this test; the prefix's keys are deleted and the client
// closed at cleanup. An unreachable server fails the test.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url, prefix := RedisURL(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s: %v", RedisEnv, err)
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		rdb.Close()
		t.Fatalf("Redis at %s (%s) unreachable: %v", url, RedisEnv, err)
	}
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
