package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/control/wire"
)

// Limits of one invalidation.
const (
	maxInvalidationItems = 3000 // paths and tags together
	maxInvalidationItem  = 4096 // bytes in one path or tag
	maxAckAttempts       = 20   // compare-and-set attempts to record one ack
)

// InvalidationRequest is the body of POST /distributions/{id}/invalidations.
type InvalidationRequest struct {
	Paths           []string `json:"paths"`
	Tags            []string `json:"tags"`
	CallerReference string   `json:"callerReference"`
}

// validate reports the problems of the request, with field paths.
func (q *InvalidationRequest) validate() config.Errors {
	var es config.Errors
	add := func(path, format string, args ...any) {
		es = append(es, config.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	if len(q.Paths) == 0 && len(q.Tags) == 0 {
		add("paths", "at least one path or tag is required")
	}
	if n := len(q.Paths) + len(q.Tags); n > maxInvalidationItems {
		add("paths", "%d paths and tags: at most %d in one invalidation", n, maxInvalidationItems)
	}
	for i, p := range q.Paths {
		path := fmt.Sprintf("paths[%d]", i)
		switch {
		case !strings.HasPrefix(p, "/"):
			add(path, "%q must start with \"/\"", p)
		case strings.Contains(strings.TrimSuffix(p, "*"), "*"):
			add(path, "%q: \"*\" may only be the last character", p)
		case len(p) > maxInvalidationItem:
			add(path, "is longer than %d bytes", maxInvalidationItem)
		case strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			add(path, "%q must not contain spaces or control characters (percent-encode them)", p)
		}
	}
	for i, t := range q.Tags {
		path := fmt.Sprintf("tags[%d]", i)
		switch {
		case t == "":
			add(path, "must not be empty")
		case len(t) > maxInvalidationItem:
			add(path, "is longer than %d bytes", maxInvalidationItem)
		case strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f || r == ',' }):
			add(path, "%q must not contain spaces, commas or control characters", t)
		}
	}
	if len(q.CallerReference) > 128 {
		add("callerReference", "is longer than 128 bytes")
	}
	return es
}

// distribution checks that the distribution of the request's path exists.
func (s *Server) distribution(ctx context.Context, r *http.Request) (string, error) {
	id := r.PathValue("id")
	k, _ := KindByName("distributions")
	if _, err := s.store.Get(ctx, k, id); errors.Is(err, ErrNotFound) {
		return "", apiErr(CodeNoSuchResource, "no distribution %q", id)
	} else if err != nil {
		return "", err
	}
	return id, nil
}

func (s *Server) createInvalidation(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	distID, err := s.distribution(ctx, r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	var q InvalidationRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return apiErr(CodeInvalidArgument, "the body must be a JSON object with paths, tags and callerReference: %v", err)
	}
	if dec.More() {
		return apiErr(CodeInvalidArgument, "the body must be one JSON object")
	}
	if es := q.validate(); len(es) > 0 {
		e := &APIError{Code: CodeInvalidArgument, Message: "the invalidation is not valid: " + es[0].Error()}
		for _, fe := range es {
			e.Errors = append(e.Errors, FieldError{Path: fe.Path, Message: fe.Msg})
		}
		return e
	}

	s.invMu.Lock()
	defer s.invMu.Unlock()
	location := func(id string) string { return "/distributions/" + distID + "/invalidations/" + id }
	if q.CallerReference != "" {
		all, err := s.invalidations(ctx, distID)
		if err != nil {
			return err
		}
		for _, inv := range all {
			if inv.CallerReference == q.CallerReference {
				w.Header().Set("Location", location(inv.ID))
				return writeJSON(w, http.StatusOK, inv)
			}
		}
	}

	now := s.now().UTC()
	inv := wire.Invalidation{
		ID:              newID("I"),
		DistributionID:  distID,
		CallerReference: q.CallerReference,
		Paths:           q.Paths,
		Tags:            q.Tags,
		CreateTime:      now,
		Status:          wire.StatusInProgress,
		Expected:        s.healthyPoPs(now),
	}
	if len(inv.Expected) == 0 {
		inv.Status, inv.CompleteTime = wire.StatusCompleted, &now
	}
	b, err := json.Marshal(inv)
	if err != nil {
		return err
	}
	// The record first, so that no ack can arrive before it exists.
	if _, err := s.store.invalidations.Create(ctx, inv.ID, b); err != nil {
		return fmt.Errorf("control: invalidation %s: store: %w", inv.ID, err)
	}
	subject := wire.SubjectInvalidation + "." + distID
	if _, err := s.js.Publish(ctx, subject, b, jetstream.WithMsgID(inv.ID)); err != nil {
		// Not sent: take the record back, so that it does not stay InProgress.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
		defer cancel()
		if derr := s.store.invalidations.Purge(dctx, inv.ID); derr != nil {
			s.log.Warn("removing unsent invalidation failed", "id", inv.ID, "err", derr)
		}
		return fmt.Errorf("control: invalidation %s: publish: %w", inv.ID, err)
	}
	s.log.Info("invalidation created", "id", inv.ID, "distribution", distID,
		"paths", len(inv.Paths), "tags", len(inv.Tags), "expected", len(inv.Expected))
	w.Header().Set("Location", location(inv.ID))
	return writeJSON(w, http.StatusCreated, inv)
}

