package bedrock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/switchyard/switchyard/internal/llm"
)

// signingName is the SigV4 service name of Bedrock Runtime.
const signingName = "bedrock"

// authorizer adds credentials to a request whose body is body.
type authorizer interface {
	authorize(ctx context.Context, req *http.Request, body []byte) error
}

// bearerAuth sends a Bedrock API key.
type bearerAuth struct{ value string }

func (b bearerAuth) authorize(_ context.Context, req *http.Request, _ []byte) error {
	req.Header.Set("Authorization", b.value)
	return nil
}

// sigv4Auth signs with the SDK's signer and credentials from a cache.
type sigv4Auth struct {
	creds      aws.CredentialsProvider // an *aws.CredentialsCache
	signer     *v4.Signer
	region     string
	deployment string
	now        func() time.Time
}

func (s *sigv4Auth) authorize(ctx context.Context, req *http.Request, body []byte) error {
	c, err := s.creds.Retrieve(ctx)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		e := llm.Errorf(http.StatusBadGateway, "the gateway could not obtain AWS credentials for Bedrock deployment %q (%s); the operator must check the deployment's keys, profile or role", s.deployment, oneLine(err))
		e.Upstream = true
		return e
	}
	sum := sha256.Sum256(body)
	if err := s.signer.SignHTTP(ctx, c, req, hex.EncodeToString(sum[:]), signingName, s.region, s.now()); err != nil {
		e := llm.Errorf(http.StatusBadGateway, "the gateway could not sign the request for Bedrock deployment %q (%s)", s.deployment, oneLine(err))
		e.Upstream = true
		return e
	}
	return nil
}

// newAuthorizer picks the authentication the options describe. Credentials
// come from a cache (aws.CredentialsCache), which fetches them once and
// again only shortly before they expire.
func newAuthorizer(o *Options, deployment string, httpClient *http.Client) (authorizer, error) {
	if o.APIKey != "" {
		return bearerAuth{value: "Bearer " + o.APIKey}, nil
	}
	creds, err := credentialsFor(o, httpClient)
	if err != nil {
		return nil, fmt.Errorf("bedrock deployment %q: %w", deployment, err)
	}
	return &sigv4Auth{creds: creds, signer: v4.NewSigner(), region: o.Region, deployment: deployment, now: time.Now}, nil
}

func credentialsFor(o *Options, httpClient *http.Client) (aws.CredentialsProvider, error) {
	var base aws.CredentialsProvider
	var cfg aws.Config
	if o.AccessKeyID != "" {
		base = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken))
		cfg = aws.Config{Region: o.Region, Credentials: base}
		if httpClient != nil {
			cfg.HTTPClient = httpClient
		}
	} else {
		loadOpts := []func(*config.LoadOptions) error{config.WithRegion(o.Region)}
		if o.Profile != "" {
			loadOpts = append(loadOpts, config.WithSharedConfigProfile(o.Profile))
		}
		// Loading reads config files only; credentials are resolved lazily
		// on first use, through the cache LoadDefaultConfig installs.
		var err error
		cfg, err = config.LoadDefaultConfig(context.Background(), loadOpts...)
		if err != nil {
			return nil, fmt.Errorf("loading the AWS configuration: %w", err)
		}
		base = cfg.Credentials
	}
	if o.AssumeRoleARN == "" {
		return base, nil
	}
	stsClient := sts.NewFromConfig(cfg)
	return aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, o.AssumeRoleARN, func(ar *stscreds.AssumeRoleOptions) {
		ar.RoleSessionName = "switchyard-bedrock"
	})), nil
}
