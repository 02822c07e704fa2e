package govern

import (
	"context"
	"sync"

	"github.com/switchyard/switchyard/internal/redisbatch"
)

// settler runs what a call writes to shared counters after it ended (the
// budget settlement, the rate-limit token correction). With Redis those
// are network round trips, and they hold nobody up: the answer has gone
// to the client, so they run in the background, their commands marked for
// the Redis client's batcher, which sends many calls' settlements in one
// pipeline; Flush and Close wait for them. In memory they are map updates
// and run inline, so a caller's next request always sees them.
type settler struct {
	async bool
	wg    sync.WaitGroup
}

// run calls f, in the background when the settler is asynchronous, with
// ctx marked so that its Redis commands may be batched. A nil settler runs
// f inline.
func (s *settler) run(ctx context.Context, f func(ctx context.Context)) {
	if s == nil || !s.async {
		f(ctx)
		return
	}
	s.wg.Go(func() { f(redisbatch.Deferred(ctx)) })
}

// wait returns once every background f has returned.
func (s *settler) wait() {
	if s != nil {
		s.wg.Wait()
	}
}
