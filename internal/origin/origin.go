// Package origin fetches from origins: custom HTTP(S) servers and S3
// buckets. An Origin turns a request whose URL holds only a path and query
// into a request to the origin's base URL, with the origin's custom headers,
// timeouts and connection attempts, signed with SigV4 when the origin has
// origin access control. A Group (group.go) is an origin group: a primary
// and a secondary it fails over to.
package origin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strata-cdn/strata/pkg/sigv4"
)

// Settings is what an Origin needs from the distribution config.
type Settings struct {
	ID                 string
	HTTPBase           string // scheme://host:port/originPath for viewers on http
	HTTPSBase          string // ... for viewers on https
	CustomHeaders      [][2]string
	ConnectionTimeout  time.Duration // default 10s
	ConnectionAttempts int           // default 3
	ReadTimeout        time.Duration // response (and between reads) timeout, default 30s
	KeepaliveTimeout   time.Duration // idle pooled connection lifetime, default 5s
	CABundle           string        // PEM file
	InsecureSkipVerify bool
	MinTLS             uint16
	// LocalAddr, if set, is the source address of origin connections
	// (egress; a loopback one binds only connections to loopback, BindEgress).
	LocalAddr string
	// Signing, if set, signs origin requests (origin access control).
	Signing *Signing
	// OwnHost: requests always carry the origin's Host, even when the
	// viewer's is forwarded (an S3 bucket is addressed by it).
	OwnHost bool
}

// Signing is origin access control: requests are signed with SigV4 for the
// credential scope Region/Service.
type Signing struct {
	// NoOverride leaves a request that carries the viewer's Authorization
	// as it is (CloudFront's no-override); otherwise every request is
	// signed and a viewer's Authorization replaced (always).
	NoOverride      bool
	Credentials     sigv4.Credentials
	Region, Service string
}

// Origin is one origin with its own connection pool.
type Origin struct {
	s         Settings
	httpBase  *url.URL
	httpsBase *url.URL
	transport *http.Transport
	netDialer *net.Dialer
}

// Error is a failure to get a response from an origin. Connect is true when
// nothing was sent (a retry elsewhere is safe).
type Error struct {
	Origin  string
	Connect bool
	Timeout bool
	Err     error
}

