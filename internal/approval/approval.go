// Package approval holds tool calls (or whole requests) that a policy
// says need a person's approval: it records them in the store, notifies
// approvers, waits for the decision and binds that decision to the exact
// call it was asked for.
//
// Binding: an approval carries a Digest (SHA-256 over the tool name and
// its canonical JSON arguments) and the policy version it was raised
// under. A decision releases only a call with that digest under that
// policy version, before the approval expires; anything else is a new
// call and needs a new approval.
//
// Replicas: a waiter listens on an in-process channel (decisions made
// through this replica wake it at once) and polls the store, so a
// decision made through another replica releases it too.
package approval

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchyard/switchyard/internal/store"
)

// Options configure a Service.
type Options struct {
	// Store persists approvals; required.
	Store store.ApprovalStore
	// Notifier tells approvers about new approvals; or nil.
	Notifier Notifier
	// Timeout is how long an approval stays open. Default 5m.
	Timeout time.Duration
	// PollInterval is how often a waiter re-reads the store. Default 1s.
	PollInterval time.Duration
	// PolicyVersion returns the policy version in force; Decide refuses
	// approvals raised under another. Nil skips the check.
	PolicyVersion func() string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger is for notification failures; nil discards.
	Logger *slog.Logger
}

// Service raises, waits for and decides approvals. It implements the
// admin API's ApprovalDecider. Safe for concurrent use.
type Service struct {
	opts Options

	mu      sync.Mutex
	waiters map[string][]chan struct{}
	wg      sync.WaitGroup // notifications in flight
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: opts, waiters: map[string][]chan struct{}{}}
}

// SetPolicyVersion sets Options.PolicyVersion; call it before the
// service is used.
func (s *Service) SetPolicyVersion(f func() string) { s.opts.PolicyVersion = f }

// Close waits for notifications in flight.
func (s *Service) Close() error {
	s.wg.Wait()
	return nil
}

// Request is a call to hold.
type Request struct {
	KeyID, TeamID string
	// Tool names the held tool call(s); "" for a whole request.
	Tool string
	// Arguments are the call's arguments after DLP masking, for display.
	Arguments string
	// Digest binds the approval to the exact call (see Digest).
	Digest string
	// PolicyVersion is the version of the rules that asked for approval.
	PolicyVersion string
	// Reason is the rule's message.
	Reason string
	// Payload is what is released on approval (the held answer), so that
	// a restarted gateway can still release it.
	Payload json.RawMessage
}

// Create records a pending approval and notifies approvers in the
// background.
func (s *Service) Create(ctx context.Context, r Request) (store.Approval, error) {
	now := s.opts.Now()
	a, err := s.opts.Store.CreateApproval(ctx, store.Approval{
		Status: store.ApprovalPending, KeyID: r.KeyID, TeamID: r.TeamID, Tool: r.Tool,
		ArgumentsRedacted: r.Arguments, Digest: r.Digest, PolicyVersion: r.PolicyVersion, Reason: r.Reason,
		CreatedAt: now, ExpiresAt: now.Add(s.opts.Timeout), Payload: r.Payload,
	})
	if err != nil {
		return a, fmt.Errorf("approval: recording the held call: %w", err)
	}
	if n := s.opts.Notifier; n != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			n.Notify(context.WithoutCancel(ctx), a)
		}()
	}
	return a, nil
}

// Get returns the approval with id.
func (s *Service) Get(ctx context.Context, id string) (store.Approval, error) {
	return s.opts.Store.Approval(ctx, id)
}

// List returns the approvals f selects, newest first.
func (s *Service) List(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	return s.opts.Store.ListApprovals(ctx, f)
}

