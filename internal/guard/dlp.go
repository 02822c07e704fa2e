package guard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/switchyard/switchyard/internal/dlp"
	"github.com/switchyard/switchyard/internal/gateway"
	"github.com/switchyard/switchyard/internal/llm"
)

// stateSession keeps the request's redaction session for the answer.
const stateSession = "dlp.session"

// dlpStage scans requests and answers. Scanners per team and key are
// built once, at construction.
type dlpStage struct {
	base      *dlp.Scanner // nil when DLP is off
	byTeam    map[string]*dlp.Scanner
	byKey     map[string]*dlp.Scanner
	redactAll *dlp.Scanner // every detector redacts: the policy redact effect
	maskAll   *dlp.Scanner // every detector masks: arguments shown to approvers
	hook      *dlp.Hook
	log       *slog.Logger
}

func newDLPStage(opts Options) (*dlpStage, error) {
	d := &dlpStage{byTeam: map[string]*dlp.Scanner{}, byKey: map[string]*dlp.Scanner{}, log: opts.Logger}
	cfg := dlp.Config{DefaultAction: dlp.ActionAllow}
	if opts.DLP != nil {
		cfg = opts.DLP.Config
	}
	sc, err := dlp.New(cfg)
	if err != nil {
		return nil, err
	}
	names := dlp.BuiltinDetectors()
	for _, c := range cfg.Custom {
		names = append(names, c.Name)
	}
	all := func(a dlp.Action) map[string]dlp.Action {
		m := make(map[string]dlp.Action, len(names))
		for _, n := range names {
			m[n] = a
		}
		return m
	}
	if d.redactAll, err = sc.WithActions(all(dlp.ActionRedact)); err != nil {
		return nil, err
	}
	if d.maskAll, err = sc.WithActions(all(dlp.ActionMask)); err != nil {
		return nil, err
	}
	if opts.DLP == nil {
		return d, nil
	}
	d.base = sc
	for who, actions := range opts.DLP.Overrides {
		kind, id, _ := strings.Cut(who, ":")
		o, err := sc.WithActions(actions)
		if err != nil {
			return nil, fmt.Errorf("dlp override %s: %w", who, err)
		}
		switch kind {
		case "team":
			d.byTeam[id] = o
		case "key":
			d.byKey[id] = o
		default:
			return nil, fmt.Errorf("dlp override %q: name a team or key as \"team:<id>\" or \"key:<id>\"", who)
		}
	}
	if h := opts.DLP.Hook; h != nil {
		if d.hook, err = dlp.NewHook(*h, opts.HTTPClient); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *dlpStage) Name() string { return "dlp" }

// scanner returns the scanner for the caller, or nil when DLP is off.
func (d *dlpStage) scanner(c *gateway.Call) *dlp.Scanner {
	if d.base == nil {
		return nil
	}
	if caller := c.Info.Caller; caller != nil {
		if s := d.byKey[caller.KeyID]; s != nil {
			return s
		}
		if s := d.byTeam[caller.TeamID]; s != nil {
			return s
		}
	}
	return d.base
}

// Before scans the prompt, tool-call arguments and tool results, blocks,
// masks or redacts, and asks the hook.
func (d *dlpStage) Before(ctx context.Context, c *gateway.Call) error {
	sc := d.scanner(c)
	if sc == nil || c.Chat == nil {
		return nil
	}
	sess := dlp.NewSession()
	var found []dlp.Finding
	req, err := rewriteRequest(c.Chat, func(text string) (string, error) {
		out, fs, err := sc.Apply(text, sess)
		found = append(found, fs...)
		return out, err
	})
	addFindings(c, "request", found)
	if err != nil {
		return blockedError(err, "messages")
	}
	d.alert(ctx, c, "request", found)
	if d.hook != nil {
		if err := d.askHook(ctx, c); err != nil {
			return err
		}
	}
	c.Chat = req
	if sess.Len() > 0 {
		c.Set(stateSession, sess)
	}
	return nil
}

// redact applies the policy redact effect: every finding left in the
// (already scanned) request is redacted too.
func (d *dlpStage) redact(c *gateway.Call) error {
	sess, _ := c.Get(stateSession).(*dlp.Session)
	if sess == nil {
		sess = dlp.NewSession()
	}
	req, err := rewriteRequest(c.Chat, func(text string) (string, error) {
		out, _, err := d.redactAll.Apply(text, sess)
		return out, err
	})
	if err != nil {
		return err
	}
	c.Chat = req
	if sess.Len() > 0 {
		c.Set(stateSession, sess)
	}
	return nil
}

// display masks every finding in text, for approvers and audit.
func (d *dlpStage) display(text string) string {
	out, _, err := d.maskAll.Apply(text, nil)
	if err != nil {
		return "[withheld]"
	}
	return out
}

func (d *dlpStage) askHook(ctx context.Context, c *gateway.Call) error {
	var texts []string
	rewriteRequest(c.Chat, func(t string) (string, error) { texts = append(texts, t); return t, nil })
	v, err := d.hook.Check(ctx, texts)
	for _, name := range v.Detectors {
		addFindings(c, "hook", []dlp.Finding{{Detector: name, Action: v.Action}})
	}
	if err != nil {
		d.log.WarnContext(ctx, "dlp service failed; refusing the request", "request_id", c.Info.ID, "error", err)
		return blockedError(err, "messages")
	}
	if v.FailedOpen {
		d.log.WarnContext(ctx, "dlp service failed; letting the request through (fail_open)", "request_id", c.Info.ID, "reason", v.Reason)
	}
	if v.Action == dlp.ActionBlock {
		what := "sensitive data"
		if len(v.Detectors) > 0 {
			what = "data detected as " + strings.Join(v.Detectors, ", ")
		}
		e := llm.BadRequest("messages", "blocked by data loss prevention: the external DLP service found %s, which this gateway does not allow to be sent; remove it and try again", what)
		e.Code = "dlp_blocked"
		return e
	}
	return nil
}

func (d *dlpStage) alert(ctx context.Context, c *gateway.Call, where string, fs []dlp.Finding) {
	for _, f := range fs {
		if f.Action == dlp.ActionAlert {
			d.log.WarnContext(ctx, "dlp alert", "request_id", c.Info.ID, "detector", f.Detector, "where", where)
		}
	}
}

// Answer masks or blocks findings in the answer, then restores the
// request's placeholders.
func (d *dlpStage) Answer(ctx context.Context, c *gateway.Call, resp *llm.ChatResponse) error {
	sc := d.scanner(c)
	sess, _ := c.Get(stateSession).(*dlp.Session)
	if sc == nil && sess == nil {
		return nil
	}
	resp.Edit() // the answer is encoded anew, changed or not
	var found []dlp.Finding
	scan := func(text string) (string, error) {
		if sc == nil {
			return text, nil
		}
		out, fs, err := sc.Apply(text, nil)
		found = append(found, fs...)
		return out, err
	}
	defer func() { addFindings(c, "response", found); d.alert(ctx, c, "response", found) }()
	for i := range resp.Choices {
		m := &resp.Choices[i].Message
		if !m.Content.IsNull() {
			text, err := scan(m.Content.String())
			if err != nil {
				return answerBlocked(err)
			}
			if text = sess.Restore(text); text != m.Content.String() {
				m.Content = llm.TextContent(text)
			}
		}
		for j := range m.ToolCalls {
			f := &m.ToolCalls[j].Function
			args, err := scan(f.Arguments)
			if err != nil {
				return answerBlocked(err)
			}
			f.Arguments = restoreJSON(sess, args)
		}
	}
	return nil
}

// answerBlocked is the error for an answer that carried blocked data.
func answerBlocked(err error) error {
	var be *dlp.BlockedError
	if !errors.As(err, &be) {
		return err
	}
	e := llm.Errorf(400, "blocked by data loss prevention: the model's answer contained data detected as %q, which this gateway does not allow to be returned, so the answer was withheld; rephrase the request so the answer does not need it", be.Detector)
	e.Code = "dlp_blocked"
	return e
}

// restoreJSON restores placeholders inside the JSON strings of tool-call
// arguments, escaping the originals; text that is not JSON is restored
// as it is.
func restoreJSON(sess *dlp.Session, args string) string {
	if sess == nil || !strings.Contains(args, "[") {
		return args
	}
	dec := json.NewDecoder(strings.NewReader(args))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return sess.Restore(args)
	}
	v = restoreValue(sess, v)
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return sess.Restore(args)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func restoreValue(sess *dlp.Session, v any) any {
	switch t := v.(type) {
	case string:
		return sess.Restore(t)
	case []any:
		for i := range t {
			t[i] = restoreValue(sess, t[i])
		}
	case map[string]any:
		for k, e := range t {
			t[k] = restoreValue(sess, e)
		}
	}
	return v
}

// rewriteRequest passes every text of req through f (message text and
// text parts, tool-call arguments, tool results) and returns req itself
// when nothing changed, else a copy: the client's request is not touched.
func rewriteRequest(req *llm.ChatRequest, f func(string) (string, error)) (*llm.ChatRequest, error) {
	out := req
	msgs := req.Messages
	copied := false
	own := func(i int) *llm.Message {
		if !copied {
			cp := *req
			cp.Messages = append([]llm.Message(nil), req.Messages...)
			out, msgs, copied = &cp, cp.Messages, true
		}
		return &msgs[i]
	}
	for i := range req.Messages {
		m := &req.Messages[i]
		if m.Content.Parts == nil {
			if m.Content.Text != "" {
				t, err := f(m.Content.Text)
				if err != nil {
					return nil, err
				}
				if t != m.Content.Text {
					own(i).Content = llm.TextContent(t)
				}
			}
		} else {
			var parts []llm.Part
			for j, p := range m.Content.Parts {
				if p.Type != llm.PartText || p.Text == "" {
					continue
				}
				t, err := f(p.Text)
				if err != nil {
					return nil, err
				}
				if t != p.Text {
					if parts == nil {
						parts = append([]llm.Part(nil), m.Content.Parts...)
					}
					parts[j].Text = t
				}
			}
			if parts != nil {
				own(i).Content = llm.PartsContent(parts...)
			}
		}
		var calls []llm.ToolCall
		for j, tc := range m.ToolCalls {
			t, err := f(tc.Function.Arguments)
			if err != nil {
				return nil, err
			}
			if t != tc.Function.Arguments {
				if calls == nil {
					calls = append([]llm.ToolCall(nil), m.ToolCalls...)
				}
				calls[j].Function.Arguments = t
			}
		}
		if calls != nil {
			own(i).ToolCalls = calls
		}
	}
	return out, nil
}
