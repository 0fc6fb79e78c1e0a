// Package client is the typed client of the control plane's REST API
// (internal/control/API.md): resources (distributions, policies, public
// keys, key groups) with their ETags and If-Match, invalidations and the
// PoPs' status. An error response is an *Error carrying the API's stable
// code and message; a request that got no response is an
// *UnreachableError. The CLI speaks to the API through it.
package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/strata-cdn/strata/internal/control"
	"github.com/strata-cdn/strata/internal/control/wire"
)

// The resource collections of the API.
const (
	Distributions           = "distributions"
	CachePolicies           = "cache-policies"
	OriginRequestPolicies   = "origin-request-policies"
	ResponseHeadersPolicies = "response-headers-policies"
	PublicKeys              = "public-keys"
	KeyGroups               = "key-groups"
)

// MaxResponse bounds the body of a response the client reads.
const MaxResponse = 64 << 20

// Client speaks the control plane's REST API.
type Client struct {
	Base  string // e.g. http://127.0.0.1:8081, without a trailing "/"
	Token string // API token ("" = none sent)
	HTTP  *http.Client
}

// New returns a client of the API at base (http://host:port) sending
// token, with a 30 s timeout per request.
func New(base, token string) *Client {
	return &Client{Base: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Error is an error response of the API:
// {"code": "...", "message": "...", "errors": [{"path": "...", "message": "..."}]}.
type Error struct {
	Status  int          `json:"-"`
	Code    string       `json:"code"` // stable (internal/control/errors.go)
	Message string       `json:"message"`
	Errors  []FieldError `json:"errors"`
}

// FieldError is one invalid field of a rejected resource.
type FieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// decodeError makes an *Error of an error response, also of one that is
// not the API's JSON (a proxy's error page, say).
func decodeError(status int, body []byte) *Error {
	e := &Error{}
	if err := json.Unmarshal(body, e); err != nil || e.Code == "" {
		e = &Error{Code: fmt.Sprintf("HTTP %d", status), Message: http.StatusText(status)}
		if s := strings.TrimSpace(string(body)); s != "" && len(s) <= 200 && !strings.ContainsAny(s, "\n<") {
			e.Message = s
		}
	}
	e.Status = status
	return e
}

// UnreachableError is a request that got no (complete) response.
type UnreachableError struct {
	Base string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the control plane at %s: %v", e.Base, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Do sends a request and returns the response's status, header and body.
// body is nil, raw JSON ([]byte or json.RawMessage) or a value to encode
// as JSON; ifMatch, when not empty, is sent as If-Match. A response with a
// status of 400 or more is returned with an *Error; a request that got no
// response, with an *UnreachableError.
func (c *Client) Do(method, path string, body any, ifMatch string) (status int, h http.Header, data []byte, err error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case json.RawMessage:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, nil, &UnreachableError{Base: c.Base, Err: err}
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(io.LimitReader(resp.Body, MaxResponse))
	if err != nil {
		return resp.StatusCode, resp.Header, nil, &UnreachableError{Base: c.Base, Err: err}
	}
	if resp.StatusCode >= 400 {
		return resp.StatusCode, resp.Header, data, decodeError(resp.StatusCode, data)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// GetJSON GETs path and decodes the body into v (unless nil); it returns
// the raw body and the ETag too.
func (c *Client) GetJSON(path string, v any) (data []byte, etag string, err error) {
	_, h, data, err := c.Do(http.MethodGet, path, nil, "")
	if err != nil {
		return nil, "", err
	}
	etag = h.Get("ETag")
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			return nil, "", fmt.Errorf("GET %s: unexpected response: %v", path, err)
		}
	}
	return data, etag, nil
}

// Warnings returns the texts of a response's Warning headers
// (`299 - "text"`): the fields set but not yet acted on.
func Warnings(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Warning") {
		if i := strings.IndexByte(v, '"'); i >= 0 {
			if t, err := strconv.Unquote(v[i:]); err == nil {
				v = t
			}
		}
		out = append(out, v)
	}
	return out
}

// Result is what a write returned: the resource as stored (raw JSON), its
// ETag and the API's warnings.
type Result struct {
	Body     []byte
	ETag     string
	Warnings []string
}

// ItemPath is the path of resource id of collection.
func ItemPath(collection, id string) string {
	return "/" + collection + "/" + url.PathEscape(id)
}

// List decodes the resources of collection into v ({"items": […]}).
func (c *Client) List(collection string, v any) ([]byte, error) {
	data, _, err := c.GetJSON("/"+collection, v)
	return data, err
}

// Get decodes resource id of collection into v and returns its ETag.
func (c *Client) Get(collection, id string, v any) (etag string, err error) {
	_, etag, err = c.GetJSON(ItemPath(collection, id), v)
	return etag, err
}

// Create creates a resource of collection from v (a value or raw JSON).
func (c *Client) Create(collection string, v any) (Result, error) {
	return c.write(http.MethodPost, "/"+collection, v, "")
}

// Update replaces resource id of collection with v; ifMatch (its ETag)
// makes the API refuse it if the resource changed since ("" = no check).
func (c *Client) Update(collection, id string, v any, ifMatch string) (Result, error) {
	return c.write(http.MethodPut, ItemPath(collection, id), v, ifMatch)
}

// Delete deletes resource id of collection, if it is still at ifMatch.
func (c *Client) Delete(collection, id, ifMatch string) error {
	_, _, _, err := c.Do(http.MethodDelete, ItemPath(collection, id), nil, ifMatch)
	return err
}

func (c *Client) write(method, path string, v any, ifMatch string) (Result, error) {
	_, h, body, err := c.Do(method, path, v, ifMatch)
	if err != nil {
		return Result{}, err
	}
	return Result{Body: body, ETag: h.Get("ETag"), Warnings: Warnings(h)}, nil
}

// InvalidationRequest asks for paths and tags of a distribution to be
// invalidated; CallerReference makes a retry of it idempotent.
type InvalidationRequest struct {
	Paths           []string `json:"paths,omitempty"`
	Tags            []string `json:"tags,omitempty"`
	CallerReference string   `json:"callerReference"`
}

// Invalidate creates an invalidation in distribution dist.
func (c *Client) Invalidate(dist string, req InvalidationRequest) (wire.Invalidation, []byte, error) {
	path := ItemPath(Distributions, dist) + "/invalidations"
	_, _, body, err := c.Do(http.MethodPost, path, req, "")
	if err != nil {
		return wire.Invalidation{}, nil, err
	}
	var inv wire.Invalidation
	if err := json.Unmarshal(body, &inv); err != nil || inv.ID == "" {
		return wire.Invalidation{}, body, fmt.Errorf("unexpected response to POST %s: %.200s", path, body)
	}
	return inv, body, nil
}

// Invalidation reads invalidation id of distribution dist.
func (c *Client) Invalidation(dist, id string) (wire.Invalidation, []byte, error) {
	var inv wire.Invalidation
	body, _, err := c.GetJSON(ItemPath(Distributions, dist)+"/invalidations/"+url.PathEscape(id), &inv)
	return inv, body, err
}

// PoPs is the status of every PoP the control plane knows.
func (c *Client) PoPs() ([]control.PoPStatus, []byte, error) {
	var list struct {
		Items []control.PoPStatus `json:"items"`
	}
	body, _, err := c.GetJSON("/pops", &list)
	return list.Items, body, err
}
