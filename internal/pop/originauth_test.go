package pop

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/pkg/originauth"
)

// A custom origin behind pkg/originauth answers only requests Strata signed:
// GETs and an upload through the edge pass, a direct request is refused, and
// a PoP signing with a key the origin does not know is refused too.
func TestCustomOriginSignedRequests(t *testing.T) {
	var uploaded []byte
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			uploaded = b
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "private "+r.URL.Path)
	})
	keys := map[string]string{"strata-old": "old-secret-0123456789", "strata-new": "new-secret-9876543210"}
	origin := httptest.NewServer(originauth.Handler(app, originauth.Options{Keys: keys}))
	defer origin.Close()

	signed := func(id, secret string) *world {
		return newWorld(t, func(http.ResponseWriter, *http.Request) {}, func(c *config.Config) {
			c.Distributions[0].Origins = []config.Origin{{ID: "o", URL: origin.URL, CustomOriginConfig: &config.CustomOriginConfig{
				OriginAccessControl: &config.OriginAccessControl{SigningBehavior: config.SigningAlways, AccessKeyID: id, SecretAccessKey: secret},
			}}}
		})
	}
	direct, err := http.Get(origin.URL + "/a%20b")
	if err != nil {
		t.Fatal(err)
	}
	direct.Body.Close()
	if direct.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned request to the origin: %d, want 403", direct.StatusCode)
	}
	for _, id := range []string{"strata-old", "strata-new"} { // rotation: both keys accepted
		w := signed(id, keys[id])
		if r := w.get("/a%20b?q=1&a=2", "Authorization", "Bearer viewer"); r.status != 200 || r.body != "private /a b" {
			t.Fatalf("%s: GET through Strata: %d %q", id, r.status, r.body)
		}
		data := bytes.Repeat([]byte("upload "), 100000)
		if r := w.doBody(http.MethodPut, "/up.bin", bytes.NewReader(data)); r.status != http.StatusCreated || !bytes.Equal(uploaded, data) {
			t.Fatalf("%s: PUT through Strata: %d, %d bytes arrived", id, r.status, len(uploaded))
		}
	}
	w := signed("strata-retired", "some-secret")
	r := w.get("/x")
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "unknown-key") {
		t.Fatalf("retired key: %d %q, want the origin's 403 unknown-key", r.status, r.body)
	}
}
