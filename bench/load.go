package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// result is one request's timing, measured from when it was scheduled to
// be sent (not when it was sent), so that a stalled target cannot hide its
// queueing delay: the load is open-loop and free of coordinated omission.
type result struct {
	ttfb, total time.Duration
	err         error
}

// target is one endpoint under test.
type target struct {
	name    string
	url     string
	headers map[string]string
}

// run sends rate requests per second to t for d, each on schedule whether
// or not earlier ones have finished, and returns every result.
func run(ctx context.Context, client *http.Client, t target, body []byte, stream bool, rate int, d time.Duration) []result {
	n := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	results := make([]result, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		scheduled := start.Add(time.Duration(i) * interval)
		if wait := time.Until(scheduled); wait > 0 {
			time.Sleep(wait)
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(i int, scheduled time.Time) {
			defer wg.Done()
			results[i] = once(ctx, client, t, body, stream, scheduled)
		}(i, scheduled)
	}
	wg.Wait()
	return results
}

func once(ctx context.Context, client *http.Client, t target, body []byte, stream bool, scheduled time.Time) result {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return result{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range t.headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return result{err: fmt.Errorf("status %d: %s", resp.StatusCode, b)}
	}
	var ttfb time.Duration
	if stream {
		br := bufio.NewReader(resp.Body)
		first := true
		sawDone := false
		for {
			line, err := br.ReadString('\n')
			if first && len(line) > 0 {
				ttfb, first = time.Since(scheduled), false
			}
			if strings.HasPrefix(line, "data: [DONE]") {
				sawDone = true
			}
			if err != nil {
				if err != io.EOF {
					return result{err: err}
				}
				break
			}
		}
		if !sawDone {
			return result{err: fmt.Errorf("stream ended without [DONE]")}
		}
	} else {
		ttfb = time.Since(scheduled)
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return result{err: err}
		}
	}
	return result{ttfb: ttfb, total: time.Since(scheduled)}
}

// summary is the percentiles of one run.
type summary struct {
	n, errors         int
	firstErr          error
	p50, p99, p999    time.Duration
	tp50, tp99, tp999 time.Duration // time to first byte
}

func summarise(rs []result) summary {
	var s summary
	var totals, ttfbs []time.Duration
	for _, r := range rs {
		if r.err != nil {
			s.errors++
			if s.firstErr == nil {
				s.firstErr = r.err
			}
			continue
		}
		totals = append(totals, r.total)
		ttfbs = append(ttfbs, r.ttfb)
	}
	s.n = len(rs)
	s.p50, s.p99, s.p999 = pct(totals, 0.50), pct(totals, 0.99), pct(totals, 0.999)
	s.tp50, s.tp99, s.tp999 = pct(ttfbs, 0.50), pct(ttfbs, 0.99), pct(ttfbs, 0.999)
	return s
}

func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(q*float64(len(ds)-1) + 0.5)
	return ds[i]
}
