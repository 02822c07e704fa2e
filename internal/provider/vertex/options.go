package vertex

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Publishers a deployment can serve models of.
const (
	PublisherGoogle    = "google"
	PublisherAnthropic = "anthropic"
)

// Options configure one Vertex AI deployment (its `options:` block).
type Options struct {
	// Project is the Google Cloud project id that owns the quota. Required.
	Project string `yaml:"project"`
	// Location is the Vertex AI region, e.g. "europe-west4", or "global".
	// Required (Region is accepted as an alias).
	Location string `yaml:"location"`
	// Region is an alias of Location.
	Region string `yaml:"region"`
	// Endpoint overrides the base URL (scheme and host, optionally a path
	// prefix), for private endpoints and simulators. Default: derived from
	// Location ("global" -> https://aiplatform.googleapis.com, otherwise
	// https://{location}-aiplatform.googleapis.com).
	Endpoint string `yaml:"endpoint"`
	// CredentialsFile is the path of a service-account key JSON file.
	// Default: application default credentials (GOOGLE_APPLICATION_CREDENTIALS,
	// gcloud's file, workload identity, the metadata server).
	CredentialsFile string `yaml:"credentials_file"`
	// CredentialsJSON is a service-account key given inline; exclusive with
	// CredentialsFile.
	CredentialsJSON string `yaml:"credentials_json"`
	// Publisher is "google" (Gemini; the default) or "anthropic" (Claude on Vertex).
	Publisher string `yaml:"publisher"`
}

// Validate checks the options on their own, before any network access.
func (o *Options) Validate() error {
	var errs []error
	if strings.TrimSpace(o.Project) == "" {
		errs = append(errs, errors.New("vertex: options.project is required (the Google Cloud project id)"))
	}
	switch {
	case o.Location == "" && o.Region == "":
		errs = append(errs, errors.New(`vertex: options.location is required (a Vertex AI region such as "us-central1", or "global")`))
	case o.Location != "" && o.Region != "" && o.Location != o.Region:
		errs = append(errs, fmt.Errorf("vertex: options.location %q and options.region %q disagree; set only one", o.Location, o.Region))
	}
	if loc := o.location(); loc != "" && !validLocation(loc) {
		errs = append(errs, fmt.Errorf("vertex: options.location %q is not a region name (lowercase letters, digits and dashes)", loc))
	}
	if o.CredentialsFile != "" && o.CredentialsJSON != "" {
		errs = append(errs, errors.New("vertex: set options.credentials_file or options.credentials_json, not both"))
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("vertex: options.endpoint %q must be an http(s) base URL such as https://europe-west4-aiplatform.googleapis.com", o.Endpoint))
		}
	}
	switch o.Publisher {
	case "", PublisherGoogle, PublisherAnthropic:
	default:
		errs = append(errs, fmt.Errorf("vertex: options.publisher %q is not one of %q, %q", o.Publisher, PublisherGoogle, PublisherAnthropic))
	}
	return errors.Join(errs...)
}

func (o *Options) location() string {
	if o.Location != "" {
		return o.Location
	}
	return o.Region
}

func (o *Options) publisher() string {
	if o.Publisher == "" {
		return PublisherGoogle
	}
	return o.Publisher
}

// baseURL returns the API's scheme and host (and any path prefix), without
// a trailing slash.
func (o *Options) baseURL() string {
	if o.Endpoint != "" {
		return strings.TrimRight(o.Endpoint, "/")
	}
	if loc := o.location(); loc != "global" {
		return "https://" + loc + "-aiplatform.googleapis.com"
	}
	return "https://aiplatform.googleapis.com"
}

func validLocation(s string) bool {
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}
