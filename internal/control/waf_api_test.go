package control

import (
	"net/http"
	"strings"
	"testing"
)

// TestWebACLsAPI: IP sets and web ACLs are REST resources in AWS's JSON
// shape, with ETag/If-Match as distributions; references are checked.
func TestWebACLsAPI(t *testing.T) {
	e := newEnv(t, "", "")
	// get-ip-set's output, wrapper and all, with Strata's id.
	resp, data := e.do("POST", "/ipsets", `{"id":"bad","IPSet":{"Name":"bad","IPAddressVersion":"IPV4","Addresses":["192.0.2.0/24"]},"LockToken":"x"}`)
	e.want(resp, data, http.StatusCreated, nil)
	ipTag := resp.Header.Get("ETag")
	if !strings.Contains(string(data), `"id":"bad","Name":"bad","IPAddressVersion":"IPV4","Addresses":["192.0.2.0/24"]`) {
		t.Errorf("stored IP set %s", data)
	}
	acl := `{"id":"acl","Name":"acl","DefaultAction":{"Allow":{}},"Rules":[{"Name":"ips","Priority":0,"Action":{"Block":{}},
	  "Statement":{"IPSetReferenceStatement":{"ARN":"arn:aws:wafv2:us-east-1:123456789012:global/ipset/bad/bad"}}}]}`
	resp, data = e.do("POST", "/webacls", acl)
	e.want(resp, data, http.StatusCreated, nil)
	tag := resp.Header.Get("ETag")

	resp, data = e.do("POST", "/webacls", `{"id":"x","Name":"x","DefaultAction":{"Allow":{}},"Rules":[{"Name":"r","Priority":0,"Action":{"Block":{}},"Statement":{"JA4Fingerprint":{}}}]}`)
	if ae := e.wantError(resp, data, http.StatusBadRequest, CodeInvalidArgument); len(ae.Errors) != 1 ||
		ae.Errors[0].Path != "webACLs[0].Rules[0].Statement.JA4Fingerprint" || !strings.Contains(ae.Errors[0].Message, "not supported by Strata") {
		t.Errorf("unsupported statement: %s", data)
	}

	d := distribution("shop", "o1")
	d["webACLId"] = "acl"
	resp, data = e.do("POST", "/distributions", d)
	e.want(resp, data, http.StatusCreated, nil)
	if w := resp.Header.Values("Warning"); len(w) != 0 {
		t.Errorf("webACLId still warned about: %q", w)
	}

	// Update with a stale ETag, then the right one.
	updated := strings.Replace(acl, `"Allow":{}},"Rules"`, `"Block":{}},"Rules"`, 1)
	resp, data = e.do("PUT", "/webacls/acl", updated, "If-Match", `"999"`)
	e.wantError(resp, data, http.StatusPreconditionFailed, CodePreconditionFailed)
	resp, data = e.do("PUT", "/webacls/acl", updated, "If-Match", tag)
	e.want(resp, data, http.StatusOK, nil)
	resp, data = e.do("GET", "/webacls/acl", nil)
	e.want(resp, data, http.StatusOK, nil)
	tag = resp.Header.Get("ETag")
	if !strings.Contains(string(data), `"DefaultAction":{"Block":{}}`) {
		t.Errorf("get after update: %s", data)
	}

	// In use: the IP set by the web ACL, the web ACL by the distribution.
	resp, data = e.do("DELETE", "/ipsets/bad", nil, "If-Match", ipTag)
	e.wantError(resp, data, http.StatusConflict, CodeResourceInUse)
	resp, data = e.do("DELETE", "/webacls/acl", nil, "If-Match", tag)
	e.wantError(resp, data, http.StatusConflict, CodeResourceInUse)
}
