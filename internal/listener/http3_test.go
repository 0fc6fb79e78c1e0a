package listener

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/strata-cdn/strata/internal/testutil"
)

// syncLog collects log output written from the server's goroutines.
type syncLog struct {
	ch chan string
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.ch <- string(p)
	return len(p), nil
}

// A QUIC handshake for a name whose distribution does not offer HTTP/3 is
// refused with the TLS alert no_application_protocol, and the log says
// why; a name that offers it is served over HTTP/3.
func TestHTTP3RefusedWithALPNAlert(t *testing.T) {
	cert, pool := testutil.TLSCert(t, "127.0.0.1")
	logs := &syncLog{ch: make(chan string, 100)}
	s, err := New(Options{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "over "+r.Proto) }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		HTTP3:     func(name string) bool { return name != "no-h3.example" },
		Logger:    slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go s.ServeQUIC(pc)
	t.Cleanup(func() { s.Close() })
	addr := pc.LocalAddr().String()
	get := func(serverName string) (string, error) {
		tr := &http3.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName, InsecureSkipVerify: serverName != ""},
			QUICConfig:      &quic.Config{HandshakeIdleTimeout: 5 * time.Second},
			Dial: func(ctx context.Context, _ string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
				return quic.DialAddrEarly(ctx, addr, tc, qc)
			},
		}
		defer tr.Close()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://127.0.0.1/")
		if err != nil {
			return "", err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b), err
	}

	if body, err := get(""); err != nil || body != "over HTTP/3.0" {
		t.Fatalf("a name that offers HTTP/3: %q %v", body, err)
	}

	_, err = get("no-h3.example")
	var te *quic.TransportError
	const noApplicationProtocol = 120 // RFC 8446 §6.2; a QUIC CRYPTO_ERROR is 0x100 + the alert
	if !errors.As(err, &te) || te.ErrorCode != quic.TransportErrorCode(0x100+noApplicationProtocol) || !te.Remote {
		t.Fatalf("handshake for a name without HTTP/3: %v, want the alert no_application_protocol from the server", err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l := <-logs.ch:
			if strings.Contains(l, "HTTP/3 handshake refused") && strings.Contains(l, "sni=no-h3.example") && strings.Contains(l, "does not offer HTTP/3") {
				return
			}
		case <-deadline:
			t.Fatal("no log line says why the handshake was refused")
		}
	}
}
