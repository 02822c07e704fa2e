package bedrock

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/switchyard/switchyard/internal/llm"
)

func TestHTTPError_Mapping(t *testing.T) {
	ec := errorContext{deployment: "dep-1", model: "amazon.nova-pro-v1:0"}
	tests := []struct {
		desc, errType, body string
		status, want        int
		says                string
		retryAfter          string
		wantRetry           time.Duration
	}{
		{"throttled", "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.service/", `{"message":"Too many requests"}`, 429, 429, "Too many requests", "3", 3 * time.Second},
		{"model not ready", "ModelNotReadyException", `{"message":"Model is not ready"}`, 429, 429, "ModelNotReadyException", "", 0},
		{"validation", "ValidationException", `{"message":"messages.0: text field is blank"}`, 400, 400, "text field is blank", "", 0},
		{"access denied", "AccessDeniedException", `{"message":"You don't have access to the model"}`, 403, 502, "operator", "", 0},
		{"expired token", "ExpiredTokenException", `{"message":"The security token included in the request is expired"}`, 403, 502, "credentials", "", 0},
		{"unrecognized client", "UnrecognizedClientException", `{"message":"The security token included in the request is invalid."}`, 403, 502, "credentials", "", 0},
		{"not found", "ResourceNotFoundException", `{"message":"Model not found"}`, 404, 502, "amazon.nova-pro-v1:0", "", 0},
		{"model timeout", "ModelTimeoutException", `{"message":"Model timed out"}`, 408, 504, "timed out", "", 0},
		{"unavailable", "ServiceUnavailableException", `{"message":"Service unavailable"}`, 503, 503, "retry later", "1", time.Second},
		{"internal", "InternalServerException", `{"message":"oops"}`, 500, 502, "InternalServerException", "", 0},
		{"model error", "ModelErrorException", `{"message":"model failed","originalStatusCode":500}`, 424, 502, "ModelErrorException", "", 0},
		{"type in body", "", `{"__type":"com.amazon.coral.validate#ValidationException","message":"bad"}`, 400, 400, "ValidationException: bad", "", 0},
		{"no type 403", "", `forbidden`, 403, 502, "credentials", "", 0},
		{"no type 5xx", "", ``, 502, 502, "Bad Gateway", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if tc.errType != "" {
				rec.Header().Set("X-Amzn-ErrorType", tc.errType)
			}
			if tc.retryAfter != "" {
				rec.Header().Set("Retry-After", tc.retryAfter)
			}
			rec.WriteHeader(tc.status)
			_, _ = io.WriteString(rec, tc.body)
			e := httpError(rec.Result(), ec)
			if e.Status != tc.want || !e.Upstream || e.RetryAfter != tc.wantRetry || e.Type != llm.TypeForStatus(tc.want) {
				t.Errorf("error = %+v", e)
			}
			if !strings.Contains(e.Message, tc.says) || !strings.Contains(e.Message, "dep-1") {
				t.Errorf("message %q should say %q and name the deployment", e.Message, tc.says)
			}
		})
	}
}

func TestOptions_Validate(t *testing.T) {
	tests := []struct {
		desc string
		o    Options
		says string // "" = valid
	}{
		{"minimal", Options{Region: "us-east-1"}, ""},
		{"static keys", Options{Region: "eu-west-1", AccessKeyID: "AKID", SecretAccessKey: "s", SessionToken: "t"}, ""},
		{"api key", Options{Region: "us-west-2", APIKey: "k", Endpoint: "https://vpce-1.bedrock-runtime.us-west-2.vpce.amazonaws.com"}, ""},
		{"role", Options{Region: "us-east-1", Profile: "prod", AssumeRoleARN: "arn:aws:iam::123456789012:role/x", EmbeddingFormat: "cohere"}, ""},
		{"no region", Options{}, "region is required"},
		{"half pair", Options{Region: "us-east-1", AccessKeyID: "AKID"}, "set both or neither"},
		{"token alone", Options{Region: "us-east-1", SessionToken: "t"}, "session_token needs"},
		{"keys and profile", Options{Region: "us-east-1", AccessKeyID: "a", SecretAccessKey: "b", Profile: "p"}, "profile and access_key_id"},
		{"api key and keys", Options{Region: "us-east-1", APIKey: "k", AccessKeyID: "a", SecretAccessKey: "b"}, "api_key replaces"},
		{"bad endpoint", Options{Region: "us-east-1", Endpoint: "bedrock.local"}, "absolute URL"},
		{"bad role", Options{Region: "us-east-1", AssumeRoleARN: "role/x"}, "role ARN"},
		{"bad format", Options{Region: "us-east-1", EmbeddingFormat: "openai"}, "embedding_format"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			err := tc.o.Validate()
			if tc.says == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Validate = %v, want an error saying %q", err, tc.says)
			}
		})
	}
}

