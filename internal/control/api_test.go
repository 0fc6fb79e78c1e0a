package control

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/testutil"
)

func TestDistributionLifecycle(t *testing.T) {
	e := newEnv(t, "", "")

	// Create: defaults filled in, ETag and Location set.
	resp, data := e.do("POST", "/distributions", distribution("shop", "o1"))
	var created config.Distribution
	e.want(resp, data, http.StatusCreated, &created)
	if got := resp.Header.Get("Location"); got != "/distributions/shop" {
		t.Errorf("Location = %q", got)
	}
	tag1 := resp.Header.Get("ETag")
	if !regexp.MustCompile(`^"[0-9]+"$`).MatchString(tag1) {
		t.Fatalf("ETag = %q, want a quoted revision", tag1)
	}
	if created.DomainName != "shop.strata.localhost" || !created.IsEnabled() || created.DefaultCacheBehavior.CachePolicyID != config.ManagedCachingOptimized {
		t.Errorf("defaults not filled in: %+v", created)
	}

	// Read it back, alone and in the list.
	resp, data = e.do("GET", "/distributions/shop", nil)
	var got config.Distribution
	e.want(resp, data, http.StatusOK, &got)
	if resp.Header.Get("ETag") != tag1 || got.DomainName != created.DomainName {
		t.Errorf("GET: ETag %q (want %q), %+v", resp.Header.Get("ETag"), tag1, got)
	}
	var list struct {
		Items []struct {
			ID       string              `json:"id"`
			ETag     string              `json:"etag"`
			Resource config.Distribution `json:"resource"`
		} `json:"items"`
		Quantity int `json:"quantity"`
	}
	resp, data = e.do("GET", "/distributions", nil)
	e.want(resp, data, http.StatusOK, &list)
	if list.Quantity != 1 || len(list.Items) != 1 || list.Items[0].ID != "shop" || list.Items[0].ETag != tag1 || list.Items[0].Resource.ID != "shop" {
		t.Fatalf("list = %s", data)
	}

	// The same id again.
	resp, data = e.do("POST", "/distributions", distribution("shop", "o1"))
	e.wantError(resp, data, http.StatusConflict, CodeAlreadyExists)

	// Update: If-Match required, body id must match the URL.
	changed := distribution("shop", "o1")
	changed["comment"] = "second"
	resp, data = e.do("PUT", "/distributions/shop", changed)
	e.wantError(resp, data, http.StatusBadRequest, CodeInvalidIfMatchVersion)
	resp, data = e.do("PUT", "/distributions/shop", changed, "If-Match", "soon")
	e.wantError(resp, data, http.StatusBadRequest, CodeInvalidIfMatchVersion)
	resp, data = e.do("PUT", "/distributions/shop", distribution("other", "o1"), "If-Match", tag1)
	ae := e.wantError(resp, data, http.StatusBadRequest, CodeInvalidArgument)
	if len(ae.Errors) != 1 || ae.Errors[0].Path != "distributions[0].id" {
		t.Errorf("id mismatch errors = %+v", ae.Errors)
	}
	resp, data = e.do("PUT", "/distributions/shop", changed, "If-Match", tag1)
	e.want(resp, data, http.StatusOK, &got)
	tag2 := resp.Header.Get("ETag")
	if tag2 == tag1 || tag2 == "" || got.Comment != "second" {
		t.Fatalf("PUT: ETag %q after %q, comment %q", tag2, tag1, got.Comment)
	}
	delete(changed, "id") // an empty body id means the URL's
	changed["comment"] = "third"
	resp, data = e.do("PUT", "/distributions/shop", changed, "If-Match", tag1)
	e.wantError(resp, data, http.StatusPreconditionFailed, CodePreconditionFailed)
	resp, data = e.do("GET", "/distributions/shop", nil)
	e.want(resp, data, http.StatusOK, &got)
	if got.Comment != "second" || resp.Header.Get("ETag") != tag2 {
		t.Errorf("a stale update changed the stored value: comment %q, ETag %q", got.Comment, resp.Header.Get("ETag"))
	}
	resp, data = e.do("PUT", "/distributions/shop", changed, "If-Match", tag2)
	e.want(resp, data, http.StatusOK, &got)
	tag3 := resp.Header.Get("ETag")
	if got.ID != "shop" || got.Comment != "third" {
		t.Errorf("PUT without id: %+v", got)
	}
	resp, data = e.do("PUT", "/distributions/nope", changed, "If-Match", tag3)
	e.wantError(resp, data, http.StatusNotFound, CodeNoSuchResource)

	// Delete: If-Match rules, then gone.
	resp, data = e.do("DELETE", "/distributions/shop", nil)
	e.wantError(resp, data, http.StatusBadRequest, CodeInvalidIfMatchVersion)
	resp, data = e.do("DELETE", "/distributions/shop", nil, "If-Match", tag2)
	e.wantError(resp, data, http.StatusPreconditionFailed, CodePreconditionFailed)
	resp, data = e.do("DELETE", "/distributions/shop", nil, "If-Match", tag3)
	e.want(resp, data, http.StatusNoContent, nil)
	resp, data = e.do("GET", "/distributions/shop", nil)
	e.wantError(resp, data, http.StatusNotFound, CodeNoSuchResource)
	resp, data = e.do("GET", "/distributions", nil)
	e.want(resp, data, http.StatusOK, &list)
	if list.Quantity != 0 || list.Items == nil {
		t.Errorf("list after delete = %s", data)
	}

	// The id can be used again; without an id, one is generated.
	resp, data = e.do("POST", "/distributions", distribution("shop", "o1"))
	e.want(resp, data, http.StatusCreated, nil)
	body := distribution("", "o1")
	delete(body, "id")
	resp, data = e.do("POST", "/distributions", body)
	e.want(resp, data, http.StatusCreated, &got)
	if !regexp.MustCompile(`^E[A-Z0-9]{13}$`).MatchString(got.ID) || resp.Header.Get("Location") != "/distributions/"+got.ID {
		t.Errorf("generated id %q, Location %q", got.ID, resp.Header.Get("Location"))
	}
	if got.DomainName != strings.ToLower(got.ID)+".strata.localhost" {
		t.Errorf("domain name of a generated id: %q", got.DomainName)
	}
}