func (e *Error) Error() string {
	what := "request failed"
	switch {
	case e.Connect:
		what = "connection failed"
	case e.Timeout:
		what = "timed out"
	}
	return fmt.Sprintf("origin %s: %s: %v", e.Origin, what, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTransferCoding is a response framed with a transfer coding other than
// one chunked (gzip, chunked twice, identity): Go's HTTP client, like nginx,
// reads no other (RFC 9112 6.1, 7), so such a response cannot be relayed
// correctly and is refused whole.
var ErrTransferCoding = errors.New("origin used a transfer coding other than chunked")

// isTransferCodingErr recognizes net/http's refusal of a response's
// Transfer-Encoding (its error type is not exported).
func isTransferCodingErr(err error) bool {
	s := err.Error()
	return strings.Contains(s, "unsupported transfer encoding") || strings.Contains(s, "too many transfer encodings")
}

// New builds an origin and its transport.
func New(s Settings) (*Origin, error) {
	if s.ConnectionTimeout <= 0 {
		s.ConnectionTimeout = 10 * time.Second
	}
	if s.ConnectionAttempts <= 0 {
		s.ConnectionAttempts = 3
	}
	if s.ReadTimeout <= 0 {
		s.ReadTimeout = 30 * time.Second
	}
	if s.KeepaliveTimeout <= 0 {
		s.KeepaliveTimeout = 5 * time.Second
	}
	o := &Origin{s: s}
	var err error
	if o.httpBase, err = parseBase(s.HTTPBase); err != nil {
		return nil, fmt.Errorf("origin %s: %w", s.ID, err)
	}
	if o.httpsBase, err = parseBase(s.HTTPSBase); err != nil {
		return nil, fmt.Errorf("origin %s: %w", s.ID, err)
	}
	tlsConf := &tls.Config{MinVersion: s.MinTLS, InsecureSkipVerify: s.InsecureSkipVerify}
	if tlsConf.MinVersion == 0 {
		tlsConf.MinVersion = tls.VersionTLS12
	}
	if s.CABundle != "" {
		pem, err := os.ReadFile(s.CABundle)
		if err != nil {
			return nil, fmt.Errorf("origin %s: ca bundle: %w", s.ID, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("origin %s: ca bundle %s: no certificates", s.ID, s.CABundle)
		}
		tlsConf.RootCAs = pool
	}
	dialer := &net.Dialer{Timeout: s.ConnectionTimeout, KeepAlive: 30 * time.Second}
	if s.LocalAddr != "" {
		BindEgress(dialer, net.ParseIP(s.LocalAddr)) // egress.go
	}
	o.netDialer = dialer
	o.transport = &http.Transport{
		DialContext:           o.dialer(dialer),
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   s.ConnectionTimeout,
		ResponseHeaderTimeout: s.ReadTimeout,
		IdleConnTimeout:       s.KeepaliveTimeout,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		DisableCompression:    true, // bytes pass through as the origin sent them
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     false,
	}
	return o, nil
}

func parseBase(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("bad base URL %q", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// dialer makes ConnectionAttempts attempts, each bounded by the connection
// timeout, and wraps the connection so that every read has ReadTimeout.
func (o *Origin) dialer(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var last error
		for i := 0; i < o.s.ConnectionAttempts; i++ {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				return &readTimeoutConn{Conn: c, d: o.s.ReadTimeout}, nil
			}
			last = err
			if ctx.Err() != nil {
				break
			}
		}
		return nil, &Error{Origin: o.s.ID, Connect: true, Err: last}
	}
}

// readTimeoutConn bounds every read: an origin that stalls mid-body fails
// after ReadTimeout instead of hanging the fetch. While a request body is
// being sent, reads are not bounded: the origin's answer is due ReadTimeout
// after the request's last byte, however long the upload took (its pace is
// the viewer's, bounded on the viewer's side). A connection that switched
// protocols (101) is unbounded: its reader owns the idle timeout.
type readTimeoutConn struct {
	net.Conn
	d         time.Duration
	unbounded atomic.Bool
	headNext  atomic.Bool // a request was written: the next read begins a response head
	sending   atomic.Bool
}

func (c *readTimeoutConn) Read(p []byte) (int, error) {
	if !c.unbounded.Load() && !c.sending.Load() {
		c.Conn.SetReadDeadline(time.Now().Add(c.d))
	}
	n, err := c.Conn.Read(p)
	if n > 0 && c.headNext.Load() && !c.unbounded.Load() {
		c.headNext.Store(false)
		if faultyHTTP10(p[:n]) {
			return 0, errHTTP10TE
		}
	}
	return n, err
}

func (c *readTimeoutConn) Write(p []byte) (int, error) {
	c.headNext.Store(true)
	return c.Conn.Write(p)
}

// errHTTP10TE: an HTTP/1.0 response with a Transfer-Encoding field, whose
// framing RFC 9112 6.1 calls faulty; net/http would ignore the field and
// read the coded bytes to the end of the connection as the content.
var errHTTP10TE = fmt.Errorf("%w: an HTTP/1.0 response with Transfer-Encoding", ErrTransferCoding)

// faultyHTTP10 reports whether b, the first bytes read after a request was
// written, begin an HTTP/1.0 response head with a Transfer-Encoding field.
// It sees plain-HTTP connections only (under TLS these bytes are
// ciphertext), and a head whose first read ends before that field.
func faultyHTTP10(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("HTTP/1.0 ")) {
		return false
	}
	if end := bytes.Index(b, []byte("\r\n\r\n")); end >= 0 {
		b = b[:end]
	}
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		b = b[i+1:]
		if len(b) >= len("transfer-encoding:") && strings.EqualFold(string(b[:len("transfer-encoding:")]), "transfer-encoding:") {
			return true
		}
	}
}

// startSending lifts the bound of reads (a pending one included) while a
// request body goes out.
func (c *readTimeoutConn) startSending() {
	c.sending.Store(true)
	c.Conn.SetReadDeadline(time.Time{})
}

// sent restores it once the whole request is written: the answer is due
// ReadTimeout from now.
func (c *readTimeoutConn) sent() {
	c.sending.Store(false)
	if !c.unbounded.Load() {
		c.Conn.SetReadDeadline(time.Now().Add(c.d))
	}
}

// CloseWrite half-closes a TCP connection (the body of a 101 response
// passes it on).
func (c *readTimeoutConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// unbind stops bounding reads and clears the deadline the response head
// was read under.
func (c *readTimeoutConn) unbind() {
	c.unbounded.Store(true)
	c.Conn.SetReadDeadline(time.Time{})
}

// rawConn finds the readTimeoutConn under a connection the transport used
// (a *tls.Conn for https).
func rawConn(c net.Conn) *readTimeoutConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	rc, _ := c.(*readTimeoutConn)
	return rc
}

// ID is the origin's id.
func (o *Origin) ID() string { return o.s.ID }

// ConnectionTimeout is how long one connection attempt may take.
func (o *Origin) ConnectionTimeout() time.Duration { return o.s.ConnectionTimeout }

// Base returns the base URL used for a viewer that came over scheme.
func (o *Origin) Base(viewerScheme string) *url.URL {
	if viewerScheme == "https" && o.httpsBase != nil {
		return o.httpsBase
	}
	if o.httpBase != nil {
		return o.httpBase
	}
	return o.httpsBase
}

// Do sends req to the origin. req.URL holds the path and raw query as the
// viewer asked (after rewriting); the origin's base URL and path are applied
// here. keepHost leaves req.Host as set by the caller (the viewer's Host was
// forwarded); otherwise Host is the origin's.
//
// ReadTimeout bounds the wait for the response from the end of the request:
// the time a request body takes to send is not counted.
//
// A request with an Upgrade field may be answered 101 Switching Protocols:
// the response Body is then the connection (an io.ReadWriteCloser that can
// CloseWrite), and its reads are no longer bounded by ReadTimeout; the
// caller owns its idle timeout and must close it.
func (o *Origin) Do(req *http.Request, viewerScheme string, keepHost bool) (*http.Response, error) {
	base := o.Base(viewerScheme)
	u := *req.URL
	u.Scheme, u.Host = base.Scheme, base.Host
	u.Path = base.Path + req.URL.Path
	if req.URL.RawPath != "" {
		u.RawPath = base.Path + req.URL.RawPath
	}
	req.URL = &u
	if !keepHost || o.s.OwnHost {
		req.Host = base.Host
	}
	for _, h := range o.s.CustomHeaders {
		req.Header.Set(h[0], h[1])
	}
	if err := o.sign(req); err != nil {
		return nil, &Error{Origin: o.s.ID, Connect: true, Err: err}
	}
	var conn atomic.Pointer[readTimeoutConn]
	hasBody := req.Body != nil && req.Body != http.NoBody
	if len(req.Header["Upgrade"]) > 0 || hasBody {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) {
				c := rawConn(i.Conn)
				conn.Store(c)
				if hasBody && c != nil {
					c.startSending()
				}
			},
			WroteRequest: func(httptrace.WroteRequestInfo) {
				if c := conn.Load(); hasBody && c != nil {
					c.sent()
				}
			},
		}))
	}
	resp, err := o.transport.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusSwitchingProtocols {
		if c := conn.Load(); c != nil {
			c.unbind()
		}
	}
	if err != nil {
		var oe *Error
		if errors.As(err, &oe) {
			return nil, oe
		}
		if errors.Is(err, ErrTransferCoding) {
			return nil, &Error{Origin: o.s.ID, Err: err}
		}
		if isTransferCodingErr(err) {
			return nil, &Error{Origin: o.s.ID, Err: fmt.Errorf("%w: %v", ErrTransferCoding, err)}
		}
		var ne net.Error
		timeout := errors.As(err, &ne) && ne.Timeout()
		return nil, &Error{Origin: o.s.ID, Timeout: timeout, Err: err}
	}
	return resp, nil
}

// sign applies origin access control to a request ready to send. A body is
// not hashed (it streams): it goes as UNSIGNED-PAYLOAD, which S3 accepts
// over any transport.
func (o *Origin) sign(req *http.Request) error {
	sg := o.s.Signing
	if sg == nil {
		return nil
	}
	if sg.NoOverride && req.Header.Get("Authorization") != "" {
		return nil
	}
	req.Header.Del("Authorization")
	hash := sigv4.EmptyPayloadHash
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength != 0 {
		hash = sigv4.UnsignedPayload
	}
	return sigv4.Sign(req, sg.Credentials, sg.Region, sg.Service, time.Now(), hash)
}

// Close releases idle connections.
func (o *Origin) Close() { o.transport.CloseIdleConnections() }