func TestOptions_EmbeddingFormat(t *testing.T) {
	tests := map[string]string{
		"amazon.titan-embed-text-v2:0":                                        EmbeddingTitan,
		"us.amazon.titan-embed-text-v2:0":                                     EmbeddingTitan,
		"cohere.embed-multilingual-v3":                                        EmbeddingCohere,
		"arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-english-v3": EmbeddingCohere,
		"anthropic.claude-3-haiku-20240307-v1:0":                              "",
	}
	for model, want := range tests {
		if got := (&Options{}).embeddingFormat(model); got != want {
			t.Errorf("embeddingFormat(%q) = %q, want %q", model, got, want)
		}
	}
	if got := (&Options{EmbeddingFormat: EmbeddingCohere}).embeddingFormat("my-custom-model"); got != EmbeddingCohere {
		t.Errorf("explicit format ignored: %q", got)
	}
}

// countingProvider counts how often credentials are really resolved.
type countingProvider struct{ n atomic.Int32 }

func (c *countingProvider) Retrieve(context.Context) (aws.Credentials, error) {
	c.n.Add(1)
	return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s", CanExpire: true, Expires: time.Now().Add(time.Hour)}, nil
}

func TestSigV4_CredentialsCached(t *testing.T) {
	for _, o := range []Options{
		{Region: "us-east-1", AccessKeyID: "AKID", SecretAccessKey: "s"},
		{Region: "us-east-1"},
	} {
		creds, err := credentialsFor(&o, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := creds.(*aws.CredentialsCache); !ok {
			t.Errorf("credentials for %+v are %T, want *aws.CredentialsCache", o, creds)
		}
	}
	counter := &countingProvider{}
	a, err := newAuthorizer(&Options{Region: "us-east-1", AccessKeyID: "x", SecretAccessKey: "y"}, "dep", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := a.(*sigv4Auth)
	s.creds = aws.NewCredentialsCache(counter)
	for range 5 {
		req, _ := http.NewRequest(http.MethodPost, "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", strings.NewReader("{}"))
		if err := s.authorize(context.Background(), req, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(req.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKID/") {
			t.Fatalf("Authorization = %q", req.Header.Get("Authorization"))
		}
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("credentials resolved %d times for 5 requests, want 1", n)
	}
}

func TestSigV4_CredentialFailure(t *testing.T) {
	s := &sigv4Auth{creds: aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("no EC2 IMDS role found")
	})), region: "us-east-1", deployment: "dep-9", now: time.Now}
	req, _ := http.NewRequest(http.MethodPost, "https://example.com/", nil)
	err := s.authorize(context.Background(), req, nil)
	var e *llm.Error
	if !errors.As(err, &e) || e.Status != http.StatusBadGateway || !strings.Contains(e.Message, "dep-9") || !strings.Contains(e.Message, "IMDS") {
		t.Fatalf("err = %v", err)
	}
}

func TestToolIDs_RoundTrip(t *testing.T) {
	for _, id := range []string{"call_1", "toolu_01A", "functions.get:0", "sy-x", "a b c", strings.Repeat("é", 20)} {
		enc := encodeToolID(id)
		if !validToolID(enc) {
			t.Errorf("encodeToolID(%q) = %q, not valid for Bedrock", id, enc)
		}
		if got := decodeToolID(enc); got != id {
			t.Errorf("round trip %q -> %q -> %q", id, enc, got)
		}
	}
	long := strings.Repeat("x.", 40)
	if enc := encodeToolID(long); !validToolID(enc) || enc != encodeToolID(long) {
		t.Errorf("long id %q -> %q", long, enc)
	}
}
