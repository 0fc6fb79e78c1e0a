package originauth_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/strata-cdn/strata/pkg/originauth"
	"github.com/strata-cdn/strata/pkg/sigv4"
)

func ExampleHandler() {
	// The origin: any http.Handler, behind originauth.Handler.
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello from the origin") })
	keys := map[string]string{"strata-origin-1": "a-long-random-secret"}
	origin := httptest.NewServer(originauth.Handler(app, originauth.Options{Keys: keys}))
	defer origin.Close()

	// What Strata does: sign with the same key, region us-east-1, service strata.
	signed, _ := http.NewRequest("GET", origin.URL+"/index.html", nil)
	creds := sigv4.Credentials{AccessKeyID: "strata-origin-1", SecretAccessKey: "a-long-random-secret"}
	if err := sigv4.Sign(signed, creds, "us-east-1", "strata", time.Now(), sigv4.EmptyPayloadHash); err != nil {
		fmt.Println(err) // the Output check below then fails
		return
	}

	unsigned, _ := http.NewRequest("GET", origin.URL+"/index.html", nil)

	for _, r := range []*http.Request{signed, unsigned} {
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s\n", resp.StatusCode, body)
	}
	// Output:
	// 200 hello from the origin
	// 403 strata origin auth: missing-authorization
}