// invalidations returns the invalidations of a distribution, newest first.
func (s *Server) invalidations(ctx context.Context, distID string) ([]wire.Invalidation, error) {
	rs, err := readAll(ctx, s.store.invalidations)
	if err != nil {
		return nil, fmt.Errorf("control: invalidations: %w", err)
	}
	out := []wire.Invalidation{}
	for _, r := range rs {
		var inv wire.Invalidation
		if err := json.Unmarshal(r.Value, &inv); err != nil {
			s.log.Warn("bad invalidation record", "id", r.ID, "err", err)
			continue
		}
		if inv.DistributionID == distID {
			out = append(out, inv)
		}
	}
	slices.SortFunc(out, func(a, b wire.Invalidation) int {
		if c := b.CreateTime.Compare(a.CreateTime); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

func (s *Server) listInvalidations(w http.ResponseWriter, r *http.Request) error {
	distID, err := s.distribution(r.Context(), r)
	if err != nil {
		return err
	}
	items, err := s.invalidations(r.Context(), distID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, List[wire.Invalidation]{Items: items, Quantity: len(items)})
}

func (s *Server) getInvalidation(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	distID, err := s.distribution(ctx, r)
	if err != nil {
		return err
	}
	id := r.PathValue("invId")
	e, err := s.store.invalidations.Get(ctx, id)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted), errors.Is(err, jetstream.ErrInvalidKey):
		return apiErr(CodeNoSuchResource, "no invalidation %q of distribution %q", id, distID)
	case err != nil:
		return err
	}
	var inv wire.Invalidation
	if err := json.Unmarshal(e.Value(), &inv); err != nil {
		return fmt.Errorf("control: invalidation %s: %w", id, err)
	}
	if inv.DistributionID != distID {
		return apiErr(CodeNoSuchResource, "no invalidation %q of distribution %q", id, distID)
	}
	return writeJSON(w, http.StatusOK, inv)
}

// onAck records a PoP's acknowledgement of an invalidation.
func (s *Server) onAck(m *nats.Msg) {
	var a wire.Ack
	if err := json.Unmarshal(m.Data, &a); err != nil || a.InvalidationID == "" || a.PoP == "" {
		s.log.Debug("bad ack", "data", string(m.Data), "err", err)
		return
	}
	// A PoP's identity may publish on its own subject only: the body must
	// name the same PoP.
	if from, ok := strings.CutPrefix(m.Subject, wire.SubjectAck+"."); ok && from != a.PoP {
		s.log.Warn("ack dropped: its body names another PoP than its subject", "subject", m.Subject, "pop", a.PoP)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := s.recordAck(ctx, a); err != nil {
		s.log.Warn("recording ack failed", "invalidation", a.InvalidationID, "pop", a.PoP, "err", err)
	}
}

// recordAck adds the ack to the invalidation's record, completing it when
// every expected PoP has acknowledged; compare-and-set on the record's
// revision, retried on conflict.
func (s *Server) recordAck(ctx context.Context, a wire.Ack) error {
	kv := s.store.invalidations
	for range maxAckAttempts {
		e, err := kv.Get(ctx, a.InvalidationID)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted), errors.Is(err, jetstream.ErrInvalidKey):
			s.log.Debug("ack of an unknown invalidation", "invalidation", a.InvalidationID, "pop", a.PoP)
			return nil
		case err != nil:
			return err
		}
		var inv wire.Invalidation
		if err := json.Unmarshal(e.Value(), &inv); err != nil {
			return err
		}
		if _, dup := inv.Acked[a.PoP]; dup {
			return nil
		}
		now := s.now().UTC()
		if inv.Acked == nil {
			inv.Acked = map[string]time.Time{}
		}
		inv.Acked[a.PoP] = now
		completed := inv.Status != wire.StatusCompleted && allAcked(&inv)
		if completed {
			inv.Status, inv.CompleteTime = wire.StatusCompleted, &now
		}
		b, err := json.Marshal(inv)
		if err != nil {
			return err
		}
		_, err = kv.Update(ctx, a.InvalidationID, b, e.Revision())
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // another ack got there first: read it again
		}
		if err == nil && completed {
			s.log.Info("invalidation completed", "id", inv.ID, "distribution", inv.DistributionID,
				"seconds", now.Sub(inv.CreateTime).Seconds())
		}
		return err
	}
	return fmt.Errorf("gave up after %d conflicting updates", maxAckAttempts)
}

// allAcked reports whether every expected PoP acknowledged.
func allAcked(inv *wire.Invalidation) bool {
	for _, p := range inv.Expected {
		if _, ok := inv.Acked[p]; !ok {
			return false
		}
	}
	return true
}
