package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/artifacts"
	"github.com/mlops-lab/housing/tracking/auth"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/dial"
	"github.com/mlops-lab/housing/tracking/server"
	"github.com/mlops-lab/housing/tracking/sqlstore"
	"github.com/mlops-lab/housing/tracking/ui"
)

// Timeouts of the HTTP server and of its start and stop.
const (
	openTimeout       = 30 * time.Second // connecting to the backend store
	shutdownTimeout   = 30 * time.Second // draining in-flight requests
	readHeaderTimeout = 10 * time.Second
)

// config is what the flags say.
type config struct {
	backendStoreURI      string
	defaultArtifactRoot  string
	artifactsDestination string
	serveArtifacts       bool
	host                 string
	port                 int
	workers              int
	appName              string
	authDBURI            string
	authAdminUser        string
	authAdminPassword    string
	authDefault          string
	tlsCert, tlsKey      string
	partSigningKey       string
	uiCSRFKey            string
	schemaVersion        string
}

// run parses args (args[0] is the program name) and serves until ctx is done.
// Flags left unset are read from MLflow's environment variables through getenv.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var cfg config
	app := &cli.App{
		Name:      "tracking-server",
		Usage:     "an MLflow-compatible tracking server (REST API 2.0, model registry, artifact proxy)",
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "backend-store-uri", Value: "sqlite:///mlflow.db", Destination: &cfg.backendStoreURI,
				Usage: "database of experiments, runs and models: sqlite:///path.db or postgresql://user:pass@host:port/db, or another tracking server, http(s)://host:port (env MLFLOW_BACKEND_STORE_URI)"},
			&cli.StringFlag{Name: "default-artifact-root", Destination: &cfg.defaultArtifactRoot,
				Usage: "artifact location of new experiments (default mlflow-artifacts:/ when serving artifacts, else ./mlruns) (env MLFLOW_DEFAULT_ARTIFACT_ROOT)"},
			&cli.StringFlag{Name: "artifacts-destination", Value: "./mlartifacts", Destination: &cfg.artifactsDestination,
				Usage: "where proxied artifacts are stored: a directory or s3://bucket/prefix (MLFLOW_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) (env MLFLOW_ARTIFACTS_DESTINATION)"},
			&cli.BoolFlag{Name: "serve-artifacts", Value: true, Destination: &cfg.serveArtifacts,
				Usage: "proxy artifact uploads and downloads through this server (env MLFLOW_SERVE_ARTIFACTS)"},
			&cli.BoolFlag{Name: "no-serve-artifacts", Usage: "do not serve artifacts"},
			&cli.StringFlag{Name: "host", Value: "127.0.0.1", Destination: &cfg.host,
				Usage: "address to listen on (env MLFLOW_HOST)"},
			&cli.IntFlag{Name: "port", Aliases: []string{"p"}, Value: 5000, Destination: &cfg.port,
				Usage: "port to listen on; 0 picks a free one (env MLFLOW_PORT)"},
			&cli.IntFlag{Name: "workers", Aliases: []string{"w"}, Destination: &cfg.workers,
				Usage: "accepted for compatibility and ignored: one process serves all requests concurrently (env MLFLOW_WORKERS)"},
			&cli.StringFlag{Name: "app-name", Destination: &cfg.appName,
				Usage: "basic-auth: require HTTP basic authentication and per-experiment/model permissions, as MLflow's basic-auth app"},
			&cli.StringFlag{Name: "auth-db-uri", Destination: &cfg.authDBURI,
				Usage: "database of users and permissions (tables housing_auth_*); default the backend store (env MLFLOW_AUTH_DB_URI)"},
			&cli.StringFlag{Name: "auth-admin-username", Value: "admin", Destination: &cfg.authAdminUser,
				Usage: "the admin created on first start with --app-name basic-auth (env MLFLOW_AUTH_ADMIN_USERNAME)"},
			&cli.StringFlag{Name: "auth-admin-password", Destination: &cfg.authAdminPassword,
				Usage: "the first admin's password; required while there are no users (env MLFLOW_AUTH_ADMIN_PASSWORD; prefer the env)"},
			&cli.StringFlag{Name: "auth-default-permission", Value: "READ", Destination: &cfg.authDefault,
				Usage: "permission of users on resources without a grant: READ, EDIT, MANAGE or NO_PERMISSIONS (env MLFLOW_AUTH_DEFAULT_PERMISSION)"},
			&cli.StringFlag{Name: "tls-cert", Destination: &cfg.tlsCert, Usage: "serve HTTPS with this PEM certificate (with --tls-key)"},
			&cli.StringFlag{Name: "tls-key", Destination: &cfg.tlsKey, Usage: "the PEM private key of --tls-cert"},
			&cli.StringFlag{Name: "schema-version", Value: sqlstore.SchemaMLflow3, Destination: &cfg.schemaVersion, EnvVars: []string{"HOUSING_SCHEMA_VERSION"},
				Usage: "the MLflow schema a new, empty database gets: " + sqlstore.SchemaMLflow3 + " (MLflow 3.11.1's, which MLflow 3 servers open) or " + sqlstore.SchemaMLflow2 +
					" (MLflow 2.17.2's, for a database MLflow 2.x servers share: logged models are off on it); an existing database keeps its own (see db upgrade)"},
			&cli.StringFlag{Name: "multipart-signing-key", Destination: &cfg.partSigningKey, EnvVars: []string{"HOUSING_MULTIPART_SIGNING_KEY"},
				Usage: "secret (16+ bytes) that signs multipart part URLs for a local artifacts destination; default a random key per process, so URLs die with it and replicas cannot share them"},
			&cli.StringFlag{Name: "ui-csrf-key", Destination: &cfg.uiCSRFKey, EnvVars: []string{"HOUSING_UI_CSRF_KEY"},
				Usage: "secret (16+ bytes) that signs the web UI's form tokens; default a random key per process, so behind one Service with several replicas a form shown by one is refused by the others: give them all the same key"},
		},
		HideHelpCommand: true,
		Commands: []*cli.Command{{
			Name:  "db",
			Usage: "manage the backend store's database",
			Subcommands: []*cli.Command{{
				Name:      "upgrade",
				Usage:     "migrate a database at MLflow 2.17.2's schema (Alembic revision " + sqlstore.RevisionMLflow2 + ") in place to MLflow 3.11.1's (" + sqlstore.RevisionMLflow3 + "), every row kept, as MLflow 3.11.1's `mlflow db upgrade` does; back it up first: MLflow servers 2.x cannot open it afterwards",
				ArgsUsage: "<database-uri>",
				Action: func(c *cli.Context) error {
					if c.NArg() != 1 {
						return cli.Exit("usage: tracking-server db upgrade <database-uri>", 2)
					}
					logger := slog.New(slog.NewTextHandler(stderr, nil))
					from, err := sqlstore.Upgrade(c.Context, c.Args().First(), logger)
					if err != nil {
						return err
					}
					if from == sqlstore.RevisionMLflow3 {
						fmt.Fprintf(stdout, "the database is already at MLflow 3.11.1's schema (%s)\n", from)
					} else {
						fmt.Fprintf(stdout, "upgraded the database from %s to %s (MLflow 3.11.1's schema)\n", from, sqlstore.RevisionMLflow3)
					}
					return nil
				},
			}},
		}},
		Action: func(c *cli.Context) error {
			if err := applyEnv(c, &cfg, getenv); err != nil {
				return err
			}
			if c.Bool("no-serve-artifacts") {
				cfg.serveArtifacts = false
			}
			logger := slog.New(slog.NewTextHandler(stderr, nil))
			return serve(c.Context, cfg, getenv, logger)
		},
	}
	return app.RunContext(ctx, args)
}

