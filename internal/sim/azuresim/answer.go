package azuresim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard/switchyard/internal/sim"
	"github.com/switchyard/switchyard/internal/sim/openaisim"
)

// Content filter annotations of an answer nothing was filtered from.
var (
	safeCategories = json.RawMessage(`{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}`)
	promptFilters  = json.RawMessage(`[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"},"jailbreak":{"filtered":false,"detected":false},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":false,"severity":"safe"}}}]`)
	azureDialect   = openaisim.Dialect{PromptFilterResults: promptFilters, ChoiceFilterResults: safeCategories}
)

// writeError writes Azure's error shape: {"error":{"code","message"}},
// where code is a string, often the status itself ("429").
func writeError(w http.ResponseWriter, status int, code, message string) {
	openaisim.WriteJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": message}})
}

// writeFault renders an engine fault as Azure does.
func writeFault(w http.ResponseWriter, f *sim.Fault, c call) {
	switch f.Status {
	case http.StatusTooManyRequests:
		secs := int(math.Ceil(max(f.RetryAfter, time.Second).Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		w.Header().Set("Retry-After-Ms", strconv.Itoa(secs*1000))
		writeError(w, f.Status, "429", fmt.Sprintf("Requests to the ChatCompletions_Create Operation under Azure OpenAI API version %s have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after %d seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.", c.apiVersion, secs))
	case http.StatusServiceUnavailable:
		openaisim.SetRetryAfter(w.Header(), f.RetryAfter)
		writeError(w, f.Status, "ServiceUnavailable", f.Message)
	default:
		writeError(w, f.Status, "InternalServerError", f.Message)
	}
}

// contentFiltered writes the 400 Azure answers a prompt its filter blocks.
func contentFiltered(w http.ResponseWriter) {
	openaisim.WriteJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]any{
		"message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
		"type":    nil, "param": "prompt", "code": "content_filter", "status": 400,
		"innererror": map[string]any{
			"code":                  "ResponsibleAIPolicyViolation",
			"content_filter_result": json.RawMessage(`{"hate":{"filtered":false,"severity":"safe"},"self_harm":{"filtered":false,"severity":"safe"},"sexual":{"filtered":false,"severity":"safe"},"violence":{"filtered":true,"severity":"medium"}}`),
		},
	}})
}

func (s *Server) filtered(text string) bool {
	lower := strings.ToLower(text)
	for _, word := range s.opts.FilterWords {
		if word != "" && strings.Contains(lower, strings.ToLower(word)) {
			return true
		}
	}
	return false
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, c call) {
	if c.deployment != "" && !s.serves(c.deployment) {
		deploymentNotFound(w)
		return
	}
	body, fault := s.eng.ReadBody(r)
	if fault != nil {
		writeFault(w, fault, c)
		return
	}
	if body == nil {
		return
	}
	req, apiErr := openaisim.DecodeChat(body)
	if c.deployment != "" && apiErr != nil && apiErr.Param == "model" {
		// The classic path names the deployment; the body's model is optional.
		req, apiErr = decodeWithModel(body, c.deployment)
	}
	if apiErr != nil {
		writeError(w, apiErr.Status, "BadRequest", apiErr.Message)
		return
	}
	deployment := c.deployment
	if deployment == "" {
		deployment = req.Model
		if !s.serves(deployment) {
			deploymentNotFound(w)
			return
		}
	}
	prompt := req.Prompt()
	if s.filtered(prompt.Text) {
		contentFiltered(w)
		return
	}
	prompt.Model = deployment
	a := openaisim.Answer{
		ID: fmt.Sprintf("chatcmpl-azsim%08d", c.n), Created: time.Now().Unix(), Model: deployment,
		Reply: s.eng.Script().Answer(prompt), IncludeUsage: req.IncludeUsage(),
	}
	if req.Stream {
		openaisim.WriteStream(w, r, s.eng, a, azureDialect)
		return
	}
	openaisim.WriteCompletion(w, a, azureDialect)
}

// decodeWithModel decodes a classic-path body that left out the model.
func decodeWithModel(body []byte, deployment string) (*openaisim.ChatRequest, *openaisim.APIError) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return openaisim.DecodeChat(body)
	}
	m["model"], _ = json.Marshal(deployment)
	b, _ := json.Marshal(m)
	return openaisim.DecodeChat(b)
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request, c call) {
	if c.deployment != "" && !s.serves(c.deployment) {
		deploymentNotFound(w)
		return
	}
	body, fault := s.eng.ReadBody(r)
	if fault != nil {
		writeFault(w, fault, c)
		return
	}
	if body == nil {
		return
	}
	if c.deployment != "" {
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) == nil {
			m["model"], _ = json.Marshal(c.deployment)
			body, _ = json.Marshal(m)
		}
	}
	resp, apiErr := openaisim.Embed(body, s.serves)
	if apiErr != nil {
		if apiErr.Status == http.StatusNotFound {
			deploymentNotFound(w)
			return
		}
		writeError(w, apiErr.Status, "BadRequest", apiErr.Message)
		return
	}
	openaisim.WriteJSON(w, http.StatusOK, resp)
}

// token is the Entra-like client-credentials token endpoint. It accepts
// the client's credentials as form fields or HTTP basic auth, as Entra does.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if s.opts.TenantID != "" && r.PathValue("tenant") != s.opts.TenantID {
		tokenError(w, http.StatusBadRequest, "invalid_request", "AADSTS90002: Tenant '"+r.PathValue("tenant")+"' not found.")
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type '"+gt+"'.")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if s.opts.ClientID == "" || id != s.opts.ClientID {
		tokenError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application with identifier '"+id+"' was not found in the directory.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		tokenError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
		return
	}
	if scope := r.PostForm.Get("scope"); !strings.HasSuffix(scope, "/.default") {
		tokenError(w, http.StatusBadRequest, "invalid_scope", "AADSTS1002012: The provided value for scope "+scope+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.")
		return
	}
	raw := make([]byte, 24)
	_, _ = rand.Read(raw)
	tok := "azsim." + hex.EncodeToString(raw)
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(s.opts.TokenTTL)
	s.issued++
	s.mu.Unlock()
	ttl := int(s.opts.TokenTTL.Seconds())
	openaisim.WriteJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": tok})
}

func tokenError(w http.ResponseWriter, status int, code, desc string) {
	openaisim.WriteJSON(w, status, map[string]any{"error": code, "error_description": desc, "error_codes": []int{}})
}
