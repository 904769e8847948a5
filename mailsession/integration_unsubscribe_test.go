//go:build integration

package mailsession_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
)

// mailpitUnsubscribe is the ListUnsubscribe check of Mailpit's
// GET /api/v1/message/{ID}.
type mailpitUnsubscribe struct {
	ListUnsubscribe struct {
		Header     string
		HeaderPost string
		Links      []string
		Errors     string
	}
}

// TestIntegrationMailpitListUnsubscribe: Mailpit's List-Unsubscribe check
// passes on the headers of UnsubscribeURL and UnsubscribeMailto, and fails
// on a malformed header sent as it is (so that the check can fail).
func TestIntegrationMailpitListUnsubscribe(t *testing.T) {
	e := stack(t)
	mp := e.mailpit()
	ctx := testContext(t, time.Minute)
	a := e.mailpitUser()
	smtp := endpointSpec{"smtp", e["JMAIL_IT_HOST"], e.port("JMAIL_IT_MAILPIT_SMTP_PORT"), startTLS, a}
	from := "news@" + e.domain()
	s := sessionFrom(t, false, javaMailProps(t, smtp, nil, from))
	to := "reader@mailpit.jmail.test"
	check := func(subject string) mailpitUnsubscribe {
		t.Helper()
		got := mp.find(t, subject)
		var u mailpitUnsubscribe
		mp.do(t, http.MethodGet, "/api/v1/message/"+got.ID, &u)
		return u
	}

	ours := uniq("unsubscribe-ours")
	err := s.Send(ctx, &mailsession.Message{
		From: from, To: []string{to}, Subject: ours, Text: "digest\n",
		UnsubscribeURL: "https://news.example.com/unsubscribe?u=42&t=abc", UnsubscribeMailto: "unsubscribe@" + e.domain(),
		ListID: "Weekly digest <digest.example.com>",
	})
	if err != nil {
		t.Fatal(err)
	}
	u := check(ours).ListUnsubscribe
	t.Logf("Mailpit: %+v", u)
	if u.Errors != "" || u.HeaderPost != "List-Unsubscribe=One-Click" ||
		!slices.Contains(u.Links, "https://news.example.com/unsubscribe?u=42&t=abc") || !slices.Contains(u.Links, "mailto:unsubscribe@"+e.domain()) {
		t.Errorf("Mailpit's List-Unsubscribe check on our headers: %+v", u)
	}

	broken := uniq("unsubscribe-broken")
	raw := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\nList-Unsubscribe: https://news.example.com/unsubscribe\r\n\r\ndigest\r\n",
		from, to, broken, time.Now().Format(time.RFC1123Z), broken, e.domain())
	if err := s.SendRaw(ctx, from, []string{to}, bytes.NewReader([]byte(raw))); err != nil {
		t.Fatal(err)
	}
	if u := check(broken).ListUnsubscribe; u.Errors == "" {
		t.Errorf("Mailpit found no error in a List-Unsubscribe without angle brackets: %+v", u)
	}
}