// applyEnv fills flags the command line left unset from MLflow's environment
// variables for `mlflow server`.
func applyEnv(c *cli.Context, cfg *config, getenv func(string) string) error {
	str := map[string]*string{
		"backend-store-uri":       &cfg.backendStoreURI,
		"default-artifact-root":   &cfg.defaultArtifactRoot,
		"artifacts-destination":   &cfg.artifactsDestination,
		"host":                    &cfg.host,
		"auth-db-uri":             &cfg.authDBURI,
		"auth-admin-username":     &cfg.authAdminUser,
		"auth-admin-password":     &cfg.authAdminPassword,
		"auth-default-permission": &cfg.authDefault,
	}
	for flag, dst := range str {
		if v := getenv(envName(flag)); v != "" && !c.IsSet(flag) {
			*dst = v
		}
	}
	ints := map[string]*int{"port": &cfg.port, "workers": &cfg.workers}
	for flag, dst := range ints {
		if v := getenv(envName(flag)); v != "" && !c.IsSet(flag) {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s=%q is not a number", envName(flag), v)
			}
			*dst = n
		}
	}
	if v := getenv("MLFLOW_SERVE_ARTIFACTS"); v != "" && !c.IsSet("serve-artifacts") && !c.IsSet("no-serve-artifacts") {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("MLFLOW_SERVE_ARTIFACTS=%q is not a boolean", v)
		}
		cfg.serveArtifacts = b
	}
	return nil
}

