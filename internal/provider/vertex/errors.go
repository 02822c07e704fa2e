package vertex

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
	"github.com/switchyard/switchyard/internal/wire/anthropic"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// httpError turns a non-2xx Vertex AI answer into a client-facing error.
func httpError(resp *http.Response, deployment string) *llm.Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	st := parseStatus(body)
	if st == nil {
		// Claude on Vertex AI answers model errors in Anthropic's shape.
		if typ, msg := anthropic.ParseError(body); msg != "" {
			st = &rpcStatus{Message: msg, Status: typ}
		}
	}
	if st == nil {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		st = &rpcStatus{Code: resp.StatusCode, Message: msg}
	}
	st.Code = resp.StatusCode // the HTTP status is authoritative
	return statusError(st, resp.Header, deployment)
}

// parseStatus reads google.rpc.Status ({"error":{...}}), also when wrapped
// in the one-element array that non-SSE streaming answers use.
func parseStatus(body []byte) *rpcStatus {
	var one struct {
		Error *rpcStatus `json:"error"`
	}
	if json.Unmarshal(body, &one) == nil && one.Error != nil {
		return one.Error
	}
	var many []struct {
		Error *rpcStatus `json:"error"`
	}
	if json.Unmarshal(body, &many) == nil && len(many) > 0 && many[0].Error != nil {
		return many[0].Error
	}
	return nil
}

// statusError maps a google.rpc.Status. Credential and not-found failures
// become 502: they are the gateway operator's to fix (the deployment's
// service account or model), not the client's.
func statusError(st *rpcStatus, h http.Header, deployment string) *llm.Error {
	code := st.Code
	if code == 0 {
		code = statusCodes[st.Status]
	}
	cloud := st.Message
	if st.Status != "" {
		cloud = st.Status + ": " + st.Message
	}
	var e *llm.Error
	switch {
	case code == http.StatusTooManyRequests:
		e = llm.Errorf(http.StatusTooManyRequests, "Vertex AI deployment %q is rate limited (%s); retry after a pause", deployment, cloud)
		e.Code = "rate_limit_exceeded"
		e.RetryAfter = retryAfter(h, st.Details)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e = llm.Errorf(http.StatusBadGateway, "Vertex AI rejected the gateway's Google Cloud credentials for deployment %q (%s); the operator must check the deployment's service account and its Vertex AI permissions", deployment, cloud)
	case code == http.StatusNotFound:
		e = llm.Errorf(http.StatusBadGateway, "Vertex AI does not know the model or project of deployment %q (%s); the operator must check the deployment's model, project and location", deployment, cloud)
	case code == http.StatusServiceUnavailable:
		e = llm.Errorf(http.StatusServiceUnavailable, "Vertex AI deployment %q is unavailable (%s); retry later", deployment, cloud)
		e.RetryAfter = retryAfter(h, st.Details)
	case code == http.StatusGatewayTimeout:
		e = llm.Errorf(http.StatusGatewayTimeout, "Vertex AI deployment %q timed out (%s); retry, or shorten the request", deployment, cloud)
	case code >= 400 && code < 500 && code != http.StatusConflict && code != http.StatusRequestTimeout:
		e = llm.Errorf(http.StatusBadRequest, "Vertex AI deployment %q rejected the request: %s", deployment, st.Message)
		if strings.Contains(st.Message, "thought_signature") {
			e.Message += "; " + signatureHint
		}
	default:
		e = llm.Errorf(http.StatusBadGateway, "Vertex AI deployment %q failed (HTTP %d, %s); retry the request", deployment, code, cloud)
	}
	e.Upstream = true
	return e
}

// signatureHint tells a client how to carry Gemini's thought signatures
// back: the tool-call ids the gateway handed out hold them (sigid.go).
const signatureHint = "send earlier assistant tool calls back with the ids the gateway returned, unchanged (they carry Gemini's thought signature), or with their thought_signature field"

var statusCodes = map[string]int{
	"INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 400, "OUT_OF_RANGE": 400,
	"UNAUTHENTICATED": 401, "PERMISSION_DENIED": 403, "NOT_FOUND": 404, "ABORTED": 409,
	"ALREADY_EXISTS": 409, "RESOURCE_EXHAUSTED": 429, "CANCELLED": 499, "INTERNAL": 500,
	"UNKNOWN": 500, "DATA_LOSS": 500, "UNIMPLEMENTED": 501, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504,
}

// retryAfter reads the Retry-After header (seconds or an HTTP date), else
// a google.rpc.RetryInfo detail ("retryDelay":"6s").
func retryAfter(h http.Header, details []json.RawMessage) time.Duration {
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second))
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(time.Until(t), 0)
		}
	}
	for _, d := range details {
		var ri struct {
			Type       string `json:"@type"`
			RetryDelay string `json:"retryDelay"`
		}
		if json.Unmarshal(d, &ri) == nil && strings.HasSuffix(ri.Type, "google.rpc.RetryInfo") {
			if dur, err := time.ParseDuration(ri.RetryDelay); err == nil {
				return dur
			}
		}
	}
	return 0
}

// tokenError reports a failure to get an access token, which is the
// operator's to fix, never the client's.
func tokenError(err error, deployment string) *llm.Error {
	e := llm.Errorf(http.StatusBadGateway, "the gateway could not get a Google Cloud access token for Vertex AI deployment %q (%s); the operator must check the deployment's credentials", deployment, oneLine(err))
	e.Upstream = true
	return e
}

func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// transportError reports a failure to reach Vertex AI at all.
func transportError(err error, deployment string) *llm.Error {
	e := llm.Errorf(http.StatusBadGateway, "could not reach Vertex AI for deployment %q: %s", deployment, oneLine(err))
	e.Upstream = true
	return e
}
