package mailsession_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// A readiness endpoint for the session: mount the handler on the service's
// mux (here behind a test server) and point the probe at it. The answer is
// 200 while the relay and the mailbox accept a fresh login, else 503; it
// comes within two seconds whatever the servers do, and a check runs at most
// every 30 seconds however often the probes come.
func ExampleHealthHandler() {
	srv, err := mailtest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	s, err := mailsession.FromProperties(srv.Properties(mailtest.StartTLS, "imap"), mailsession.WithRootCAs(srv.CertPool()), quiet)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /readyz", mailsession.HealthHandler(s, mailsession.HealthOptions{
		Timeout:  2 * time.Second,
		CacheFor: 30 * time.Second,
	}))
	hs := httptest.NewServer(mux)
	defer hs.Close()

	resp, err := http.Get(hs.URL + "/readyz")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var rep mailsession.HealthReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, rep.Status, resp.Header.Get("Content-Type"))
	for _, ep := range []*mailsession.HealthEndpoint{rep.Transport, rep.Store} {
		fmt.Printf("%s: TLS %t, logged in %t, error %q\n", ep.Protocol, ep.TLSVersion != "", ep.Authenticated, ep.Error)
	}
	// Output:
	// 200 healthy application/json
	// smtp: TLS true, logged in true, error ""
	// imap: TLS true, logged in true, error ""
}
