// Package client implements tracking.Store over MLflow's REST API 2.0, so the
// pipeline steps can log to our tracking server or to a real MLflow server. It
// speaks the messages of package wire, retries transient failures with capped
// exponential backoff and full jitter, and turns MLflow's error bodies into
// *tracking.Error values with their codes.
package client

import (
	"context"
	crand "crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// Defaults, as MLflow's Python client has them (mlflow/environment_variables.py).
const (
	DefaultTimeout     = 120 * time.Second // MLFLOW_HTTP_REQUEST_TIMEOUT
	DefaultMaxRetries  = 7                 // MLFLOW_HTTP_REQUEST_MAX_RETRIES
	DefaultBackoffBase = 2 * time.Second   // MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR
	DefaultBackoffMax  = 120 * time.Second // urllib3's Retry.DEFAULT_BACKOFF_MAX
)

// UserAgent is sent with every request.
const UserAgent = "housing-mlflow-go-client"

// Options configures a Client. The zero value is usable: no authentication,
// MLflow's timeout and retry defaults.
type Options struct {
	// HTTPClient carries the requests; nil means a client with its own transport.
	// Its Transport is wrapped to add authentication; its Timeout is left alone.
	HTTPClient *http.Client
	// Username and Password set HTTP basic authentication (MLFLOW_TRACKING_USERNAME/PASSWORD).
	Username, Password string
	// Token sets a bearer token (MLFLOW_TRACKING_TOKEN); it wins over basic authentication.
	Token string
	// InsecureTLS skips verification of the server's certificate
	// (MLFLOW_TRACKING_INSECURE_TLS). Ignored when HTTPClient is set.
	InsecureTLS bool
	// Timeout bounds each attempt of a REST call; 0 means DefaultTimeout. Artifact
	// transfers are bounded by the time to the response's headers only.
	Timeout time.Duration
	// MaxRetries is the number of retries after the first attempt; 0 means
	// DefaultMaxRetries, a negative value means none.
	MaxRetries int
	// BackoffBase and BackoffMax shape the wait before retry n (from 0): a uniformly
	// random duration in [0, min(BackoffMax, BackoffBase*2^n)). 0 means the defaults.
	BackoffBase, BackoffMax time.Duration
	// Rand draws the jitter; nil means a source seeded from crypto/rand.
	Rand *rand.Rand
	// Logger receives a warning per retry; nil means no logging.
	Logger *slog.Logger
	// Workspace is sent as the X-MLflow-Workspace header (MLFLOW_WORKSPACE), as
	// MLflow 3's client sends it; Kubeflow Pipelines 2.17 sets it for its tasks.
	Workspace string
}

// OptionsFromEnv reads the options the MLflow way: MLFLOW_TRACKING_USERNAME,
// MLFLOW_TRACKING_PASSWORD, MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_INSECURE_TLS,
// MLFLOW_HTTP_REQUEST_TIMEOUT (seconds), MLFLOW_HTTP_REQUEST_MAX_RETRIES and
// MLFLOW_WORKSPACE.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	opt := Options{
		Username: getenv("MLFLOW_TRACKING_USERNAME"),
		Password: getenv("MLFLOW_TRACKING_PASSWORD"),
		Token:    getenv("MLFLOW_TRACKING_TOKEN"),
		// Blank is none, as MLflow's client strips it.
		Workspace: strings.TrimSpace(getenv("MLFLOW_WORKSPACE")),
	}
	if (opt.Username == "") != (opt.Password == "") {
		return Options{}, fmt.Errorf("client: MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD must be set together")
	}
	if v := getenv("MLFLOW_TRACKING_INSECURE_TLS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Options{}, fmt.Errorf("client: MLFLOW_TRACKING_INSECURE_TLS=%q is not a boolean (true or false)", v)
		}
		opt.InsecureTLS = b
	}
	if v := getenv("MLFLOW_HTTP_REQUEST_TIMEOUT"); v != "" {
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || s <= 0 {
			return Options{}, fmt.Errorf("client: MLFLOW_HTTP_REQUEST_TIMEOUT=%q is not a positive number of seconds", v)
		}
		opt.Timeout = time.Duration(s * float64(time.Second))
	}
	if v := getenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Options{}, fmt.Errorf("client: MLFLOW_HTTP_REQUEST_MAX_RETRIES=%q is not a count of retries (0 or more)", v)
		}
		opt.MaxRetries = n
		if n == 0 {
			opt.MaxRetries = -1
		}
	}
	return opt, nil
}

