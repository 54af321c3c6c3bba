package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// tlsRegistry is a docker-registry serving HTTPS with a certificate of a CA
// the test made, and asking for a password (htpasswd).
type tlsRegistry struct {
	addr       string // 127.0.0.1:PORT
	caFile     string // the CA's certificate, PEM
	user, pass string
}

// startTLSRegistry runs docker-registry on a free loopback port with TLS (a
// fresh CA and a server certificate for 127.0.0.1) and htpasswd auth (a
// bcrypt entry), and returns once GET /v2/ answers 401 over verified TLS.
func startTLSRegistry(t *testing.T) *tlsRegistry {
	t.Helper()
	if _, err := os.Stat(dockerRegistryBin); err != nil {
		t.Fatalf("%s is missing: run \"apt-get install docker-registry\" (%v)", dockerRegistryBin, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &tlsRegistry{addr: l.Addr().String(), user: "ci", pass: "s3cret-pass"}
	l.Close()
	dir := t.TempDir()
	r.caFile = filepath.Join(dir, "ca.crt")
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	writeTestPKI(t, r.caFile, certFile, keyFile)
	hash, err := bcrypt.GenerateFromPassword([]byte(r.pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte(r.user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
auth:
  htpasswd:
    realm: strata-test
    path: %s
http:
  addr: %s
  tls:
    certificate: %s
    key: %s
`, filepath.Join(dir, "data"), htpasswd, r.addr, certFile, keyFile)
	pemCA, err := os.ReadFile(r.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemCA)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	serveRegistry(t, dir, conf, client, "https://"+r.addr+"/v2/", http.StatusUnauthorized) // no credentials yet
	return r
}

// writeTestPKI writes a fresh CA's certificate, and a server certificate
// for 127.0.0.1 it signed with its key.
func writeTestPKI(t *testing.T, caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "strata test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{caFile, "CERTIFICATE", caDER}, {certFile, "CERTIFICATE", srvDER}, {keyFile, "EC PRIVATE KEY", keyDER}} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
