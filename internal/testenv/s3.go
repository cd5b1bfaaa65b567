package testenv

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// The credentials the lab's MinIO uses; versitygw is started with the same.
const (
	S3AccessKey = "minio"
	S3SecretKey = "minio123"
	S3Region    = "us-east-1"
)

// S3Server is a running versitygw S3 server for tests.
type S3Server struct {
	Endpoint  string // host:port, no scheme
	AccessKey string
	SecretKey string
	Region    string
	Dir       string
	cmd       *exec.Cmd
}

// URL returns the endpoint as MLFLOW_S3_ENDPOINT_URL takes it.
func (s *S3Server) URL() string { return "http://" + s.Endpoint }

// Env returns the environment variables an MLflow client needs to reach this server.
func (s *S3Server) Env() map[string]string {
	return map[string]string{
		"MLFLOW_S3_ENDPOINT_URL": s.URL(),
		"AWS_ACCESS_KEY_ID":      s.AccessKey,
		"AWS_SECRET_ACCESS_KEY":  s.SecretKey,
		"AWS_DEFAULT_REGION":     s.Region,
	}
}

// Client returns a minio-go client for this server.
func (s *S3Server) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: false,
		Region: s.Region,
	})
}

// Stop stops the server (it can be started again with Restart).
func (s *S3Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts a stopped server again on the same port and directory.
func (s *S3Server) Restart(ctx context.Context) error {
	return s.start(ctx)
}

// VersitygwPath finds the versitygw binary: $HOUSING_VERSITYGW, PATH, or $GOPATH/bin.
func VersitygwPath() (string, error) {
	if p := os.Getenv("HOUSING_VERSITYGW"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	home, _ := os.UserHomeDir()
	for _, p := range []string{filepath.Join(os.Getenv("GOPATH"), "bin", "versitygw"), filepath.Join(home, "go", "bin", "versitygw")} {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw not found (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
}

// StartS3 starts versitygw with a posix back end in a new temporary directory on
// 127.0.0.1 and returns once it answers. The server dies with the calling process.
func StartS3(ctx context.Context) (*S3Server, error) {
	dir, err := os.MkdirTemp("", "housing-s3-")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	s := &S3Server{Endpoint: "127.0.0.1:" + strconv.Itoa(port), AccessKey: S3AccessKey, SecretKey: S3SecretKey, Region: S3Region, Dir: dir}
	if err := s.start(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *S3Server) start(ctx context.Context) error {
	bin, err := VersitygwPath()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "--access", s.AccessKey, "--secret", s.SecretKey,
		"--region", s.Region, "--port", s.Endpoint, "posix", s.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logFile, err := os.OpenFile(s.Dir+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.URL() + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.Stop()
			log, _ := os.ReadFile(s.Dir + ".log")
			return fmt.Errorf("versitygw on %s not ready: %v\n%s", s.Endpoint, err, log)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

var (
	s3Once    sync.Once
	s3Server  *S3Server
	s3Err     error
	bucketSeq atomic.Int64
)

// S3 returns the test binary's shared S3 server, starting it on first use; it
// skips or fails tb (see Unavailable) when versitygw cannot be started.
func S3(tb testing.TB) *S3Server {
	tb.Helper()
	s3Once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s3Server, s3Err = StartS3(ctx)
	})
	if s3Err != nil {
		Unavailable(tb, "S3 (versitygw): %v", s3Err)
	}
	return s3Server
}

// S3Bucket returns the shared S3 server and the name of a new, empty bucket on it.
func S3Bucket(tb testing.TB) (*S3Server, string) {
	tb.Helper()
	s := S3(tb)
	c, err := s.Client()
	if err != nil {
		tb.Fatalf("s3 client: %v", err)
	}
	name := fmt.Sprintf("test-%d-%d", os.Getpid(), bucketSeq.Add(1))
	if err := c.MakeBucket(context.Background(), name, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		tb.Fatalf("make bucket %s: %v", name, err)
	}
	return s, name
}