func TestInvalidResourceIsRefused(t *testing.T) {
	e := newEnv(t, "", "")
	tests := []struct {
		name  string
		body  any
		paths []string
	}{
		{"bad targetOriginId", distribution("shop", "nope"), []string{"distributions[0].defaultCacheBehavior.targetOriginId"}},
		{"unknown field", map[string]any{"id": "shop", "origins": []any{map[string]any{"id": "o1", "url": "http://127.0.0.1:9000"}},
			"defaultCacheBehavior": map[string]any{"targetOriginId": "o1"}, "bogus": 1}, []string{"distributions[0].bogus"}},
		{"bad id", distribution("no spaces", "o1"), []string{"distributions[0].id"}},
		{"id not a string", distribution("", "o1"), nil},
		{"not an object", `["shop"]`, nil},
	}
	tests[3].body.(map[string]any)["id"] = 42
	tests[3].paths = []string{"distributions[0].id"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := e.do("POST", "/distributions", tc.body)
			ae := e.wantError(resp, data, http.StatusBadRequest, CodeInvalidArgument)
			var paths []string
			for _, fe := range ae.Errors {
				paths = append(paths, fe.Path)
				if fe.Message == "" {
					t.Errorf("no message for %s", fe.Path)
				}
			}
			for _, p := range tc.paths {
				if !slices.Contains(paths, p) {
					t.Errorf("errors %s do not name %s", data, p)
				}
			}
		})
	}
	resp, data := e.do("GET", "/distributions", nil)
	var list List[Item]
	e.want(resp, data, http.StatusOK, &list)
	if list.Quantity != 0 {
		t.Errorf("an invalid distribution was stored: %s", data)
	}
	resp, data = e.do("GET", "/distributions/shop", nil)
	e.wantError(resp, data, http.StatusNotFound, CodeNoSuchResource)
}

