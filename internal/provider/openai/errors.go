package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchyard/switchyard/internal/llm"
)

// Target names what an upstream error is about, so that its message can
// tell an operator which deployment to look at.
type Target struct {
	// Provider is the registered provider name, e.g. "openai", "azure".
	Provider string
	// Deployment is the operator's name for the deployment.
	Deployment string
	// Model is the model id (or Azure deployment name) the request named.
	Model string
}

// ErrorBody is what an OpenAI-shaped server said about an error. Every
// field may be empty: servers differ (Azure sends "type":null and string
// codes such as "429", vLLM puts the fields at the top level, Ollama may
// send the error as a bare string).
type ErrorBody struct {
	Message string
	Type    string
	Code    string
	Param   string
	// InnerCode is Azure's innererror.code, e.g. "ResponsibleAIPolicyViolation".
	InnerCode string
}

// maxMessage bounds how much of an upstream message reaches a client, so a
// server that answers errors with an HTML page cannot flood logs.
const maxMessage = 1000

// ParseErrorBody reads an OpenAI-shaped error body. It never fails: a body
// it cannot read becomes the message, cut to a readable length.
func ParseErrorBody(body []byte) ErrorBody {
	body = bytes.TrimSpace(body)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return ErrorBody{Message: clip(string(body))}
	}
	src := top
	if raw, ok := top["error"]; ok {
		var inner map[string]json.RawMessage
		if json.Unmarshal(raw, &inner) == nil && inner != nil {
			src = inner
		} else if s := jsonScalar(raw); s != "" {
			return ErrorBody{Message: clip(s)}
		}
	}
	eb := ErrorBody{
		Message: clip(jsonScalar(src["message"])),
		Type:    jsonScalar(src["type"]),
		Code:    jsonScalar(src["code"]),
		Param:   jsonScalar(src["param"]),
	}
	if raw, ok := src["innererror"]; ok {
		var inner struct {
			Code json.RawMessage `json:"code"`
		}
		if json.Unmarshal(raw, &inner) == nil {
			eb.InnerCode = jsonScalar(inner.Code)
		}
	}
	if eb.Message == "" {
		if d := jsonScalar(top["error_description"]); d != "" {
			eb.Message = clip(d)
		}
	}
	return eb
}

// jsonScalar returns a JSON string or number as text, and "" for null,
// objects, arrays and anything malformed.
func jsonScalar(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String()
		}
	}
	return ""
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxMessage {
		return s
	}
	s = s[:maxMessage]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// ErrorFromResponse maps an upstream error answer to the error the client
// sees. Every result has Upstream set, so the router can tell a provider's
// failure from the gateway refusing a request.
//
// Credentials and missing models are the operator's mistakes, not the
// client's: they become 502 with a message naming the deployment, so the
// client is never told its own key was wrong.
func ErrorFromResponse(t Target, resp *http.Response, body []byte) *llm.Error {
	eb := ParseErrorBody(body)
	e := mapStatus(t, resp.StatusCode, eb)
	switch e.Status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		e.RetryAfter = RetryAfter(resp.Header, time.Now())
	}
	return e
}

