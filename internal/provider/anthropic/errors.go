package anthropic

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	wire "github.com/switchyard/switchyard/internal/wire/anthropic"
)

// errorFromResponse maps a non-2xx answer to the error the client sees.
// Failures of the gateway's own credentials or configuration become 502:
// the client's key is fine, the deployment is not.
func (p *Provider) errorFromResponse(resp *http.Response, body []byte) *llm.Error {
	typ, msg := wire.ParseError(body)
	if msg == "" {
		msg = strings.TrimSpace(http.StatusText(resp.StatusCode))
	}
	reqID := resp.Header.Get("request-id")
	e := &llm.Error{Upstream: true}
	switch s := resp.StatusCode; {
	case s == http.StatusTooManyRequests:
		e.Status, e.Type, e.Code = s, llm.TypeRateLimit, "rate_limit_exceeded"
		e.Message = fmt.Sprintf("deployment %s (anthropic) is rate limited: %s", p.dep.Name, msg)
		e.RetryAfter = retryAfter(resp.Header)
	case s == http.StatusBadRequest || s == http.StatusUnprocessableEntity:
		e.Status, e.Type = http.StatusBadRequest, llm.TypeInvalidRequest
		e.Message = "Anthropic rejected the request: " + msg
	case s == http.StatusRequestEntityTooLarge:
		e.Status, e.Type, e.Code = s, llm.TypeInvalidRequest, "request_too_large"
		e.Message = "the request is too large for Anthropic (32 MB at most): " + msg
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		e.Status, e.Type, e.Code = http.StatusBadGateway, llm.TypeAPI, "upstream_auth_failed"
		e.Message = fmt.Sprintf("deployment %s (anthropic) refused the gateway's credentials (%d %s); the operator must check the deployment's api_key", p.dep.Name, s, typ)
	case s == http.StatusNotFound:
		e.Status, e.Type, e.Code = http.StatusBadGateway, llm.TypeAPI, "upstream_not_found"
		e.Message = fmt.Sprintf("deployment %s (anthropic) points at model %q, which Anthropic does not know: %s; the operator must fix the deployment", p.dep.Name, p.dep.Model, msg)
	case s == http.StatusServiceUnavailable || s == wire.StatusOverloaded:
		e.Status, e.Type = http.StatusServiceUnavailable, llm.TypeOverloaded
		e.Message = fmt.Sprintf("deployment %s (anthropic) is overloaded: %s; retry later", p.dep.Name, msg)
		e.RetryAfter = retryAfter(resp.Header)
	default:
		e.Status, e.Type = http.StatusBadGateway, llm.TypeAPI
		e.Message = fmt.Sprintf("deployment %s (anthropic) failed with %d %s: %s", p.dep.Name, s, typ, msg)
	}
	p.log.Warn("upstream error", "provider", Name, "deployment", p.dep.Name, "status", resp.StatusCode, "type", typ, "request_id", reqID)
	return e
}

// retryAfter reads retry-after as seconds or an HTTP date; 0 if absent.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("retry-after"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