func TestPolicyInUseCannotBeDeleted(t *testing.T) {
	e := newEnv(t, "", "")
	resp, data := e.do("POST", "/cache-policies", map[string]any{"id": "short", "minTTL": 1, "defaultTTL": 60})
	var cp config.CachePolicy
	e.want(resp, data, http.StatusCreated, &cp)
	cpTag := resp.Header.Get("ETag")
	if cp.MaxTTL == nil || *cp.MaxTTL != 31536000 {
		t.Errorf("cache policy defaults not filled in: %s", data)
	}

	// A reference to a policy that does not exist is refused.
	d := distribution("shop", "o1")
	d["defaultCacheBehavior"].(map[string]any)["cachePolicyId"] = "missing"
	resp, data = e.do("POST", "/distributions", d)
	ae := e.wantError(resp, data, http.StatusBadRequest, CodeInvalidArgument)
	if len(ae.Errors) == 0 || ae.Errors[0].Path != "distributions[0].defaultCacheBehavior.cachePolicyId" {
		t.Errorf("errors = %+v", ae.Errors)
	}

	d["defaultCacheBehavior"].(map[string]any)["cachePolicyId"] = "short"
	resp, data = e.do("POST", "/distributions", d)
	e.want(resp, data, http.StatusCreated, nil)
	distTag := resp.Header.Get("ETag")

	resp, data = e.do("DELETE", "/cache-policies/short", nil, "If-Match", cpTag)
	ae = e.wantError(resp, data, http.StatusConflict, CodeResourceInUse)
	if len(ae.Errors) == 0 || !strings.HasPrefix(ae.Errors[0].Path, "distributions[") ||
		!strings.HasSuffix(ae.Errors[0].Message, `(distribution "shop")`) || !strings.Contains(ae.Message, "cache policy") {
		t.Errorf("in-use error = %+v", ae)
	}
	resp, data = e.do("GET", "/cache-policies/short", nil)
	e.want(resp, data, http.StatusOK, nil)
	if resp.Header.Get("ETag") != cpTag {
		t.Errorf("policy changed: ETag %q, was %q", resp.Header.Get("ETag"), cpTag)
	}

	// Free once nothing uses it.
	resp, data = e.do("DELETE", "/distributions/shop", nil, "If-Match", distTag)
	e.want(resp, data, http.StatusNoContent, nil)
	resp, data = e.do("DELETE", "/cache-policies/short", nil, "If-Match", cpTag)
	e.want(resp, data, http.StatusNoContent, nil)

	// Managed ids are reserved.
	resp, data = e.do("POST", "/cache-policies", map[string]any{"id": "Managed-Mine"})
	ae = e.wantError(resp, data, http.StatusBadRequest, CodeInvalidArgument)
	if len(ae.Errors) != 1 || ae.Errors[0].Path != "cachePolicies[0].id" {
		t.Errorf("errors = %+v", ae.Errors)
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t, "", "")
	if e.token == "" {
		t.Fatal("EnsureToken did not create a token on an empty store")
	}
	resp, data := e.do("GET", "/distributions", nil, "Authorization", "")
	e.wantError(resp, data, http.StatusUnauthorized, CodeMissingToken)
	resp, data = e.do("GET", "/no-such-path", nil, "Authorization", "")
	e.wantError(resp, data, http.StatusUnauthorized, CodeMissingToken)
	resp, data = e.do("GET", "/distributions", nil, "Authorization", "Basic "+e.token)
	e.wantError(resp, data, http.StatusUnauthorized, CodeMissingToken)
	resp, data = e.do("GET", "/distributions", nil, "Authorization", "Bearer "+e.token+"x")
	e.wantError(resp, data, http.StatusForbidden, CodeInvalidToken)
	resp, data = e.do("GET", "/distributions", nil)
	e.want(resp, data, http.StatusOK, nil)
	resp, data = e.do("GET", "/healthz", nil, "Authorization", "")
	e.want(resp, data, http.StatusOK, nil)
	if string(data) != "ok" {
		t.Errorf("healthz body %q", data)
	}

	// Only the first EnsureToken creates one.
	secret, created, err := e.srv.EnsureToken(e.ctx)
	if err != nil || created || secret != "" {
		t.Errorf("second EnsureToken = %q, %v, %v", secret, created, err)
	}

	// Only the hash is stored.
	keys, err := e.srv.store.tokens.Keys(e.ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("tokens: %v, %v", keys, err)
	}
	entry, err := e.srv.store.tokens.Get(e.ctx, keys[0])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(entry.Value()), e.token) {
		t.Error("the token secret is stored")
	}

	// A token made by another control plane on the same NATS works here
	// once the watch delivers it.
	other, err := New(e.ctx, Options{NC: e.nc, Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	second, err := other.CreateToken(e.ctx, "ci")
	if err != nil || second == "" || second == e.token {
		t.Fatalf("CreateToken = %q, %v", second, err)
	}
	testutil.WaitFor(t, 2*time.Second, "the new token to be accepted", func() bool {
		resp, _ := e.do("GET", "/pops", nil, "Authorization", "Bearer "+second)
		return resp.StatusCode == http.StatusOK
	})
}

func TestHostnameConflictNamesTheOtherDistribution(t *testing.T) {
	e := newEnv(t, "", "")
	first := distribution("shop", "o1")
	first["aliases"] = []string{"www.example.com"}
	resp, data := e.do("POST", "/distributions", first)
	e.want(resp, data, http.StatusCreated, nil)
	second := distribution("blog", "o1")
	second["aliases"] = []string{"www.example.com"}
	resp, data = e.do("POST", "/distributions", second)
	ae := e.wantError(resp, data, http.StatusBadRequest, CodeInvalidArgument)
	if len(ae.Errors) != 1 || !strings.Contains(ae.Errors[0].Message, `www.example.com`) || !strings.Contains(ae.Errors[0].Message, `"shop"`) {
		t.Errorf("conflict errors = %+v", ae.Errors)
	}
}

func TestConcurrentUpdatesOneWins(t *testing.T) {
	e := newEnv(t, "", "")
	resp, data := e.do("POST", "/distributions", distribution("shop", "o1"))
	e.want(resp, data, http.StatusCreated, nil)
	tag := resp.Header.Get("ETag")

	const n = 8
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			d := distribution("shop", "o1")
			d["comment"] = fmt.Sprint("writer ", i)
			resp, _ := e.do("PUT", "/distributions/shop", d, "If-Match", tag)
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[http.StatusOK] != 1 || count[http.StatusPreconditionFailed] != n-1 {
		t.Errorf("statuses %v, want one 200 and %d 412", count, n-1)
	}
}

func TestResourceJSONRoundTrip(t *testing.T) {
	e := newEnv(t, "", "")
	body := `{"id":"shop","comment":"a\/b \u00e9 <x> & \"q\"\ttab: yes # no","origins":[{"id":"o1","url":"http://127.0.0.1:9000"}],` +
		`"defaultCacheBehavior":{"targetOriginId":"o1"}}`
	resp, data := e.do("POST", "/distributions", body)
	var d config.Distribution
	e.want(resp, data, http.StatusCreated, &d)
	if want := "a/b é <x> & \"q\"\ttab: yes # no"; d.Comment != want {
		t.Errorf("comment %q, want %q", d.Comment, want)
	}
}

func BenchmarkGetDistribution(b *testing.B) {
	e := newEnv(b, "", "")
	resp, data := e.do("POST", "/distributions", distribution("shop", "o1"))
	e.want(resp, data, http.StatusCreated, nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, data := e.do("GET", "/distributions/shop", nil)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d: %s", resp.StatusCode, data)
		}
	}
}