// mapStatus maps an upstream status and error body to a client error.
func mapStatus(t Target, status int, eb ErrorBody) *llm.Error {
	said := eb.Message
	if said == "" {
		said = http.StatusText(status)
	}
	e := &llm.Error{Upstream: true}
	switch {
	case status == http.StatusTooManyRequests:
		e.Status, e.Type = http.StatusTooManyRequests, llm.TypeRateLimit
		e.Code = symbolicCode(eb.Code, "rate_limit_exceeded")
		e.Message = fmt.Sprintf("deployment %s is rate limited by %s: %s", t.Deployment, t.Provider, said)
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity || status == http.StatusConflict:
		// The request itself was refused: the client can fix it, so the
		// upstream's own words (content filter, bad parameter) are kept.
		e.Status, e.Type = http.StatusBadRequest, llm.TypeInvalidRequest
		e.Code, e.Param, e.Message = symbolicCode(eb.Code, ""), eb.Param, said
	case status == http.StatusRequestEntityTooLarge:
		e.Status, e.Type = status, llm.TypeInvalidRequest
		e.Code, e.Message = symbolicCode(eb.Code, ""), said
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Status, e.Type, e.Code = http.StatusBadGateway, llm.TypeAPI, "upstream_auth_failed"
		e.Message = fmt.Sprintf("deployment %s rejected the gateway's credentials for %s (upstream %d: %s); the client's key was fine, check the provider key configured for this deployment",
			t.Deployment, t.Provider, status, said)
	case status == http.StatusNotFound:
		e.Status, e.Type, e.Code = http.StatusBadGateway, llm.TypeAPI, "upstream_not_found"
		e.Message = fmt.Sprintf("deployment %s is misconfigured: %s does not know model %q (upstream 404: %s); check the deployment's model and endpoint in the gateway config",
			t.Deployment, t.Provider, t.Model, said)
	case status == http.StatusServiceUnavailable || status == 529:
		e.Status, e.Type = http.StatusServiceUnavailable, llm.TypeOverloaded
		e.Message = fmt.Sprintf("deployment %s is overloaded or unavailable at %s: %s", t.Deployment, t.Provider, said)
	case status == http.StatusGatewayTimeout || status == http.StatusRequestTimeout:
		e.Status, e.Type = http.StatusGatewayTimeout, llm.TypeTimeout
		e.Message = fmt.Sprintf("deployment %s timed out at %s: %s", t.Deployment, t.Provider, said)
	case status >= 500:
		e.Status, e.Type = http.StatusBadGateway, llm.TypeAPI
		e.Message = fmt.Sprintf("deployment %s failed at %s (upstream %d): %s", t.Deployment, t.Provider, status, said)
	default:
		// Unusual 4xx (405, 415, ...) and non-error statuses that should
		// not be here: the gateway built a request the server refused.
		e.Status, e.Type = http.StatusBadGateway, llm.TypeAPI
		e.Message = fmt.Sprintf("deployment %s at %s answered with status %d: %s", t.Deployment, t.Provider, status, said)
	}
	return e
}

// symbolicCode keeps codes such as "content_filter" and drops Azure's bare
// numeric codes ("429"), which repeat the status and mean nothing more.
func symbolicCode(code, fallback string) string {
	if code == "" {
		return fallback
	}
	if _, err := strconv.Atoi(code); err == nil {
		return fallback
	}
	return code
}

// StreamError maps an error object sent inside a stream, after the 200
// answer, to a client error. The status is inferred from the type and
// code the server named, since the stream's own status was 200.
func StreamError(t Target, data []byte) *llm.Error {
	eb := ParseErrorBody(data)
	status := http.StatusBadGateway
	switch {
	case strings.Contains(eb.Type, "rate_limit") || strings.Contains(eb.Code, "rate_limit") || eb.Code == "429":
		status = http.StatusTooManyRequests
	case strings.Contains(eb.Type, "overloaded") || strings.Contains(eb.Code, "overloaded"):
		status = http.StatusServiceUnavailable
	case eb.Type == llm.TypeInvalidRequest || eb.Code == "content_filter":
		status = http.StatusBadRequest
	}
	if eb.Message == "" {
		eb.Message = "the stream carried an error without a message"
	}
	e := mapStatus(t, status, eb)
	if status == http.StatusBadGateway {
		e.Message = fmt.Sprintf("deployment %s at %s failed mid-stream: %s", t.Deployment, t.Provider, eb.Message)
	}
	return e
}

// RetryAfter reads how long the server asked the client to wait:
// retry-after-ms, then Azure's x-ms-retry-after-ms, then retry-after in
// seconds or as an HTTP date. It returns 0 when none is usable.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	for _, name := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if v := h.Get(name); v != "" {
			if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < math.MaxInt64/float64(time.Millisecond) {
				return time.Duration(ms * float64(time.Millisecond))
			}
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 && s < math.MaxInt64/float64(time.Second) {
			return time.Duration(s * float64(time.Second))
		}
		return 0
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// errTimeout is the cancel cause when Client.Timeout elapses.
var errTimeout = errors.New("deployment timeout elapsed")
