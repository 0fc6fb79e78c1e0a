package control

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control/wire"
)

// Limits of the API.
const (
	maxBodyBytes   = 1 << 20          // largest request body
	requestTimeout = 10 * time.Second // NATS work done for one request
)

// Options configures a Server.
type Options struct {
	NC     *nats.Conn          // required: heartbeats and acks arrive on it
	JS     jetstream.JetStream // default: jetstream.New(NC)
	Logger *slog.Logger        // default: slog.Default()
	Now    func() time.Time    // clock for heartbeat ages and timestamps; default time.Now
}

// Server is the control plane's REST API over the store, with the PoP
// health it learns from heartbeats and the invalidation status it learns
// from acks. Close stops its subscriptions.
type Server struct {
	store   *Store
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	now     func() time.Time
	handler http.Handler

	ackConsumer jetstream.ConsumeContext

	// Lock order: configMu, invMu and tokenMu are never held together;
	// each may be held while taking hashMu or popMu, which are taken last
	// and never held across NATS calls. NATS callbacks hold life (read).
	configMu sync.Mutex // serializes configuration changes: validate the whole configuration, then write one key
	invMu    sync.Mutex // serializes invalidation creation (callerReference dedup)
	tokenMu  sync.Mutex // serializes EnsureToken

	hashMu      sync.RWMutex
	tokenHashes map[string][32]byte // token id -> sha256 of its secret

	popMu sync.Mutex
	pops  map[string]*popState

	// life guards closed; NATS callbacks hold it for reading while they
	// run, so Close waits for them.
	life      sync.RWMutex
	closed    bool
	closeOnce sync.Once
	subs      []*nats.Subscription
	stop      context.CancelFunc // stops the background goroutines
	wg        sync.WaitGroup
}

// New opens the store (creating buckets and stream as needed), loads the
// known PoPs and the token hashes, and subscribes to heartbeats and acks.
func New(ctx context.Context, opts Options) (*Server, error) {
	if opts.NC == nil {
		return nil, errors.New("control: a NATS connection is required")
	}
	js := opts.JS
	if js == nil {
		var err error
		if js, err = jetstream.New(opts.NC); err != nil {
			return nil, fmt.Errorf("control: jetstream: %w", err)
		}
	}
	store, err := OpenStore(ctx, js)
	if err != nil {
		return nil, err
	}
	s := &Server{
		store:       store,
		nc:          opts.NC,
		js:          js,
		log:         opts.Logger,
		now:         opts.Now,
		tokenHashes: map[string][32]byte{},
		pops:        map[string]*popState{},
		stop:        func() {},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("stage", "control")
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

func (s *Server) start(ctx context.Context) error {
	if err := s.loadPoPs(ctx); err != nil {
		return err
	}
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop
	if err := s.watchTokens(ctx, bg); err != nil {
		return err
	}
	for _, sub := range []struct {
		subject string
		handle  func(*nats.Msg)
	}{
		{wire.SubjectHeartbeat + ".*", s.onHeartbeat},
	} {
		ns, err := s.nc.Subscribe(sub.subject, s.guard(sub.subject, sub.handle))
		if err != nil {
			return fmt.Errorf("control: subscribe %s: %w", sub.subject, err)
		}
		s.subs = append(s.subs, ns)
	}
	// Acks come through a durable consumer of their stream: those sent while
	// the control plane was down are delivered now.
	cons, err := s.store.acks.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "control", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("control: ack consumer: %w", err)
	}
	onAck := s.guard(wire.SubjectAck, s.onAck)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		onAck(&nats.Msg{Subject: m.Subject(), Data: m.Data()})
		m.Ack()
	})
	if err != nil {
		return fmt.Errorf("control: ack consumer: %w", err)
	}
	s.ackConsumer = cc
	// The subscriptions are in place on the server once this returns.
	if err := s.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("control: nats flush: %w", err)
	}
	return nil
}

// guard runs a NATS callback unless the server is closed, recovering a
// panic so that one bad message cannot stop the subscription.
func (s *Server) guard(subject string, f func(*nats.Msg)) nats.MsgHandler {
	return func(m *nats.Msg) {
		s.life.RLock()
		defer s.life.RUnlock()
		if s.closed {
			return
		}
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in message handler", "subject", subject, "panic", r)
			}
		}()
		f(m)
	}
}

