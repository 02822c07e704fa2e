// Package ratelimit enforces requests-per-minute and tokens-per-minute
// limits per key and per team, in memory for one node or in Redis for
// several replicas, and reports them in OpenAI's x-ratelimit-* headers.
package ratelimit
