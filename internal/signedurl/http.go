package signedurl

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/strata-cdn/strata/internal/config"
)

// ErrorBody returns CloudFront's 403 body for a refusal: MissingKey when
// there is no key pair id, InvalidKey for a key that is not trusted, and
// AccessDenied otherwise (the detail is not shown to the viewer).
func ErrorBody(err error) []byte {
	code, msg := "AccessDenied", "Access denied"
	switch ReasonOf(err) {
	case ReasonMissing:
		code, msg = "MissingKey", "Missing Key-Pair-Id query parameter or cookie value"
	case ReasonUnknownKey:
		code, msg = "InvalidKey", "Unknown Key"
	}
	return []byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>` + msg + `</Message></Error>`)
}

// WriteError answers a refused request as CloudFront does: 403 with an XML
// body (no body for HEAD).
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	body := ErrorBody(err)
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusForbidden)
	if r == nil || r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// KeysFromConfig returns the keys of the key groups named by trusted (a
// cache behavior's trustedKeyGroups), each key once, for [NewVerifier].
func KeysFromConfig(cfg *config.Config, trusted []string) ([]Key, error) {
	if cfg == nil {
		return nil, errors.New("signedurl: no configuration")
	}
	var keys []Key
	seen := map[string]bool{}
	for _, gid := range trusted {
		var group *config.KeyGroup
		for i := range cfg.KeyGroups {
			if cfg.KeyGroups[i].ID == gid {
				group = &cfg.KeyGroups[i]
				break
			}
		}
		if group == nil {
			return nil, fmt.Errorf("signedurl: key group %q is not declared", gid)
		}
		for _, kid := range group.Items {
			if seen[kid] {
				continue
			}
			var pk *config.PublicKey
			for i := range cfg.PublicKeys {
				if cfg.PublicKeys[i].ID == kid {
					pk = &cfg.PublicKeys[i]
					break
				}
			}
			if pk == nil {
				return nil, fmt.Errorf("signedurl: key group %q: public key %q is not declared", gid, kid)
			}
			pub, err := pk.ParseKey()
			if err != nil {
				return nil, fmt.Errorf("signedurl: public key %q: %v", kid, err)
			}
			keys = append(keys, Key{ID: kid, Public: pub})
			seen[kid] = true
		}
	}
	return keys, nil
}
