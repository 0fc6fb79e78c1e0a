package managed

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	t0 := time.Now()
	g := mustNew(t, Options{Vendor: "OWASP", Name: "CoreRuleSet"})
	t.Logf("build %v rules %d", time.Since(t0), len(g.Rules()))
	addr := serve(t, wafHandler(t, g))
	for _, u := range []string{"/?id=1%27%20OR%201=1--", "/index.html?q=hello+world", "/?x=<script>alert(1)</script>", "/?f=../../../etc/passwd", "/?c=;cat%20/etc/passwd"} {
		req, _ := http.NewRequest("GET", "http://"+addr+u, nil)
		req.Header.Set("User-Agent", "Mozilla/5.0")
		req.Header.Set("Accept", "text/html")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		t.Logf("%s -> %d matched=%s blocked=%s", u, resp.StatusCode, resp.Header.Get("X-Matched-Rules"), resp.Header.Get("X-Blocked-By"))
	}
	_ = strings.Join
}