// Store returns the server's store.
func (s *Server) Store() *Store { return s.store }

// Close stops the subscriptions and background work, waiting for handlers
// of messages in flight. It does not close the NATS connection.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.life.Lock()
		s.closed = true
		s.life.Unlock()
		for _, sub := range s.subs {
			_ = sub.Unsubscribe()
		}
		if s.ackConsumer != nil {
			s.ackConsumer.Stop()
		}
		s.stop()
		s.wg.Wait()
	})
}

// Handler returns the REST API (API.md).
func (s *Server) Handler() http.Handler { return s.handler }

// handlerFunc writes a response or returns an error, never both.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		ae = apiErr(CodeInternalError, "internal error")
	}
	b, _ := json.Marshal(ae)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.Status())
	_, _ = w.Write(append(b, '\n'))
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	for _, k := range Kinds {
		col, item := "/"+k.Name, "/"+k.Name+"/{id}"
		mux.Handle("GET "+col, s.serve(s.listResources(k)))
		mux.Handle("POST "+col, s.serve(s.createResource(k)))
		mux.Handle("GET "+item, s.serve(s.getResource(k)))
		mux.Handle("PUT "+item, s.serve(s.updateResource(k)))
		mux.Handle("DELETE "+item, s.serve(s.deleteResource(k)))
	}
	mux.Handle("POST /distributions/{id}/invalidations", s.serve(s.createInvalidation))
	mux.Handle("GET /distributions/{id}/invalidations", s.serve(s.listInvalidations))
	mux.Handle("GET /distributions/{id}/invalidations/{invId}", s.serve(s.getInvalidation))
	mux.Handle("GET /pops", s.serve(s.listPoPs))
	mux.HandleFunc("GET /ip-ranges.json", s.ipRanges)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/ip-ranges.json" {
			if err := s.authorize(r); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// writeJSON encodes v, then writes it with status; it returns an error only
// before anything was written.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return nil
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// readBody reads a request body of at most maxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, apiErr(CodeEntityTooLarge, "the body is larger than %d bytes", maxBodyBytes)
	case err != nil:
		return nil, apiErr(CodeInvalidArgument, "reading the body: %v", err)
	}
	return b, nil
}

// etag renders a KV revision as an ETag.
func etag(rev uint64) string { return `"` + strconv.FormatUint(rev, 10) + `"` }

// ifMatch returns the revision that If-Match names.
func ifMatch(r *http.Request) (uint64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" {
		return 0, apiErr(CodeInvalidIfMatchVersion, "If-Match is required: the ETag of the version to change")
	}
	s := strings.TrimPrefix(v, "W/")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	rev, err := strconv.ParseUint(s, 10, 64)
	if err != nil || rev == 0 {
		return 0, apiErr(CodeInvalidIfMatchVersion, "If-Match %q is not a version (an ETag such as \"12\")", v)
	}
	return rev, nil
}

// newID returns prefix and 13 random upper-case letters and digits.
func newID(prefix string) string { return prefix + rand.Text()[:13] }

// Item is one element of a resource list.
type Item struct {
	ID       string          `json:"id"`
	ETag     string          `json:"etag"`
	Resource json.RawMessage `json:"resource"`
	Warnings []string        `json:"warnings,omitempty"` // fields set but not yet acted on (resourceWarnings)
}

// resourceWarnings lists the fields of a stored resource of kind k that are
// set but that nothing acts on yet ("distributions[0].priceClass: accepted
// but not yet acted on (...)"), with the paths of validation errors: the
// resource is element 0 of its section.
func resourceWarnings(k Kind, value json.RawMessage) []string {
	var c config.Config
	if err := json.Unmarshal([]byte(`{"`+k.Field+`":[`+string(value)+`]}`), &c); err != nil {
		return nil
	}
	var out []string
	for _, w := range c.Warnings() {
		out = append(out, w.String())
	}
	return out
}

// setWarnings adds one Warning header (code 299, RFC 9110 quoted text) per
// field of the resource that is set but not yet acted on.
func setWarnings(w http.ResponseWriter, k Kind, value json.RawMessage) {
	for _, msg := range resourceWarnings(k, value) {
		w.Header().Add("Warning", `299 - "`+quoteEscape.Replace(msg)+`"`)
	}
}

var quoteEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// List is the body of a list response.
type List[T any] struct {
	Items    []T `json:"items"`
	Quantity int `json:"quantity"`
}

func (s *Server) listResources(k Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rs, err := s.store.List(r.Context(), k)
		if err != nil {
			return err
		}
		items := make([]Item, 0, len(rs))
		for _, res := range rs {
			items = append(items, Item{ID: res.ID, ETag: etag(res.Revision), Resource: res.Value, Warnings: resourceWarnings(k, res.Value)})
		}
		return writeJSON(w, http.StatusOK, List[Item]{Items: items, Quantity: len(items)})
	}
}

func (s *Server) getResource(k Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		res, err := s.store.Get(r.Context(), k, id)
		if errors.Is(err, ErrNotFound) {
			return apiErr(CodeNoSuchResource, "no %s %q", k.Name, id)
		} else if err != nil {
			return err
		}
		w.Header().Set("ETag", etag(res.Revision))
		setWarnings(w, k, res.Value)
		writeRaw(w, http.StatusOK, res.Value)
		return nil
	}
}

// decodeResource reads a resource body: one JSON object whose id, if given,
// is a string. It returns the object and its id. Numbers are kept as
// written; re-encoding the object gives JSON with only the escapes that
// the configuration decoder (YAML) reads too.
func decodeResource(k Kind, w http.ResponseWriter, r *http.Request) (map[string]any, string, error) {
	body, err := readBody(w, r)
	if err != nil {
		return nil, "", err
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err = dec.Decode(&obj)
	if err == nil && dec.More() {
		err = errors.New("data after the object")
	}
	if err != nil || obj == nil {
		msg := "the body must be a JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, "", &APIError{Code: CodeInvalidArgument, Message: msg}
	}
	var id string
	if raw, ok := obj["id"]; ok && raw != nil {
		if id, ok = raw.(string); !ok {
			return nil, "", invalidFields(k, "", config.Errors{{Path: k.Field + "[0].id", Msg: "must be a string"}})
		}
	}
	return obj, id, nil
}

// invalidFields is the error for validation problems.
func invalidFields(k Kind, code string, es config.Errors) *APIError {
	if code == "" {
		code = CodeInvalidArgument
	}
	e := &APIError{Code: code, Errors: make([]FieldError, 0, len(es))}
	for _, fe := range es {
		e.Errors = append(e.Errors, FieldError{Path: fe.Path, Message: fe.Msg})
	}
	what := k.Singular
	switch {
	case code == CodeResourceInUse:
		e.Message = fmt.Sprintf("the %s is still in use: without it, the configuration is not valid", what)
	case len(es) == 1:
		e.Message = fmt.Sprintf("the %s is not valid: %s", what, es[0].Error())
	default:
		e.Message = fmt.Sprintf("the %s is not valid: %d problems", what, len(es))
	}
	return e
}

// validateChange validates the whole configuration as it would be after
// the resource id of kind k is replaced by value (or deleted, for nil), with
// config.ParseResource (config.CheckRemoval). It returns the resource as it
// would be stored (with its defaults filled in), or the problems found: the
// resource's own at <section>[0] (the path the client knows), those of
// other resources at their path, naming them. The caller holds configMu.
func (s *Server) validateChange(ctx context.Context, k Kind, id string, value json.RawMessage) (json.RawMessage, config.Errors, error) {
	refs, err := s.store.Config(ctx)
	if err != nil {
		return nil, nil, err
	}
	var r config.Resource
	if value == nil {
		err = config.CheckRemoval(k, id, refs)
	} else {
		r, err = config.ParseResource(k, value, refs)
	}
	if err != nil {
		var es config.Errors
		if !errors.As(err, &es) {
			return nil, nil, err
		}
		for i := range es {
			es[i].Line = 0 // lines of the body mean little to an API client
			if value != nil && !inOtherResource(es[i].Path) {
				es[i].Path = resourcePath(k.Field+"[0]", es[i].Path)
			}
		}
		return nil, es, nil
	}
	if value == nil {
		return nil, nil, nil
	}
	b, err := json.Marshal(r)
	return b, nil, err
}

// inOtherResource reports whether a path of config.ParseResource's problems
// is in another resource (it starts with a section: "distributions[2]...").
func inOtherResource(path string) bool {
	field, _, ok := strings.Cut(path, "[")
	if !ok {
		return false
	}
	_, isKind := config.KindByField(field)
	return isKind
}

// resourcePath joins a resource's path and a path relative to it.
func resourcePath(prefix, rel string) string {
	switch {
	case rel == "":
		return prefix
	case strings.HasPrefix(rel, "["):
		return prefix + rel
	}
	return prefix + "." + rel
}

func (s *Server) createResource(k Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		obj, id, err := decodeResource(k, w, r)
		if err != nil {
			return err
		}
		if id == "" && k.GeneratedID {
			id = newID("E")
			obj["id"] = id
		}
		value, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		ctx := r.Context()
		s.configMu.Lock()
		defer s.configMu.Unlock()
		if id != "" {
			if _, err := s.store.Get(ctx, k, id); err == nil {
				return apiErr(CodeAlreadyExists, "%s %q already exists", k.Name, id)
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		stored, problems, err := s.validateChange(ctx, k, id, value)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return invalidFields(k, "", problems)
		}
		rev, err := s.store.Create(ctx, k, id, stored)
		if errors.Is(err, ErrExists) {
			return apiErr(CodeAlreadyExists, "%s %q already exists", k.Name, id)
		} else if err != nil {
			return err
		}
		s.log.Info("resource created", "kind", k.Name, "id", id, "revision", rev)
		w.Header().Set("Location", "/"+k.Name+"/"+id)
		w.Header().Set("ETag", etag(rev))
		setWarnings(w, k, stored)
		writeRaw(w, http.StatusCreated, stored)
		return nil
	}
}

func (s *Server) updateResource(k Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rev, err := ifMatch(r)
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		obj, bodyID, err := decodeResource(k, w, r)
		if err != nil {
			return err
		}
		if bodyID != "" && bodyID != id {
			return invalidFields(k, "", config.Errors{{Path: k.Field + "[0].id",
				Msg: fmt.Sprintf("%q is not the id of the URL, %q (leave it out or make them equal)", bodyID, id)}})
		}
		obj["id"] = id
		value, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		ctx := r.Context()
		s.configMu.Lock()
		defer s.configMu.Unlock()
		if err := s.checkRevision(ctx, k, id, rev); err != nil {
			return err
		}
		stored, problems, err := s.validateChange(ctx, k, id, value)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return invalidFields(k, "", problems)
		}
		newRev, err := s.store.Update(ctx, k, id, stored, rev)
		if errors.Is(err, ErrRevisionMismatch) {
			return apiErr(CodePreconditionFailed, "%s %q changed: its version is not %s", k.Name, id, etag(rev))
		} else if err != nil {
			return err
		}
		s.log.Info("resource updated", "kind", k.Name, "id", id, "revision", newRev)
		w.Header().Set("ETag", etag(newRev))
		setWarnings(w, k, stored)
		writeRaw(w, http.StatusOK, stored)
		return nil
	}
}

func (s *Server) deleteResource(k Kind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		rev, err := ifMatch(r)
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		ctx := r.Context()
		s.configMu.Lock()
		defer s.configMu.Unlock()
		if err := s.checkRevision(ctx, k, id, rev); err != nil {
			return err
		}
		_, problems, err := s.validateChange(ctx, k, id, nil)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return invalidFields(k, CodeResourceInUse, problems)
		}
		err = s.store.Delete(ctx, k, id, rev)
		if errors.Is(err, ErrRevisionMismatch) {
			return apiErr(CodePreconditionFailed, "%s %q changed: its version is not %s", k.Name, id, etag(rev))
		} else if err != nil {
			return err
		}
		s.log.Info("resource deleted", "kind", k.Name, "id", id)
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// checkRevision checks that the resource exists at revision rev.
func (s *Server) checkRevision(ctx context.Context, k Kind, id string, rev uint64) error {
	cur, err := s.store.Get(ctx, k, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return apiErr(CodeNoSuchResource, "no %s %q", k.Name, id)
	case err != nil:
		return err
	case cur.Revision != rev:
		return apiErr(CodePreconditionFailed, "%s %q is at version %s, not %s", k.Name, id, etag(cur.Revision), etag(rev))
	}
	return nil
}
