package bedrock

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/llm"
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// errorContext names what failed, for messages a person can act on.
type errorContext struct {
	deployment string
	model      string
}

// httpError maps a non-2xx Bedrock answer (x-amzn-ErrorType and a
// {"message"} body) to a client-facing error.
func httpError(resp *http.Response, ec errorContext) *llm.Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	name := errorTypeName(resp.Header.Get("X-Amzn-Errortype"))
	var eb struct {
		errorBody
		Type string `json:"__type"`
		Code string `json:"code"`
	}
	_ = json.Unmarshal(body, &eb)
	if name == "" {
		name = errorTypeName(eb.Type)
	}
	if name == "" {
		name = errorTypeName(eb.Code)
	}
	msg := eb.Message
	if msg == "" {
		msg = eb.MessageU
	}
	if msg == "" {
		msg = strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e := mapError(name, resp.StatusCode, msg, ec)
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		e.RetryAfter = retryAfter(resp.Header)
	}
	return e
}

// errorTypeName keeps the shape name of an AWS error type, dropping a
// namespace ("aws.protocols#X") and a trailing URL ("X:http://...").
func errorTypeName(s string) string {
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// exceptionError maps an in-stream exception (":exception-type", e.g.
// "throttlingException") to a client-facing error.
func exceptionError(name string, payload []byte, ec errorContext) *llm.Error {
	var eb errorBody
	_ = json.Unmarshal(payload, &eb)
	msg := eb.Message
	if msg == "" {
		msg = eb.MessageU
	}
	if msg == "" {
		msg = "no message"
	}
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	return mapError(name, 0, msg, ec)
}

// mapError decides the status by the AWS error name, falling back to the
// HTTP status. Credential and not-found failures are 502: the client's own
// key was fine, the gateway's cloud setup was not.
func mapError(name string, status int, cloud string, ec errorContext) *llm.Error {
	if name != "" {
		cloud = name + ": " + cloud
	}
	var e *llm.Error
	switch {
	case name == "ThrottlingException" || name == "ModelNotReadyException" || name == "ServiceQuotaExceededException" ||
		(name == "" && status == http.StatusTooManyRequests):
		e = llm.Errorf(http.StatusTooManyRequests, "Bedrock deployment %q is throttled (%s); retry after a pause", ec.deployment, cloud)
		e.Code = "rate_limit_exceeded"
	case name == "ValidationException":
		e = llm.Errorf(http.StatusBadRequest, "Bedrock deployment %q rejected the request: %s", ec.deployment, cloud)
	case name == "AccessDeniedException" || name == "UnrecognizedClientException" || name == "InvalidSignatureException" ||
		name == "ExpiredTokenException" || name == "InvalidClientTokenId" || name == "IncompleteSignature" ||
		name == "MissingAuthenticationTokenException" || name == "RequestExpired" ||
		(name == "" && (status == http.StatusUnauthorized || status == http.StatusForbidden)):
		e = llm.Errorf(http.StatusBadGateway, "AWS rejected the gateway's credentials for Bedrock deployment %q (%s); the operator must check the deployment's AWS keys, role and its bedrock:InvokeModel permission", ec.deployment, cloud)
	case name == "ResourceNotFoundException" || (name == "" && status == http.StatusNotFound):
		e = llm.Errorf(http.StatusBadGateway, "Bedrock does not serve model %q for deployment %q in this region or account (%s); the operator must check the model id and model access", ec.model, ec.deployment, cloud)
	case name == "ModelTimeoutException" || (name == "" && (status == http.StatusRequestTimeout || status == http.StatusGatewayTimeout)):
		e = llm.Errorf(http.StatusGatewayTimeout, "Bedrock deployment %q timed out (%s); retry, or shorten the request", ec.deployment, cloud)
	case name == "ServiceUnavailableException" || (name == "" && status == http.StatusServiceUnavailable):
		e = llm.Errorf(http.StatusServiceUnavailable, "Bedrock deployment %q is unavailable (%s); retry later", ec.deployment, cloud)
	case name == "InternalServerException" || name == "ModelErrorException" || name == "ModelStreamErrorException" || status >= 500:
		e = llm.Errorf(http.StatusBadGateway, "Bedrock deployment %q failed (%s); retry the request", ec.deployment, cloud)
	case status >= 400 && status < 500:
		e = llm.Errorf(http.StatusBadRequest, "Bedrock deployment %q rejected the request: %s", ec.deployment, cloud)
	default:
		e = llm.Errorf(http.StatusBadGateway, "Bedrock deployment %q failed (%s); retry the request", ec.deployment, cloud)
	}
	e.Upstream = true
	return e
}

func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// upstreamBroken is a 502 for an answer that cannot be understood or ended early.
func upstreamBroken(ec errorContext, what string) *llm.Error {
	e := llm.Errorf(http.StatusBadGateway, "the Bedrock answer for deployment %q broke: it %s; retry the request", ec.deployment, what)
	e.Upstream = true
	return e
}

func transportError(err error, ec errorContext) *llm.Error {
	e := llm.Errorf(http.StatusBadGateway, "could not reach Bedrock for deployment %q (%s); retry the request", ec.deployment, oneLine(err))
	e.Upstream = true
	return e
}

func oneLine(err error) string {
	s := strings.ReplaceAll(err.Error(), "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
