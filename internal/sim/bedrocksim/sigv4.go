package bedrocksim

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// maxSkew is how far X-Amz-Date may be from the fake's clock.
const maxSkew = 5 * time.Minute

const (
	msgBadSignature = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgBadToken     = "The security token included in the request is invalid."
)

// authError is an AWS error the fake answers before doing any work.
type authError struct {
	status  int
	name    string
	message string
}

// sigv4 is one parsed Authorization header.
type sigv4 struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	header                           string // the whole header, for comparison
}

func parseAuthorization(h string) (sigv4, bool) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return sigv4{}, false
	}
	s := sigv4{header: h}
	var cred, signed, sig string
	for _, f := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sig = v
		}
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || signed == "" || sig == "" {
		return sigv4{}, false
	}
	s.accessKey, s.date, s.region, s.service = parts[0], parts[1], parts[2], parts[3]
	s.signedHeaders = strings.Split(signed, ";")
	return s, true
}

// verifySigV4 recomputes the request's signature with the SDK's signer,
// over the headers the client said it signed, and compares.
func (s *server) verifySigV4(r *http.Request, body []byte, now time.Time) *authError {
	bad := &authError{http.StatusForbidden, "InvalidSignatureException", msgBadSignature}
	auth, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return &authError{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."}
	}
	if s.opts.AccessKeyID == "" || subtle.ConstantTimeCompare([]byte(auth.accessKey), []byte(s.opts.AccessKeyID)) != 1 {
		return &authError{http.StatusForbidden, "UnrecognizedClientException", msgBadToken}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	t, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return bad
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return &authError{http.StatusForbidden, "InvalidSignatureException", "Signature expired: " + amzDate + " is now earlier than " + now.UTC().Add(-maxSkew).Format("20060102T150405Z") + " (" + now.UTC().Format("20060102T150405Z") + " - 5 min.)"}
	}
	if auth.date != t.Format("20060102") || auth.service != "bedrock" || (s.opts.Region != "" && auth.region != s.opts.Region) {
		return bad
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if v := r.Header.Get("X-Amz-Content-Sha256"); v != "" && v != hash {
		return bad
	}
	check := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery},
		Host:   r.Host,
		Header: http.Header{},
	}
	creds := aws.Credentials{AccessKeyID: s.opts.AccessKeyID, SecretAccessKey: s.opts.SecretAccessKey}
	for _, name := range auth.signedHeaders {
		switch name {
		case "host":
			continue // the signer takes it from the request's Host
		case "content-length":
			// The SDK's signer signs the length whenever it is known;
			// other clients may leave it out, so follow the client.
			check.ContentLength = r.ContentLength
			continue
		case "x-amz-security-token":
			creds.SessionToken = r.Header.Get(name)
		}
		for _, v := range r.Header.Values(name) {
			check.Header.Add(name, v)
		}
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, check, hash, auth.service, auth.region, t); err != nil {
		return bad
	}
	if subtle.ConstantTimeCompare([]byte(check.Header.Get("Authorization")), []byte(auth.header)) != 1 {
		return bad
	}
	return nil
}