// envName is the MLflow environment variable of a flag: MLFLOW_BACKEND_STORE_URI, ...
func envName(flag string) string {
	b := []byte("MLFLOW_" + flag)
	for i, c := range b {
		switch {
		case c == '-':
			b[i] = '_'
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// serve opens the stores, listens and serves until ctx is done, then drains
// in-flight requests.
func serve(ctx context.Context, cfg config, getenv func(string) string, logger *slog.Logger) error {
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if n := len(cfg.partSigningKey); n > 0 && n < 16 {
		return fmt.Errorf("--multipart-signing-key is %d bytes; use at least 16", n)
	}
	if n := len(cfg.uiCSRFKey); n > 0 && n < 16 {
		return fmt.Errorf("--ui-csrf-key is %d bytes; use at least 16", n)
	}
	if cfg.workers > 1 {
		logger.Info("--workers is ignored: one process serves all requests concurrently", "workers", cfg.workers)
	}
	root := cfg.defaultArtifactRoot
	if root == "" {
		root = "./mlruns"
		if cfg.serveArtifacts {
			root = "mlflow-artifacts:/"
		}
	}

	var repo tracking.ArtifactRepository
	if cfg.serveArtifacts {
		r, err := artifacts.Open(ctx, cfg.artifactsDestination, artifacts.Options{Getenv: getenv})
		if err != nil {
			return fmt.Errorf("artifacts destination %s: %w", redact(cfg.artifactsDestination), err)
		}
		repo = r
	}

	var sources *regexp.Regexp
	if expr := getenv("MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX"); expr != "" {
		// Go's RE2 syntax, which is Python's for the usual patterns; one it
		// cannot read stops the server rather than letting every source through.
		var err error
		if sources, err = regexp.Compile(expr); err != nil {
			return fmt.Errorf("MLFLOW_CREATE_MODEL_VERSION_SOURCE_VALIDATION_REGEX: %w", err)
		}
	}
	openCtx, cancel := context.WithTimeout(ctx, openTimeout)
	store, err := openBackend(openCtx, cfg.backendStoreURI, root, cfg.schemaVersion, getenv, logger)
	cancel()
	if err != nil {
		return fmt.Errorf("backend store %s: %w", redact(cfg.backendStoreURI), err)
	}
	defer store.Close()

	var authStore *auth.Store
	switch cfg.appName {
	case "":
	case "basic-auth":
		uri := cfg.authDBURI
		if uri == "" {
			uri = cfg.backendStoreURI
		}
		defPerm, err := auth.ParsePermission(cfg.authDefault)
		if err != nil {
			return fmt.Errorf("--auth-default-permission: %w", err)
		}
		octx, cancel := context.WithTimeout(ctx, openTimeout)
		authStore, err = auth.Open(octx, uri, auth.Options{})
		if err == nil {
			var created bool
			if created, err = authStore.EnsureAdmin(octx, cfg.authAdminUser, cfg.authAdminPassword); created {
				logger.Info("created the admin user", "username", cfg.authAdminUser)
			}
		}
		cancel()
		if err != nil {
			return fmt.Errorf("auth database %s: %w", redact(uri), err)
		}
		defer authStore.Close()
		cfg.authDefault = string(defPerm)
	default:
		return fmt.Errorf("--app-name %q: the only app is basic-auth", cfg.appName)
	}

	addr := net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using the port? --port 0 picks a free one)", addr, err)
	}

	openRepo := func(ctx context.Context, uri string) (tracking.ArtifactRepository, error) {
		return artifacts.Open(ctx, uri, artifacts.Options{Getenv: getenv})
	}
	// With auth, the API and the UI serve the guarded store, so that searches,
	// lists and pages show each user only what they may read.
	var backend tracking.Store = store
	authOpts := auth.HandlerOptions{DefaultPermission: auth.Permission(cfg.authDefault), Logger: logger}
	uiOpts := ui.Options{Logger: logger}
	if k := cfg.uiCSRFKey; k != "" {
		uiOpts.CSRFKey = []byte(k)
	}
	if authStore != nil {
		backend = authStore.Guard(store, authOpts)
		uiOpts.ModelAccess = authStore.ModelAccess(authOpts)
	}
	traces, _ := store.(tracking.TraceStore)
	storeType := ""
	if _, ok := store.(*sqlstore.Store); ok {
		storeType = "SqlStore"
	}
	loggedModels, _ := store.(tracking.LoggedModelStore)
	uiOpts.LoggedModels = loggedModels
	// The store itself, not the guarded one (which hides it): the runs table
	// counts nested runs only in an experiment it has read through the guard.
	uiOpts.NestedRuns, _ = store.(tracking.NestedRunCounter)
	authOpts.LoggedModels = loggedModels // logged models have their experiment's permissions
	var multipart server.MultipartOptions
	if k := cfg.partSigningKey; k != "" {
		multipart.SigningKey = []byte(k)
	}
	handler := server.New(backend, repo, server.Options{
		Logger:                 logger,
		Multipart:              multipart,
		OpenArtifactRepository: openRepo,
		UI:                     ui.New(backend, runArtifacts(repo, openRepo), uiOpts),
		// The SQL store itself, not the guarded one: with auth, the trace
		// routes are among those auth's handler leaves to administrators.
		// A REST backend (http://) keeps no traces.
		Traces:              traces,
		LoggedModels:        loggedModels,
		DeploymentsTarget:   getenv("MLFLOW_DEPLOYMENTS_TARGET"),
		StoreType:           storeType,
		ModelVersionSources: sources,
	})
	if authStore != nil {
		handler = authStore.Handler(handler, store, authOpts)
	} else if !isLoopback(ln.Addr()) {
		logger.Warn("listening on a non-loopback address without authentication: anyone who can reach it can read and change everything; use --app-name basic-auth",
			"addr", ln.Addr().String())
	}
	scheme := "http"
	if cfg.tlsCert != "" {
		scheme = "https"
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	logger.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String(), "auth", authStore != nil,
		"backend_store_uri", redact(cfg.backendStoreURI), "default_artifact_root", root,
		"serve_artifacts", cfg.serveArtifacts, "artifacts_destination", redact(cfg.artifactsDestination))

	served := make(chan error, 1)
	go func() {
		if cfg.tlsCert != "" {
			served <- srv.ServeTLS(ln, cfg.tlsCert, cfg.tlsKey)
			return
		}
		served <- srv.Serve(ln)
	}()
	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining in-flight requests", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	logger.Info("stopped")
	return nil
}

// openBackend opens the backend store: a database, or, for an http(s):// URI,
// another tracking server reached through the REST client (as MLflow's Flask
// app accepts a REST store), with the client settings of the environment
// (MLFLOW_TRACKING_USERNAME, ...). root is the default artifact root of a
// database's new experiments, and schemaVersion the schema of a new database;
// a server keeps its own.
func openBackend(ctx context.Context, uri, root, schemaVersion string, getenv func(string) string, logger *slog.Logger) (tracking.Store, error) {
	scheme, _, _ := strings.Cut(strings.ToLower(uri), ":")
	if scheme != "http" && scheme != "https" {
		return sqlstore.Open(ctx, uri, sqlstore.Options{DefaultArtifactRoot: root, Logger: logger, SchemaVersion: schemaVersion})
	}
	copt, err := client.OptionsFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	b, err := dial.Open(ctx, uri, dial.Options{Client: copt, Getenv: getenv, Logger: logger})
	if err != nil {
		return nil, err
	}
	return b.Store, nil
}

// isLoopback reports whether addr is a loopback address (127.0.0.0/8, ::1).
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// redact hides the password of a URI for logs and messages.
func redact(uri string) string {
	u, err := url.Parse(uri)
	if err != nil || u.User == nil {
		return uri
	}
	return u.Redacted()
}

// runArtifacts opens the repository of a run's artifact URI for the web UI: an
// mlflow-artifacts:/ URI is a part of the proxied store (nil when the server does
// not serve artifacts), anything else is opened by its scheme.
func runArtifacts(proxied tracking.ArtifactRepository, open ui.ArtifactOpener) ui.ArtifactOpener {
	return func(ctx context.Context, uri string) (tracking.ArtifactRepository, error) {
		rest, ok := strings.CutPrefix(uri, "mlflow-artifacts:")
		if !ok {
			return open(ctx, uri)
		}
		if proxied == nil {
			return nil, tracking.Errorf(tracking.ErrTemporarilyUnavailable, "this server does not serve artifacts (--no-serve-artifacts), so %s cannot be read", uri)
		}
		if host, ok := strings.CutPrefix(rest, "//"); ok {
			_, rest, _ = strings.Cut(host, "/")
		}
		return artifacts.Sub(proxied, strings.TrimPrefix(rest, "/"))
	}
}
