// Package dlp finds sensitive data (contact details, payment and bank
// numbers, national ids, addresses, credentials) in prompts and answers and
// applies a per-detector action: allow, alert, mask, block, or
// redact-and-restore.
//
// The package is a pure library on the gateway's hot path. The built-in
// detectors share a single pass over the text: a byte-class table lets the
// scanner skip ordinary prose, and each detector runs only at its trigger
// (an '@' for e-mail, the start of a digit run for numbers, a ':' for IPv6,
// a fixed prefix at a word start for tokens). Scanning text with no
// findings allocates nothing.
//
// Request side: Scanner.Apply rewrites a prompt; redacted values are
// recorded in a Session so Session.Restore (or a StreamRestorer, for
// streamed answers) can put the originals back in the answer.
//
// Response side: a StreamScanner masks or blocks values in a streamed
// answer while holding back only a bounded tail (see StreamScanner).
package dlp
