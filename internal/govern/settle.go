package govern

import "sync"

// settler runs what a call writes to shared counters after it ended (the
// budget settlement, the rate-limit token correction). With Redis those
// are network round trips, and they hold nobody up: the answer has gone
// to the client, so they run in the background, and Flush and Close wait
// for them. In memory they are map updates and run inline, so a caller's
// next request always sees them.
type settler struct {
	async bool
	wg    sync.WaitGroup
}

// run calls f, in the background when the settler is asynchronous. A nil
// settler runs f inline.
func (s *settler) run(f func()) {
	if s == nil || !s.async {
		f()
		return
	}
	s.wg.Go(f)
}

// wait returns once every background f has returned.
func (s *settler) wait() {
	if s != nil {
		s.wg.Wait()
	}
}
