package control

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/strata-cdn/strata/internal/control/wire"
)

// EnsureToken creates an API token when there is none yet, returning its
// secret (to be shown once: only its hash is stored) and created=true. When
// tokens exist it returns "", false.
func (s *Server) EnsureToken(ctx context.Context) (secret string, created bool, err error) {
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	_, err = s.store.tokens.Keys(ctx)
	switch {
	case err == nil:
		return "", false, nil
	case !errors.Is(err, jetstream.ErrNoKeysFound):
		return "", false, fmt.Errorf("control: tokens: %w", err)
	}
	secret, err = s.CreateToken(ctx, "initial")
	if err != nil {
		return "", false, err
	}
	return secret, true, nil
}

// CreateToken creates an API token named name and returns its secret, which
// is not stored (only its sha256 is) and cannot be shown again.
func (s *Server) CreateToken(ctx context.Context, name string) (secret string, err error) {
	var raw [32]byte
	_, _ = rand.Read(raw[:]) // never fails
	secret = base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(secret))
	tok := wire.Token{ID: newID("T"), Name: name, SHA256: hex.EncodeToString(sum[:]), Created: s.now().UTC()}
	b, err := json.Marshal(tok)
	if err != nil {
		return "", err
	}
	if _, err := s.store.tokens.Create(ctx, tok.ID, b); err != nil {
		return "", fmt.Errorf("control: tokens: create: %w", err)
	}
	// Usable at once, before the watch delivers it.
	s.hashMu.Lock()
	s.tokenHashes[tok.ID] = sum
	s.hashMu.Unlock()
	s.log.Info("api token created", "id", tok.ID, "name", name)
	return secret, nil
}

// watchTokens loads the token hashes (returning once they are loaded) and
// keeps them up to date in the background until bg ends, so that checking
// a request's token does not ask NATS.
func (s *Server) watchTokens(ctx, bg context.Context) error {
	w, err := s.store.tokens.WatchAll(bg)
	if err != nil {
		return fmt.Errorf("control: tokens: watch: %w", err)
	}
	for loaded := false; !loaded; {
		select {
		case <-ctx.Done():
			_ = w.Stop()
			return fmt.Errorf("control: tokens: load: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("control: tokens: watch ended")
			}
			if e == nil {
				loaded = true
				break
			}
			s.applyToken(e)
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-bg.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil {
					s.applyToken(e)
				}
			}
		}
	}()
	return nil
}

// applyToken applies one change of the tokens bucket to the cache.
func (s *Server) applyToken(e jetstream.KeyValueEntry) {
	s.hashMu.Lock()
	defer s.hashMu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.tokenHashes, e.Key())
		return
	}
	var tok wire.Token
	var sum [32]byte
	if err := json.Unmarshal(e.Value(), &tok); err != nil {
		s.log.Warn("bad token record", "id", e.Key(), "err", err)
		return
	}
	if n, err := hex.Decode(sum[:], []byte(tok.SHA256)); err != nil || n != len(sum) {
		s.log.Warn("bad token record", "id", e.Key(), "err", "sha256 is not 64 hex digits")
		return
	}
	s.tokenHashes[e.Key()] = sum
}

// authorize checks the request's bearer token against the token hashes.
func (s *Server) authorize(r *http.Request) error {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return apiErr(CodeMissingToken, "an API token is required: Authorization: Bearer <token>")
	}
	sum := sha256.Sum256([]byte(token))
	match := 0
	s.hashMu.RLock()
	for _, h := range s.tokenHashes {
		match |= subtle.ConstantTimeCompare(sum[:], h[:])
	}
	s.hashMu.RUnlock()
	if match != 1 {
		return apiErr(CodeInvalidToken, "the API token is not valid")
	}
	return nil
}
