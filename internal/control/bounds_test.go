package control

import (
	"net/http"
	"strings"
	"testing"
)

// The API refuses numbers out of range with the config validator's field
// path, as strata validate does, and stores nothing. A TTL of 1e10 s used to
// be accepted (201) and then disable caching (time.Duration overflow).
func TestAPIRefusesOutOfRangeNumbers(t *testing.T) {
	e := newEnv(t, "", "")
	const big = 10_000_000_000
	for _, tc := range []struct {
		name, path string
		body       map[string]any
		field, msg string
	}{
		{"maxTTL", "/cache-policies", map[string]any{"id": "long", "maxTTL": big}, "cachePolicies[0].maxTTL", "out of range"},
		{"defaultTTL", "/cache-policies", map[string]any{"id": "long", "defaultTTL": big}, "cachePolicies[0].defaultTTL", "out of range"},
		{"minTTL", "/cache-policies", map[string]any{"id": "long", "minTTL": big}, "cachePolicies[0].minTTL", "out of range"},
		{"errorCachingMinTTL", "/distributions", func() map[string]any {
			d := distribution("shop", "o1")
			d["customErrorResponses"] = []any{map[string]any{"errorCode": 404, "errorCachingMinTTL": big}}
			return d
		}(), "distributions[0].customErrorResponses[0].errorCachingMinTTL", "out of range"},
		{"originReadTimeout", "/distributions", func() map[string]any {
			d := distribution("shop", "o1")
			d["origins"] = []any{map[string]any{"id": "o1", "url": "http://127.0.0.1:9000",
				"customOriginConfig": map[string]any{"originReadTimeout": "1h"}}}
			return d
		}(), "distributions[0].origins[0].customOriginConfig.originReadTimeout", "out of range"},
		{"CORS max-age", "/response-headers-policies", map[string]any{"id": "cors", "cors": map[string]any{
			"accessControlAllowOrigins": []string{"*"}, "accessControlMaxAgeSec": big}},
			"responseHeadersPolicies[0].cors.accessControlMaxAgeSec", "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := e.do("POST", tc.path, tc.body)
			ae := e.wantError(resp, data, http.StatusBadRequest, CodeInvalidArgument)
			for _, fe := range ae.Errors {
				if fe.Path == tc.field && strings.Contains(fe.Message, tc.msg) {
					return
				}
			}
			t.Errorf("errors %s do not name %s", data, tc.field)
		})
	}
	for _, list := range []string{"/cache-policies", "/distributions", "/response-headers-policies"} {
		resp, data := e.do("GET", list, nil)
		var l List[Item]
		e.want(resp, data, http.StatusOK, &l)
		if l.Quantity != 0 {
			t.Errorf("%s: an invalid resource was stored: %s", list, data)
		}
	}
}
