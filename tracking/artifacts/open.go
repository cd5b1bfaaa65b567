package artifacts

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// Options carries what Open needs beyond the URI.
type Options struct {
	// TrackingURI is the tracking server (http(s)://host[:port][/prefix]) that
	// mlflow-artifacts:/ URIs without a host are served by.
	TrackingURI string
	// HTTPClient carries artifact proxy requests, with the tracking client's
	// authentication; nil means http.DefaultClient.
	HTTPClient *http.Client
	// S3 configures s3:// repositories; nil means S3ConfigFromEnv(Getenv).
	S3 *S3Config
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Multipart configures multipart uploads of mlflow-artifacts repositories;
	// nil means MultipartConfigFromEnv(Getenv).
	Multipart *MultipartConfig
}

// Open returns the repository of an artifact URI:
//
//	/abs/dir, rel/dir, file:///abs/dir        Local
//	s3://bucket/prefix                        S3
//	mlflow-artifacts:/path                    HTTP against Options.TrackingURI
//	mlflow-artifacts://host:port/path         HTTP against that host (the tracking URI's scheme)
//
// runs:/ and models:/ URIs name a run or a model version and are resolved to one
// of these by the tracking client first; they and unknown schemes are refused.
func Open(ctx context.Context, uri string, opt Options) (tracking.ArtifactRepository, error) {
	if uri == "" {
		return nil, fmt.Errorf("artifacts: empty artifact URI")
	}
	scheme, _, hasScheme := strings.Cut(uri, ":")
	if !hasScheme || strings.ContainsAny(scheme, "/\\") || len(scheme) == 1 {
		return NewLocal(uri) // a plain path (a one-letter scheme is a Windows drive)
	}
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("artifacts: artifact URI %q: %w", uri, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("artifacts: file URI %q names host %q: only local files are supported", uri, u.Host)
		}
		p := u.Path
		if p == "" {
			p = u.Opaque // file:relative/dir
		}
		if p == "" {
			return nil, fmt.Errorf("artifacts: file URI %q has no path", uri)
		}
		return NewLocal(p)
	case "s3":
		cfg := opt.S3
		if cfg == nil {
			c, err := S3ConfigFromEnv(opt.getenv())
			if err != nil {
				return nil, fmt.Errorf("artifacts: open %s: %w", uri, err)
			}
			cfg = &c
		}
		return NewS3(ctx, u.Host, strings.TrimPrefix(u.Path, "/"), *cfg)
	case "mlflow-artifacts":
		base, err := proxyBase(u, opt.TrackingURI)
		if err != nil {
			return nil, fmt.Errorf("artifacts: open %s: %w", uri, err)
		}
		mpu := opt.Multipart
		if mpu == nil {
			c, err := MultipartConfigFromEnv(opt.getenv())
			if err != nil {
				return nil, fmt.Errorf("artifacts: open %s: %w", uri, err)
			}
			mpu = &c
		}
		h, err := NewHTTP(base, strings.TrimPrefix(u.Path, "/"), opt.HTTPClient)
		if err != nil {
			return nil, err
		}
		return h.WithMultipart(*mpu), nil
	case "runs", "models":
		return nil, fmt.Errorf("artifacts: %s URIs name a run or model and must be resolved by the tracking client first: %s", u.Scheme, uri)
	}
	return nil, fmt.Errorf("artifacts: unsupported artifact URI scheme %q in %s (supported: file, s3, mlflow-artifacts, or a plain path)", u.Scheme, uri)
}

func (o Options) getenv() func(string) string {
	if o.Getenv == nil {
		return os.Getenv
	}
	return o.Getenv
}

// proxyBase returns the tracking server that serves the mlflow-artifacts URI u.
func proxyBase(u *url.URL, trackingURI string) (string, error) {
	t, err := url.Parse(trackingURI)
	trackingOK := err == nil && (t.Scheme == "http" || t.Scheme == "https") && t.Host != ""
	if u.Host == "" {
		if !trackingOK {
			return "", fmt.Errorf("mlflow-artifacts URIs are served by a tracking server, but the tracking URI %q is not http(s)://host[:port]", trackingURI)
		}
		return strings.TrimRight(trackingURI, "/"), nil
	}
	scheme := "http"
	if trackingOK {
		scheme = t.Scheme
		if t.Host == u.Host {
			return strings.TrimRight(trackingURI, "/"), nil // keep the tracking URI's path prefix
		}
	}
	return scheme + "://" + u.Host, nil
}
