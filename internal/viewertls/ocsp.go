package viewertls

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ocsp"
)

// OCSP stapling. A Stapler keeps, for each distinct certificate whose leaf
// names an OCSP server and whose chain carries the issuer (the second PEM
// block), a fresh OCSP response from that server, checked against the
// issuer, and serves the certificate with it through a Stapled's
// GetCertificate. One goroutine per certificate fetches the response
// again halfway between its thisUpdate and nextUpdate (at least every
// MaxRefresh), and every RetryInterval after a failure, keeping the last
// good response until its nextUpdate. A failure never breaks a handshake:
// the certificate is then served without a staple. A Revoked answer is
// logged at Error and not stapled.

// StaplerOptions configure a Stapler. Zero fields take the defaults.
type StaplerOptions struct {
	// Client fetches OCSP responses; default: a client with a 10 s timeout.
	Client *http.Client
	Logger *slog.Logger
	Now    func() time.Time
	// MaxRefresh bounds the time between two fetches of a good response
	// (default 1 h); MinRefresh is the least (default 1 min).
	MaxRefresh, MinRefresh time.Duration
	// RetryInterval is the wait after a failed fetch (default 5 min).
	RetryInterval time.Duration
}

// Default OCSP timings.
const (
	DefaultOCSPMaxRefresh    = time.Hour
	DefaultOCSPMinRefresh    = time.Minute
	DefaultOCSPRetryInterval = 5 * time.Minute
	// ocspClockSkew is how far in the future a thisUpdate may be.
	ocspClockSkew = 5 * time.Minute
	// maxOCSPResponse bounds the body read from a responder.
	maxOCSPResponse = 1 << 20
)

// A Stapler staples OCSP responses to certificates.
type Stapler struct {
	opts    StaplerOptions
	log     *slog.Logger
	mu      sync.Mutex
	entries map[[32]byte]*Stapled
	closed  bool
	wg      sync.WaitGroup
}

// NewStapler returns a Stapler; Close stops its goroutines.
func NewStapler(opts StaplerOptions) *Stapler {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRefresh <= 0 {
		opts.MaxRefresh = DefaultOCSPMaxRefresh
	}
	if opts.MinRefresh <= 0 {
		opts.MinRefresh = DefaultOCSPMinRefresh
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = DefaultOCSPRetryInterval
	}
	return &Stapler{opts: opts, log: opts.Logger, entries: map[[32]byte]*Stapled{}}
}

// Stapled is one certificate kept stapled by a Stapler.
type Stapled struct {
	s       *Stapler
	key     [32]byte
	leaf    *x509.Certificate
	issuer  *x509.Certificate
	bare    *tls.Certificate
	cur     atomic.Pointer[staple]
	refs    int // guarded by s.mu
	cancel  context.CancelFunc
	fetches atomic.Int64
}

// staple is an immutable certificate with its OCSP response.
type staple struct {
	cert    *tls.Certificate
	expires time.Time // the response's nextUpdate; zero: none
}

// Track starts stapling cert, or takes one more reference to the stapling
// already running for the same chain. It returns nil when cert cannot be
// stapled (its leaf names no OCSP server, or the chain has no issuer);
// serve such a certificate as it is. Each Stapled returned must be given
// back with Release.
func (s *Stapler) Track(cert *tls.Certificate) *Stapled {
	if cert == nil || cert.Leaf == nil || len(cert.Leaf.OCSPServer) == 0 {
		return nil
	}
	name := names(cert.Leaf)
	if len(cert.Certificate) < 2 {
		s.log.Warn("OCSP stapling off: the certificate file holds no issuer certificate after the leaf", "certificate", name)
		return nil
	}
	issuer, err := x509.ParseCertificate(cert.Certificate[1])
	if err == nil {
		err = cert.Leaf.CheckSignatureFrom(issuer)
	}
	if err != nil {
		s.log.Warn("OCSP stapling off: the second certificate of the chain is not the leaf's issuer", "certificate", name, "err", err)
		return nil
	}
	h := sha256.New()
	for _, der := range cert.Certificate {
		h.Write(der)
	}
	var key [32]byte
	h.Sum(key[:0])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if e := s.entries[key]; e != nil {
		e.refs++
		return e
	}
	e := &Stapled{s: s, key: key, leaf: cert.Leaf, issuer: issuer, bare: cert, refs: 1}
	e.cur.Store(&staple{cert: cert})
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	s.entries[key] = e
	s.wg.Add(1)
	go e.run(ctx)
	return e
}

// Release gives back a reference taken by Track; the last one stops the
// refreshing (the certificate is still served as it was).
func (e *Stapled) Release() {
	if e == nil {
		return
	}
	s := e.s
	s.mu.Lock()
	defer s.mu.Unlock()
	e.refs--
	if e.refs == 0 {
		e.cancel()
		if s.entries[e.key] == e {
			delete(s.entries, e.key)
		}
	}
}

