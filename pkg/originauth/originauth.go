// Package originauth is what the owner of a custom origin puts in front of
// their server so that it answers only requests that Strata signed: the
// counterpart, for any HTTP server, of CloudFront's origin access control.
//
// Strata signs each request to the origin with AWS Signature Version 4
// (package sigv4) using an access key id and secret shared with the origin.
// The Handler checks the signature, the credential scope (region and
// service), the time (within MaxSkew of the origin's clock) and, when the
// request declares a body hash, the body as it is read; anything else gets
// 403 Forbidden with a one-line reason:
//
//	keys := map[string]string{"strata-origin-1": os.Getenv("STRATA_ORIGIN_SECRET")}
//	mux := http.NewServeMux()
//	mux.Handle("/", http.FileServer(http.Dir("/srv/www")))
//	h := originauth.Handler(mux, originauth.Options{Keys: keys})
//	log.Fatal(http.ListenAndServe(":8080", h))
//
// To rotate a key, give Keys both the old and the new key, move Strata to the
// new one, then drop the old one.
//
// Put the Handler where requests arrive with the Host, path and query Strata
// sent: a proxy in front of it that rewrites any of them breaks every
// signature. A signed request can be replayed unchanged within MaxSkew (as
// with AWS); any change to its method, host, path, query or signed headers is
// refused.
package originauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/strata-cdn/strata/pkg/sigv4"
)

// Defaults for the zero values of Options.
const (
	DefaultRegion  = "us-east-1"
	DefaultService = "strata"
	DefaultMaxSkew = 15 * time.Minute
)

// Options configure a Verifier. Only Keys is required.
type Options struct {
	// Keys maps access key ids to secret access keys. Every key listed is
	// accepted; list two while rotating from one to the other.
	Keys map[string]string
	// Region is the signing region Strata uses for this origin; if blank,
	// DefaultRegion.
	Region string
	// Service is the signing service name; if blank, DefaultService.
	Service string
	// MaxSkew is how far X-Amz-Date may be from Now, either way; if zero,
	// DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the clock; if nil, time.Now.
	Now func() time.Time
	// OnRefuse, if set, is called with every refused request and why (an
	// *sigv4.Error), before the 403 is written; for logging.
	OnRefuse func(r *http.Request, err error)
}

// Verifier checks requests against a fixed set of keys. It is safe for
// concurrent use.
type Verifier struct {
	keys     map[string]string
	region   string
	service  string
	maxSkew  time.Duration
	now      func() time.Time
	onRefuse func(*http.Request, error)
}

// New validates o, applies the defaults and returns a Verifier. It copies
// o.Keys; later changes to the map have no effect.
func New(o Options) (*Verifier, error) {
	var errs []error
	if len(o.Keys) == 0 {
		errs = append(errs, errors.New("Options.Keys: no keys; give at least one access key id and its secret"))
	}
	keys := make(map[string]string, len(o.Keys))
	for id, secret := range o.Keys {
		if !validName(id) {
			errs = append(errs, fmt.Errorf("Options.Keys[%q]: an access key id must be non-empty printable ASCII without '/', ',', '=' or spaces", id))
		}
		if secret == "" {
			errs = append(errs, fmt.Errorf("Options.Keys[%q]: the secret is empty", id))
		}
		keys[id] = secret
	}
	v := &Verifier{keys: keys, region: o.Region, service: o.Service, maxSkew: o.MaxSkew, now: o.Now, onRefuse: o.OnRefuse}
	if v.region == "" {
		v.region = DefaultRegion
	} else if !validName(v.region) {
		errs = append(errs, fmt.Errorf("Options.Region: %q must be printable ASCII without '/', ',', '=' or spaces", v.region))
	}
	if v.service == "" {
		v.service = DefaultService
	} else if !validName(v.service) {
		errs = append(errs, fmt.Errorf("Options.Service: %q must be printable ASCII without '/', ',', '=' or spaces", v.service))
	}
	switch {
	case v.maxSkew < 0:
		errs = append(errs, fmt.Errorf("Options.MaxSkew: %s is negative", v.maxSkew))
	case v.maxSkew == 0:
		v.maxSkew = DefaultMaxSkew
	}
	if v.now == nil {
		v.now = time.Now
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("originauth: %w", errors.Join(errs...))
	}
	return v, nil
}

// Check verifies r (see sigv4.Verify) and returns nil or an *sigv4.Error.
// When r declares a body hash, Check replaces r.Body with a reader that fails
// with an *sigv4.Error if the body read does not match it.
func (v *Verifier) Check(r *http.Request) error {
	return sigv4.Verify(r, v.secret, v.region, v.service, v.now(), v.maxSkew)
}

func (v *Verifier) secret(id string) (string, bool) {
	s, ok := v.keys[id]
	return s, ok
}

// Handler returns a handler that passes requests that pass Check to next and
// answers the others 403 Forbidden, Content-Type text/plain, with the body
// "strata origin auth: <reason>" (a sigv4 Reason such as
// "signature-mismatch").
//
// A request whose body does not match its declared hash reaches next, which
// sees an error when it reads the body (see sigv4.Verify); next must treat
// that as a refusal.
func (v *Verifier) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := v.Check(r)
		if err == nil {
			next.ServeHTTP(w, r)
			return
		}
		if v.onRefuse != nil {
			v.onRefuse(r, err)
		}
		reason := "refused"
		var e *sigv4.Error
		if errors.As(err, &e) {
			reason = e.Reason
		}
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "strata origin auth: %s\n", reason)
	})
}

// Handler is New(o) and then Handler(next). It panics if o is not valid;
// use New to get the error instead.
func Handler(next http.Handler, o Options) http.Handler {
	v, err := New(o)
	if err != nil {
		panic(err)
	}
	return v.Handler(next)
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte("/,=", c) >= 0 {
			return false
		}
	}
	return true
}