// TestWarningsForInertFields: a distribution that sets a field nothing acts
// on yet is accepted, and create, update, get and list say which field, as
// Warning headers (and in the list item); one that sets none gets none.
func TestWarningsForInertFields(t *testing.T) {
	e := newEnv(t, "", "")
	const price = `299 - "distributions[0].logging: accepted but not yet acted on (access logs come with the logging stage; nothing is written)"`

	d := distribution("shop", "o1")
	d["logging"] = map[string]any{"enabled": true}
	resp, data := e.do("POST", "/distributions", d)
	e.want(resp, data, http.StatusCreated, nil)
	if got := resp.Header.Values("Warning"); !slices.Equal(got, []string{price}) {
		t.Errorf("create: Warning = %q, want %q", got, price)
	}
	tag := resp.Header.Get("ETag")

	resp, data = e.do("GET", "/distributions/shop", nil)
	e.want(resp, data, http.StatusOK, nil)
	if got := resp.Header.Values("Warning"); !slices.Equal(got, []string{price}) {
		t.Errorf("get: Warning = %q", got)
	}
	var list struct {
		Items []Item `json:"items"`
	}
	resp, data = e.do("GET", "/distributions", nil)
	e.want(resp, data, http.StatusOK, &list)
	if len(list.Items) != 1 || len(list.Items[0].Warnings) != 1 || !strings.HasPrefix(list.Items[0].Warnings[0], "distributions[0].logging: accepted but not yet acted on") {
		t.Errorf("list: %s", data)
	}

	// An inert field, on update.
	d["logging"] = map[string]any{"enabled": true}
	resp, data = e.do("PUT", "/distributions/shop", d, "If-Match", tag)
	e.want(resp, data, http.StatusOK, nil)
	got := strings.Join(resp.Header.Values("Warning"), "\n")
	for _, field := range []string{"logging"} {
		if !strings.Contains(got, `"distributions[0].`+field+`: accepted but not yet acted on (`) {
			t.Errorf("update: no warning for %s in %q", field, got)
		}
	}
	tag = resp.Header.Get("ETag")

	// Back to the defaults: no warning.
	d = distribution("shop", "o1")
	d["logging"] = map[string]any{"enabled": false}
	resp, data = e.do("PUT", "/distributions/shop", d, "If-Match", tag)
	e.want(resp, data, http.StatusOK, nil)
	if got := resp.Header.Values("Warning"); len(got) != 0 {
		t.Errorf("defaults: Warning = %q", got)
	}
	resp, data = e.do("GET", "/distributions", nil)
	if strings.Contains(string(data), "warnings") {
		t.Errorf("list of a distribution without inert fields: %s", data)
	}
}