// Close stops every refreshing goroutine and waits for them.
func (s *Stapler) Close() {
	s.mu.Lock()
	s.closed = true
	for k, e := range s.entries {
		e.cancel()
		delete(s.entries, k)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Tracking is the number of certificates being kept stapled.
func (s *Stapler) Tracking() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// GetCertificate is for tls.Config.GetCertificate: the certificate with
// its current OCSP response, or without one if there is none or it has
// passed its nextUpdate.
func (e *Stapled) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return e.Certificate(), nil
}

// Certificate is the certificate as served now.
func (e *Stapled) Certificate() *tls.Certificate {
	st := e.cur.Load()
	if !st.expires.IsZero() && !e.s.opts.Now().Before(st.expires) {
		return e.bare
	}
	return st.cert
}

// Fetches counts the fetches done so far, good or not (each asks the
// servers in turn, then updates the staple).
func (e *Stapled) Fetches() int64 { return e.fetches.Load() }

func (e *Stapled) run(ctx context.Context) {
	defer e.s.wg.Done()
	log := e.s.log.With("certificate", names(e.leaf), "serial", e.leaf.SerialNumber.String())
	failing := false
	for {
		resp, der, err := e.fetch(ctx)
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		now := e.s.opts.Now()
		switch {
		case err != nil:
			if !failing {
				log.Warn("OCSP staple not refreshed; served without one once the last response expires", "err", err)
			} else {
				log.Debug("OCSP staple still not refreshed", "err", err)
			}
			failing = true
			// Keep the last good response until its nextUpdate.
			if st := e.cur.Load(); !st.expires.IsZero() && !now.Before(st.expires) {
				e.cur.Store(&staple{cert: e.bare})
			}
			wait = e.s.opts.RetryInterval
		case resp.Status == ocsp.Revoked:
			log.Error("OCSP responder says the certificate is revoked; serving it without a staple",
				"revokedAt", resp.RevokedAt, "reason", resp.RevocationReason)
			e.cur.Store(&staple{cert: e.bare})
			failing = false
			wait = e.refreshAfter(resp, now)
		default: // Good
			if failing {
				log.Info("OCSP staple refreshed again")
			}
			failing = false
			c := *e.bare
			c.OCSPStaple = der
			e.cur.Store(&staple{cert: &c, expires: resp.NextUpdate})
			wait = e.refreshAfter(resp, now)
		}
		e.fetches.Add(1)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// refreshAfter is the wait before the next fetch after resp: halfway to
// its nextUpdate, within [MinRefresh, MaxRefresh].
func (e *Stapled) refreshAfter(resp *ocsp.Response, now time.Time) time.Duration {
	wait := e.s.opts.MaxRefresh
	if !resp.NextUpdate.IsZero() {
		if half := resp.ThisUpdate.Add(resp.NextUpdate.Sub(resp.ThisUpdate) / 2).Sub(now); half < wait {
			wait = half
		}
	}
	return max(wait, e.s.opts.MinRefresh)
}

// fetch asks the leaf's OCSP servers in turn and returns the first
// response that checks out: Good or Revoked, signed for this certificate
// by its issuer (or a responder the issuer delegated), current.
func (e *Stapled) fetch(ctx context.Context) (*ocsp.Response, []byte, error) {
	req, err := ocsp.CreateRequest(e.leaf, e.issuer, nil)
	if err != nil {
		return nil, nil, err
	}
	var errs []error
	for _, server := range e.leaf.OCSPServer {
		der, err := e.ask(ctx, server, req)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		resp, err := ocsp.ParseResponseForCert(der, e.leaf, e.issuer)
		if err == nil {
			err = e.check(resp)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", server, err))
			continue
		}
		return resp, der, nil
	}
	return nil, nil, errors.Join(errs...)
}

func (e *Stapled) check(resp *ocsp.Response) error {
	now := e.s.opts.Now()
	switch {
	case resp.Status == ocsp.Unknown:
		return errors.New("the responder does not know the certificate (status unknown)")
	case resp.Status != ocsp.Good && resp.Status != ocsp.Revoked:
		return fmt.Errorf("status %d", resp.Status)
	case resp.SerialNumber == nil || resp.SerialNumber.Cmp(e.leaf.SerialNumber) != 0:
		return errors.New("the response is for another serial number")
	case resp.ThisUpdate.After(now.Add(ocspClockSkew)):
		return fmt.Errorf("thisUpdate %s is in the future", resp.ThisUpdate.Format(time.RFC3339))
	case !resp.NextUpdate.IsZero() && !resp.NextUpdate.After(resp.ThisUpdate):
		return errors.New("nextUpdate is not after thisUpdate")
	case !resp.NextUpdate.IsZero() && !now.Before(resp.NextUpdate):
		return fmt.Errorf("expired: nextUpdate %s has passed", resp.NextUpdate.Format(time.RFC3339))
	}
	return nil
}

// ask sends the request to one server: GET when the encoded request
// keeps the URL within 255 bytes (RFC 5019 §5, cacheable), else POST
// (RFC 6960 appendix A).
func (e *Stapled) ask(ctx context.Context, server string, req []byte) ([]byte, error) {
	var hr *http.Request
	var err error
	get := strings.TrimSuffix(server, "/") + "/" + url.PathEscape(base64.StdEncoding.EncodeToString(req))
	if len(get) <= 255 {
		hr, err = http.NewRequestWithContext(ctx, http.MethodGet, get, nil)
	} else {
		hr, err = http.NewRequestWithContext(ctx, http.MethodPost, server, bytes.NewReader(req))
		if err == nil {
			hr.Header.Set("Content-Type", "application/ocsp-request")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("OCSP server %q: %w", server, err)
	}
	hr.Header.Set("Accept", "application/ocsp-response")
	res, err := e.s.opts.Client.Do(hr)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP status %s", server, res.Status)
	}
	der, err := io.ReadAll(io.LimitReader(res.Body, maxOCSPResponse+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", server, err)
	}
	if len(der) > maxOCSPResponse {
		return nil, fmt.Errorf("%s: response larger than %d bytes", server, maxOCSPResponse)
	}
	return der, nil
}
