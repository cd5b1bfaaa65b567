package reliability_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlops-lab/housing/tracking"
	"github.com/mlops-lab/housing/tracking/client"
	"github.com/mlops-lab/housing/tracking/wire"
)

// TestBinaryWithAuthAndTLS runs the real binary with --app-name basic-auth and a
// certificate: the admin comes from the environment on first start, the real
// client gets in over HTTPS with MLflow's credentials, requests without them get
// 401, and plain HTTP is not served.
func TestBinaryWithAuthAndTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	p := startServerProcess(t, []string{"MLFLOW_AUTH_ADMIN_PASSWORD=s3cret-admin"},
		"--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"), "--artifacts-destination", filepath.Join(dir, "mlartifacts"),
		"--app-name", "basic-auth", "--tls-cert", cert, "--tls-key", key)
	base := strings.Replace(p.url, "http://", "https://", 1)
	if !strings.Contains(p.log.String(), "created the admin user") {
		t.Errorf("no admin created on first start:\n%s", p.log.String())
	}
	ctx := context.Background()
	c := newClient(t, base, client.Options{Username: "admin", Password: "s3cret-admin", InsecureTLS: true, MaxRetries: -1})
	if _, err := c.CreateExperiment(ctx, "over-tls", "", nil); err != nil {
		t.Fatalf("admin over HTTPS: %v", err)
	}
	anon := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	resp, err := anon.Get(base + wire.PathSearchExperiments)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no credentials over HTTPS: %s, want 401 with a challenge", resp.Status)
	}
	wrong := newClient(t, base, client.Options{Username: "admin", Password: "guess", InsecureTLS: true, MaxRetries: -1})
	if _, err := wrong.SearchExperiments(ctx, tracking.ExperimentQuery{}); tracking.ErrorCodeOf(err) != tracking.ErrUnauthenticated {
		t.Errorf("wrong password: %v, want UNAUTHENTICATED", err)
	}
	if resp, err := http.Get(p.url + wire.PathHealth); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP served on the TLS port")
		}
	}
}

// selfSigned writes a certificate and key for 127.0.0.1 into dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
