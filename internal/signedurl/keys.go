package signedurl

import (
	"errors"
	"fmt"

	"github.com/strata-cdn/strata/internal/config"
)

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
