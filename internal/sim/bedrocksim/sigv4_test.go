package bedrocksim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/internal/sim"
)

// TestVerifySigV4_Vector checks the verifier against the signature vector
// computed by hand in docs/provider-protocols.md §3: the model id's ":" is
// %3A on the wire and %253A in the canonical request.
func TestVerifySigV4_Vector(t *testing.T) {
	const (
		body = `{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"inferenceConfig":{"maxTokens":64}}`
		sig  = "05ee567ba64fef8e45e7f3fb378768ceef17d6e6d957bdfee4e82aeea2cbb9f6"
	)
	s := &server{eng: sim.NewEngine("bedrock"), opts: Options{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", Region: "us-east-1"}}
	signedAt := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		desc     string
		sig      string
		now      time.Time
		wantName string
	}{
		{"valid", sig, signedAt.Add(time.Minute), ""},
		{"tampered", strings.Replace(sig, "05", "06", 1), signedAt, "InvalidSignatureException"},
		{"too old", sig, signedAt.Add(6 * time.Minute), "InvalidSignatureException"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-Amz-Date", "20250101T000000Z")
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="+tc.sig)
			ae := s.verifySigV4(r, []byte(body), tc.now)
			switch {
			case tc.wantName == "" && ae != nil:
				t.Fatalf("rejected: %+v", ae)
			case tc.wantName != "" && (ae == nil || ae.name != tc.wantName || ae.status != http.StatusForbidden):
				t.Fatalf("got %+v, want 403 %s", ae, tc.wantName)
			}
		})
	}
}