// TestDistributionDNSName: with a DNS zone, a distribution created without
// a domainName gets d + 13 random letters and digits in the zone, an update
// that leaves domainName out keeps it, and one that names its own keeps
// that.
func TestDistributionDNSName(t *testing.T) {
	e := newEnv(t, "", "")
	e.srv.dnsZone = "cdn.example.test"
	d := distribution("", "o1")
	delete(d, "id")
	resp, data := e.do("POST", "/distributions", d)
	var got struct {
		ID         string `json:"id"`
		DomainName string `json:"domainName"`
	}
	e.want(resp, data, http.StatusCreated, &got)
	if !regexp.MustCompile(`^d[a-z0-9]{13}\.cdn\.example\.test$`).MatchString(got.DomainName) {
		t.Fatalf("domain name %q", got.DomainName)
	}
	name := got.DomainName
	d["comment"] = "changed"
	resp, data = e.do("PUT", "/distributions/"+got.ID, d, "If-Match", resp.Header.Get("ETag"))
	e.want(resp, data, http.StatusOK, &got)
	if got.DomainName != name {
		t.Errorf("update changed the domain name: %q, was %q", got.DomainName, name)
	}
	d2 := distribution("own", "o1")
	d2["domainName"] = "www.example.org"
	resp, data = e.do("POST", "/distributions", d2)
	e.want(resp, data, http.StatusCreated, &got)
	if got.DomainName != "www.example.org" {
		t.Errorf("own domain name replaced: %q", got.DomainName)
	}
	e.srv.dnsZone = ""
	resp, data = e.do("POST", "/distributions", distribution("plain", "o1"))
	e.want(resp, data, http.StatusCreated, &got)
	if got.DomainName != "plain.strata.localhost" {
		t.Errorf("without a zone: %q", got.DomainName)
	}
}