// Client is a tracking.Store backed by an MLflow tracking server. It is safe for
// concurrent use.
type Client struct {
	base    string // scheme://host[:port][/prefix], no trailing slash
	hc      *http.Client
	timeout time.Duration
	retries int
	backoff backoff
	log     *slog.Logger

	infoMu  sync.Mutex
	mlflow3 *bool // whether the server speaks MLflow 3, once known
}

var _ tracking.Store = (*Client)(nil)

// New returns a client of the tracking server at trackingURI
// (http(s)://host[:port][/prefix]). It does not contact the server; Ping does.
func New(trackingURI string, opt Options) (*Client, error) {
	u, err := url.Parse(trackingURI)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: tracking URI %q must look like http(s)://host[:port][/prefix]", trackingURI)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: tracking URI %q must not have a query or fragment", trackingURI)
	}
	c := &Client{
		base:    strings.TrimRight(trackingURI, "/"),
		timeout: orDefault(opt.Timeout, DefaultTimeout),
		retries: opt.MaxRetries,
		backoff: backoff{
			base: orDefault(opt.BackoffBase, DefaultBackoffBase),
			max:  orDefault(opt.BackoffMax, DefaultBackoffMax),
			rnd:  opt.Rand,
		},
		log: opt.Logger,
	}
	if c.retries == 0 {
		c.retries = DefaultMaxRetries
	} else if c.retries < 0 {
		c.retries = 0
	}
	if c.backoff.rnd == nil {
		var seed [16]byte
		crand.Read(seed[:])
		c.backoff.rnd = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	var base http.RoundTripper
	hc := &http.Client{}
	if opt.HTTPClient != nil {
		*hc = *opt.HTTPClient
		base = hc.Transport
	}
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = c.timeout
		if opt.InsecureTLS {
			t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		}
		base = t
	}
	hc.Transport = &authTransport{base: base, username: opt.Username, password: opt.Password, token: opt.Token, workspace: opt.Workspace}
	c.hc = hc
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// TrackingURI returns the server's URI, as given to New.
func (c *Client) TrackingURI() string { return c.base }

// HTTPClient returns the client's authenticated *http.Client (without retries),
// for artifact transfers through the server's proxy.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Ping asks the server's /health endpoint.
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/health", nil, nil, nil)
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// authTransport adds authentication and the User-Agent to each request.
type authTransport struct {
	base               http.RoundTripper
	username, password string
	token              string
	workspace          string
}

// WorkspaceHeader carries the MLflow workspace of a request (MLflow 3.11.1's
// mlflow/utils/workspace_utils.py spells it X-MLFLOW-WORKSPACE).
const WorkspaceHeader = "X-MLflow-Workspace"

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", UserAgent)
	}
	// MLflow's client leaves it off the workspace administration endpoints,
	// which name the workspace in their path.
	if t.workspace != "" && !strings.Contains(req.URL.Path, "/mlflow/workspaces") {
		req.Header.Set(WorkspaceHeader, t.workspace)
	}
	switch {
	case t.token != "":
		req.Header.Set("Authorization", "Bearer "+t.token)
	case t.username != "":
		req.SetBasicAuth(t.username, t.password)
	}
	return t.base.RoundTrip(req)
}

// backoff draws waits with full jitter.
type backoff struct {
	base, max time.Duration
	mu        sync.Mutex
	rnd       *rand.Rand
}

// wait returns the wait before retry n (from 0).
func (b *backoff) wait(n int) time.Duration {
	ceiling := b.max
	if n < 32 {
		if d := b.base << n; d > 0 && d < ceiling {
			ceiling = d
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return time.Duration(b.rnd.Int64N(int64(ceiling) + 1))
}
