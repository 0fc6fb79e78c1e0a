package pop

import (
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/config"
)

// An HTTPS origin is verified against the CA bundle the origin names; without
// it the origin's certificate is refused.
func TestHTTPSOriginWithCABundle(t *testing.T) {
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "over TLS")
	}))
	defer origin.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: origin.Certificate().Raw}), 0o644)
	for _, tc := range []struct {
		name   string
		ca     string
		status int
	}{{"trusted", bundle, 200}, {"untrusted", "", 502}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(origin.URL, func(c *config.Config) {
				c.Distributions[0].Origins[0].CustomOriginConfig = &config.CustomOriginConfig{CABundle: tc.ca}
			})
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			p, err := New(cfg, Options{DefaultDistribution: "d", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			w := &world{t: t, url: serve(t, p), client: http.DefaultClient}
			if r := w.get("/x"); r.status != tc.status {
				t.Fatalf("status %d, want %d (%q)", r.status, tc.status, r.body)
			}
		})
	}
}

// An upload streams to the origin: memory does not grow with its size.
func TestUploadStreamsWithBoundedMemory(t *testing.T) {
	const size = 256 << 20
	var got int64
	// A counting origin of its own: the harness origin keeps bodies.
	counting := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		got, _ = io.Copy(io.Discard, r.Body)
		io.WriteString(rw, "stored")
	}))
	defer counting.Close()
	cfg := testConfig(counting.URL, nil)
	cfg.Validate()
	p, _ := New(cfg, Options{DefaultDistribution: "d", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer p.Close()
	url := serve(t, p)
	var resp *http.Response
	var err error
	grew := heapPeak(func() {
		req, _ := http.NewRequest(http.MethodPut, url+"/uploads/big.bin", io.LimitReader(zeros{}, size))
		req.ContentLength = size
		resp, err = http.DefaultClient.Do(req)
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got != size || !strings.Contains(string(b), "stored") {
		t.Fatalf("origin got %d bytes: %q", got, b)
	}
	if grew > 64<<20 {
		t.Fatalf("heap grew by %d MiB for a %d MiB upload", grew>>20, size>>20)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestMatchViewerThroughTiers: a match-viewer origin is asked over the
// protocol the viewer used at the edge, whatever tiers are between (the hop
// itself is plain HTTP), and hears that protocol in X-Forwarded-Proto.
func TestMatchViewerThroughTiers(t *testing.T) {
	answer := func(over string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=600")
			io.WriteString(w, "over "+over+" proto="+r.Header.Get("X-Forwarded-Proto"))
		}
	}
	plain := httptest.NewServer(answer("http"))
	defer plain.Close()
	secure := httptest.NewTLSServer(answer("https"))
	defer secure.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: secure.Certificate().Raw}), 0o644)
	port := func(u string) int { p, _ := strconv.Atoi(u[strings.LastIndexByte(u, ':')+1:]); return p }
	mutate := func(c *config.Config) {
		c.Distributions[0].Origins[0] = config.Origin{ID: "o", DomainName: "127.0.0.1", CustomOriginConfig: &config.CustomOriginConfig{
			HTTPPort: port(plain.URL), HTTPSPort: port(secure.URL), OriginProtocolPolicy: config.OriginProtocolMatchViewer, CABundle: bundle}}
	}
	eachTopology(t, netOpts{tls: true}, cacheable, mutate, func(t *testing.T, n *network) {
		if r := n.send(n.viewer, viewerReq{path: "/s", https: true}); r.status != 200 || r.body != "over https proto=https" {
			t.Fatalf("HTTPS viewer: %d %q", r.status, r.body)
		}
		if r := n.send(n.viewer, viewerReq{path: "/p"}); r.status != 200 || r.body != "over http proto=http" {
			t.Fatalf("HTTP viewer: %d %q", r.status, r.body)
		}
	})
}
