package govern

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"
	"strings"
	"time"

	json "github.com/segmentio/encoding/json"

	"github.com/switchyard/switchyard/internal/audit"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/store"
)

// Audit actions of model calls.
const (
	ActionChat       = "chat.completion"
	ActionEmbeddings = "embeddings"
)

// maxAuditContent bounds the completion text an audit record keeps when
// content is included; longer answers are cut and marked truncated.
const maxAuditContent = 1 << 20

// AuditAppender takes audit records off the request path, e.g. an
// *audit.Chain.
type AuditAppender interface {
	Append(rec store.AuditRecord) error
}

// AuditRecorder is the accounting stage that appends one record per model
// call to the audit chain: who (key, team, org), what (action, alias),
// where it went, how it ended, what it used and cost, the policy
// decisions, and a SHA-256 digest of the request. Prompts and completions
// are kept only for the organisations that opted in.
type AuditRecorder struct {
	chain          AuditAppender
	prices         *Prices
	tok            *Tokenizer
	includeContent bool
	contentOrgs    map[string]bool
	log            *slog.Logger
}

// AuditRecorderOptions configures NewAuditRecorder.
type AuditRecorderOptions struct {
	// IncludeContent stores prompts and completions in every record.
	IncludeContent bool
	// ContentOrgs stores them only in the records of these organisations'
	// calls (their ids), when IncludeContent is off.
	ContentOrgs []string
	// Logger receives lost-record errors; or nil.
	Logger *slog.Logger
}

// NewAuditRecorder returns the stage.
func NewAuditRecorder(chain AuditAppender, p *Prices, tok *Tokenizer, o AuditRecorderOptions) *AuditRecorder {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	orgs := make(map[string]bool, len(o.ContentOrgs))
	for _, id := range o.ContentOrgs {
		orgs[id] = true
	}
	return &AuditRecorder{chain: chain, prices: p, tok: tok, includeContent: o.IncludeContent, contentOrgs: orgs, log: o.Logger}
}

// keepsContent reports whether c's record carries its prompt and
// completion: the caller's organisation opted in, or every one did.
func (s *AuditRecorder) keepsContent(c *gateway.Call) bool {
	if s.includeContent {
		return true
	}
	caller := c.Info.Caller
	return caller != nil && caller.OrgID != "" && s.contentOrgs[caller.OrgID]
}

// Name implements gateway.Stage.
func (*AuditRecorder) Name() string { return "audit" }

const keyAuditContent = "govern.audit.content"

// Answer keeps the completion for the record when content is included.
func (s *AuditRecorder) Answer(_ context.Context, c *gateway.Call, resp *llm.ChatResponse) error {
	if s.keepsContent(c) && len(resp.Choices) > 0 {
		b := &contentBuf{}
		b.add(resp.Choices[0].Message.Content.Text)
		for _, p := range resp.Choices[0].Message.Content.Parts {
			b.add(p.Text)
		}
		c.Set(keyAuditContent, b)
	}
	return nil
}

// Stream collects the completion for the record when content is included.
func (s *AuditRecorder) Stream(_ context.Context, c *gateway.Call, st llm.ChatStream) llm.ChatStream {
	if !s.keepsContent(c) {
		return st
	}
	b := &contentBuf{}
	c.Set(keyAuditContent, b)
	return &contentStream{ChatStream: st, b: b}
}

type contentBuf struct {
	sb        strings.Builder
	truncated bool
}

func (b *contentBuf) add(s string) {
	if room := maxAuditContent - b.sb.Len(); len(s) > room {
		s, b.truncated = s[:max(room, 0)], true
	}
	b.sb.WriteString(s)
}

type contentStream struct {
	llm.ChatStream
	b *contentBuf
}

// Ready implements llm.ReadyStream, so that keeping content does not cost
// the front door its write coalescing.
func (s *contentStream) Ready() bool { return llm.Ready(s.ChatStream) }

func (s *contentStream) Next() (*llm.ChatChunk, error) {
	c, err := s.ChatStream.Next()
	if err == nil {
		for _, ch := range c.Choices {
			if ch.Index == 0 && ch.Delta.Content != nil {
				s.b.add(*ch.Delta.Content)
			}
		}
	}
	return c, err
}

// callDetails is the Details of a model call's audit record.
type callDetails struct {
	FrontDoor        string          `json:"front_door,omitempty"`
	Deployment       string          `json:"deployment,omitempty"`
	Provider         string          `json:"provider,omitempty"`
	Region           string          `json:"region,omitempty"`
	ModelVersion     string          `json:"model_version,omitempty"`
	Status           int             `json:"status"`
	FinishReason     string          `json:"finish_reason,omitempty"`
	Error            string          `json:"error,omitempty"`
	ErrorCode        string          `json:"error_code,omitempty"`
	PromptTokens     int             `json:"prompt_tokens"`
	CompletionTokens int             `json:"completion_tokens"`
	CachedTokens     int             `json:"cached_tokens,omitempty"`
	Estimated        bool            `json:"estimated,omitempty"`
	CostMicroUSD     int64           `json:"cost_micro_usd"`
	LatencyMS        int64           `json:"latency_ms"`
	Attempts         int             `json:"attempts"`
	Hedged           bool            `json:"hedged,omitempty"`
	PolicyDecisions  json.RawMessage `json:"policy_decisions,omitempty"`
	Prompt           []llm.Message   `json:"prompt,omitempty"`
	Completion       *string         `json:"completion,omitempty"`
	Truncated        bool            `json:"completion_truncated,omitempty"`
}

