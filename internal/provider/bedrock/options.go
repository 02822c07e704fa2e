package bedrock

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Embedding request formats InvokeModel understands.
const (
	// EmbeddingTitan is Amazon Titan text embeddings (v2): one input per call.
	EmbeddingTitan = "titan"
	// EmbeddingCohere is Cohere embed: many texts per call.
	EmbeddingCohere = "cohere"
)

// Options configure a "bedrock" deployment. The config loader has already
// expanded ${ENV} and file: references, so every field is a plain value.
//
// Authentication, in order of precedence: api_key (a Bedrock API key sent
// as a bearer token, no signing); else SigV4 with access_key_id and
// secret_access_key when set; else the AWS SDK's default credential chain
// (environment, shared config/credentials files and profile, web identity
// / IRSA, container and instance roles). assume_role_arn, when set, assumes
// that role with the keys or chain just described. Credentials are cached
// and refreshed before they expire, never fetched per request.
type Options struct {
	// Region is the AWS region serving the model, e.g. "us-east-1". Required.
	Region string `yaml:"region"`
	// Endpoint overrides https://bedrock-runtime.{region}.amazonaws.com, for
	// VPC interface endpoints and simulators. Default: the public endpoint.
	Endpoint string `yaml:"endpoint"`
	// AccessKeyID and SecretAccessKey are a static key pair; set both or neither.
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key"`
	// SessionToken goes with a temporary static key pair; optional.
	SessionToken string `yaml:"session_token"`
	// Profile selects a profile of the shared AWS config files for the
	// default chain. Default: AWS_PROFILE, else "default".
	Profile string `yaml:"profile"`
	// AssumeRoleARN is a role assumed through STS before calling Bedrock; optional.
	AssumeRoleARN string `yaml:"assume_role_arn"`
	// APIKey is a Bedrock API key, sent as "Authorization: Bearer" instead of
	// SigV4; it excludes the other credential fields. Never logged.
	APIKey string `yaml:"api_key"`
	// EmbeddingFormat is "titan" or "cohere". Default: inferred from the
	// model id (amazon.titan-embed* or cohere.embed*, also behind a
	// cross-region prefix).
	EmbeddingFormat string `yaml:"embedding_format"`
}

// Validate checks the options of a "bedrock" deployment.
func (o *Options) Validate() error {
	if strings.TrimSpace(o.Region) == "" {
		return errors.New("region is required for bedrock deployments, e.g. us-east-1")
	}
	if strings.ContainsAny(o.Region, "/ ") {
		return fmt.Errorf("region %q is not an AWS region name such as us-east-1", o.Region)
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf("endpoint %q must be an absolute URL such as https://bedrock-runtime.us-east-1.amazonaws.com", o.Endpoint)
		}
		if u.User != nil {
			return errors.New("endpoint must not carry credentials in the URL")
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("endpoint %q must not have a query or fragment", o.Endpoint)
		}
	}
	if (o.AccessKeyID == "") != (o.SecretAccessKey == "") {
		return errors.New("access_key_id and secret_access_key go together: set both or neither")
	}
	if o.SessionToken != "" && o.AccessKeyID == "" {
		return errors.New("session_token needs access_key_id and secret_access_key")
	}
	if o.AccessKeyID != "" && o.Profile != "" {
		return errors.New("profile and access_key_id are alternatives: set one or the other")
	}
	if o.APIKey != "" && (o.AccessKeyID != "" || o.Profile != "" || o.AssumeRoleARN != "") {
		return errors.New("api_key replaces SigV4 signing: do not combine it with access_key_id, profile or assume_role_arn")
	}
	if o.AssumeRoleARN != "" && !strings.HasPrefix(o.AssumeRoleARN, "arn:") {
		return fmt.Errorf("assume_role_arn %q must be a role ARN such as arn:aws:iam::123456789012:role/bedrock-invoke", o.AssumeRoleARN)
	}
	switch o.EmbeddingFormat {
	case "", EmbeddingTitan, EmbeddingCohere:
	default:
		return fmt.Errorf("embedding_format %q must be %q or %q", o.EmbeddingFormat, EmbeddingTitan, EmbeddingCohere)
	}
	return nil
}

// endpoint returns the configured endpoint or the region's public one.
func (o *Options) endpoint() string {
	if o.Endpoint != "" {
		return strings.TrimRight(o.Endpoint, "/")
	}
	return "https://bedrock-runtime." + o.Region + ".amazonaws.com"
}

// embeddingFormat returns the configured format or the one the model id
// implies, or "" when neither says.
func (o *Options) embeddingFormat(model string) string {
	if o.EmbeddingFormat != "" {
		return o.EmbeddingFormat
	}
	base := model
	if i := strings.LastIndex(base, "/"); i >= 0 { // ARN: .../model-id
		base = base[i+1:]
	}
	for _, p := range []string{"us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca."} {
		base = strings.TrimPrefix(base, p)
	}
	switch {
	case strings.HasPrefix(base, "amazon.titan-embed"):
		return EmbeddingTitan
	case strings.HasPrefix(base, "cohere.embed"):
		return EmbeddingCohere
	}
	return ""
}