// Wait blocks until approval id is decided or expires, or ctx ends, and
// returns its final state (status expired when it timed out).
func (s *Service) Wait(ctx context.Context, id string) (store.Approval, error) {
	ch := make(chan struct{})
	s.mu.Lock()
	s.waiters[id] = append(s.waiters[id], ch)
	s.mu.Unlock()
	defer s.forget(id, ch)

	a, err := s.opts.Store.Approval(ctx, id)
	if err != nil {
		return a, err
	}
	deadline := time.NewTimer(max(a.ExpiresAt.Sub(s.opts.Now()), 0))
	defer deadline.Stop()
	poll := time.NewTicker(s.opts.PollInterval)
	defer poll.Stop()
	for a.Status == store.ApprovalPending {
		select {
		case <-ctx.Done():
			return a, ctx.Err()
		case <-ch:
		case <-poll.C:
		case <-deadline.C:
			if _, err := s.opts.Store.ExpireApprovals(ctx, a.ExpiresAt); err != nil {
				return a, err
			}
		}
		if a, err = s.opts.Store.Approval(ctx, id); err != nil {
			return a, err
		}
	}
	return a, nil
}

func (s *Service) forget(id string, ch chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.waiters[id]
	for i, c := range l {
		if c == ch {
			l = append(l[:i], l[i+1:]...)
			break
		}
	}
	if len(l) == 0 {
		delete(s.waiters, id)
	} else {
		s.waiters[id] = l
	}
}

// ErrStale is wrapped (with store.ErrConflict) when the policy changed
// since the approval was raised: the call must be asked for again.
var ErrStale = errors.New("approval: the policy changed since this approval was requested")

// Decide approves or denies approval id. Repeating a decision returns the
// approval unchanged; a contrary decision, an expired approval, or one
// raised under another policy version is store.ErrConflict; an unknown
// id is store.ErrNotFound. Who may decide is the admin API's business.
func (s *Service) Decide(ctx context.Context, id string, approve bool, by, comment string) (store.Approval, error) {
	a, err := s.opts.Store.Approval(ctx, id)
	if err != nil {
		return a, err
	}
	if a.Status == store.ApprovalPending && s.opts.PolicyVersion != nil && a.PolicyVersion != s.opts.PolicyVersion() {
		return a, fmt.Errorf("approval %s: %w; the client must send the call again: %w", id, ErrStale, store.ErrConflict)
	}
	status := store.ApprovalDenied
	if approve {
		status = store.ApprovalApproved
	}
	a, err = s.opts.Store.DecideApproval(ctx, id, store.Decision{Status: status, By: by, Comment: comment, At: s.opts.Now()})
	if err != nil {
		return a, err
	}
	s.mu.Lock()
	for _, ch := range s.waiters[id] {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	delete(s.waiters, id)
	s.mu.Unlock()
	return a, nil
}

// ExpireOverdue marks pending approvals past their deadline as expired;
// the gateway calls it at start, since nobody waits on them any more.
func (s *Service) ExpireOverdue(ctx context.Context) (int64, error) {
	return s.opts.Store.ExpireApprovals(ctx, s.opts.Now())
}

// Binding errors, returned by Check.
var (
	ErrOtherCall = errors.New("the approval was given for a different call (other tool or arguments); this call needs its own approval")
	ErrExpired   = errors.New("the approval has expired; send the call again to ask anew")
)

// Check reports whether a releases the call with digest under policy
// version at now: nil when it does; ErrOtherCall, ErrStale or ErrExpired
// when the decision cannot apply. It does not look at the status.
func Check(a store.Approval, digest, version string, now time.Time) error {
	switch {
	case a.Digest != digest:
		return ErrOtherCall
	case a.PolicyVersion != version:
		return ErrStale
	case a.Status == store.ApprovalPending && !now.Before(a.ExpiresAt), a.Status == store.ApprovalExpired:
		return ErrExpired
	}
	return nil
}

// Call is one tool call for Digest.
type Call struct {
	Name      string
	Arguments string // JSON object text; "" is {}
}

// Digest returns "sha256:<hex>" over each call's name and canonical
// arguments (keys sorted, no insignificant space), in order. Arguments
// that are not JSON are hashed as they are.
func Digest(calls ...Call) string {
	h := sha256.New()
	for _, c := range calls {
		h.Write([]byte(c.Name))
		h.Write([]byte{0})
		h.Write(Canonical(c.Arguments))
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Canonical returns JSON text with object keys sorted and no
// insignificant space (encoding/json sorts map keys); "" becomes {}.
func Canonical(args string) []byte {
	if args == "" {
		return []byte("{}")
	}
	d := json.NewDecoder(bytes.NewReader([]byte(args)))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return []byte(args)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(args)
	}
	return b
}
