package llm

// ChatStream yields the chunks of one streamed chat completion, already
// translated to the canonical (OpenAI) shape.
//
// Next returns io.EOF after the last chunk of a complete answer. Any other
// error means the answer was cut short and must reach the client as an
// error, never as a normal end. Close releases the upstream connection; it
// may be called at any time, more than once, and from another goroutine
// than Next. Implementations must honour the context they were opened with.
// Whoever opens a stream must Close it, also after Next returned io.EOF:
// the gateway reports a stream's outcome (usage, audit) on Close.
type ChatStream interface {
	Next() (*ChatChunk, error)
	Close() error
	// Upstream describes the provider's answer; it is complete once the
	// response headers arrived (before the first Next).
	Upstream() Upstream
}

// A ReadyStream can tell whether its next chunk has already arrived.
// Streams that wrap another implement it by asking the one they wrap, and
// only when their own Next never waits on anything else.
type ReadyStream interface {
	ChatStream
	// Ready reports whether the next call to Next returns without waiting
	// on the network. Ready itself never waits.
	Ready() bool
}

// Ready reports whether s's next chunk has already arrived; false when s
// cannot tell. A front door writes chunks that arrived together with one
// flush, and flushes before any Next that may wait, so no chunk is ever
// held back from the client.
func Ready(s ChatStream) bool {
	r, ok := s.(ReadyStream)
	return ok && r.Ready()
}