// After appends the call's audit record.
func (s *AuditRecorder) After(_ context.Context, c *gateway.Call) {
	rec := s.record(c)
	if err := s.chain.Append(rec); err != nil {
		s.log.Error("govern: audit record lost", "request", c.Info.ID, "err", err)
	}
}

func (s *AuditRecorder) record(c *gateway.Call) store.AuditRecord {
	u := UsageOf(c, s.tok)
	status := c.Status()
	d := callDetails{
		Status: status, FinishReason: c.FinishReason, FrontDoor: c.Info.FrontDoor,
		PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, CachedTokens: u.CachedTokens(),
		Estimated: u.Estimated, CostMicroUSD: s.prices.Cost(c, s.tok),
		LatencyMS: time.Since(c.Start).Milliseconds(), Attempts: c.Attempts, Hedged: c.Hedged,
	}
	if dep := c.Deployment; dep != nil {
		d.Deployment, d.Provider, d.Region, d.ModelVersion = dep.Name, dep.Provider, dep.Region, dep.ModelVersion
	}
	outcome := strconv.Itoa(status)
	if c.Err != nil {
		e := llm.AsError(c.Err)
		d.Error, d.ErrorCode = e.Message, e.Code
		if e.Code != "" {
			outcome += " " + e.Code
		}
	} else if c.FinishReason != "" {
		outcome += " " + c.FinishReason
	}
	if v := c.Get(KeyPolicyDecisions); v != nil {
		if b, err := json.Marshal(v); err == nil {
			d.PolicyDecisions = b
		} else {
			d.PolicyDecisions, _ = json.Marshal("unencodable policy decisions: " + err.Error())
		}
	}
	if s.keepsContent(c) && c.Chat != nil {
		d.Prompt = c.Chat.Messages
		if b, ok := c.Get(keyAuditContent).(*contentBuf); ok {
			text := b.sb.String()
			d.Completion, d.Truncated = &text, b.truncated
		}
	}
	details, err := json.Marshal(d)
	if err != nil { // a prompt that cannot be encoded; keep the rest
		d.Prompt = nil
		details, _ = json.Marshal(d)
	}
	rec := store.AuditRecord{
		// One id per request: a replayed append is dropped, not doubled.
		ID: "call_" + requestID(c), Time: c.Start, ActorKind: store.ActorKey,
		Action: ActionChat, Resource: c.Alias, Outcome: outcome, Details: details,
		RequestDigest: RequestDigest(c),
	}
	if c.Kind == "embeddings" {
		rec.Action = ActionEmbeddings
	}
	if caller := c.Info.Caller; caller != nil {
		rec.ActorID, rec.TeamID, rec.OrgID = caller.KeyID, caller.TeamID, caller.OrgID
	}
	return rec
}

// RequestDigest is the hex SHA-256 of the request body exactly as the
// client sent it (so whoever holds the body can check it against the
// record), or, for a request built in process, of its JSON encoding (the
// OpenAI wire form, fields in declaration order, unknown fields in key
// order); "" when the call carries no chat request.
func RequestDigest(c *gateway.Call) string {
	if c.Chat == nil {
		return ""
	}
	b := c.Chat.Body()
	if b == nil {
		var err error
		if b, err = json.Marshal(c.Chat); err != nil {
			return ""
		}
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// AuditLog is what the admin API needs of the audit chain: Append for one
// record per admin action (it satisfies admin.Auditor) and Verify for
// GET /admin/v1/audit/verify (admin.Options.AuditVerify).
type AuditLog struct {
	chain *audit.Chain
	st    store.AuditStore
	pub   ed25519.PublicKey
}

// Append queues an admin action's record; ID and Time are filled when
// empty, Seq and hashes when written.
func (a *AuditLog) Append(_ context.Context, rec store.AuditRecord) error {
	return a.chain.Append(rec)
}

// Verify checks the whole chain against the signing key's public half.
func (a *AuditLog) Verify(ctx context.Context) (any, error) {
	if err := a.chain.Flush(ctx); err != nil {
		return nil, err
	}
	return audit.Verify(ctx, a.st, a.pub)
}

// PublicKey is the checkpoints' verification key.
func (a *AuditLog) PublicKey() ed25519.PublicKey { return a.pub }
