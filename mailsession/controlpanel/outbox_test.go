package controlpanel

import (
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
)

// outboxMessages are the messages of a test outbox, one per situation the
// section shows.
type outboxMessages struct {
	ok       outbox.ID // Sent
	bad      outbox.ID // Failed: its only recipient refused with 550
	temp     outbox.ID // Pending after a 451, due in an hour
	later    outbox.ID // Pending, scheduled in an hour, never tried
	canceled outbox.ID // Canceled before its first attempt
}

// openTestOutbox opens an outbox on a new SQLite file, with opts, sending
// to an embedded mail server of its own; both close when the test ends.
func openTestOutbox(t *testing.T, opts ...outbox.Option) (*outbox.Outbox, *mailtest.Server) {
	t.Helper()
	srv := mailtest.NewServer(t)
	sess, err := mailsession.FromProperties(srv.Properties(mailtest.Plain, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	opts = append([]outbox.Option{outbox.WithMigrate(), outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	ob, err := outbox.Open(testContext(t), sess, outbox.SQLite(filepath.Join(t.TempDir(), "outbox.db")), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	return ob, srv
}

// newTestOutbox opens an outbox on an SQLite file, sending to its own
// embedded mail server, and brings one message into each situation of
// outboxMessages. Its workers are stopped when it returns, so nothing
// changes behind the test's back.
func newTestOutbox(t *testing.T) (*outbox.Outbox, outboxMessages) {
	t.Helper()
	ctx := testContext(t)
	ob, srv := openTestOutbox(t,
		outbox.WithPollInterval(20*time.Millisecond),
		outbox.WithBackoff(time.Hour, time.Hour)) // a temporary failure stays Pending
	srv.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"bad@example.org": 550, "temp@example.org": 451}})
	enqueue := func(to string, opts ...outbox.EnqueueOption) outbox.ID {
		t.Helper()
		id, err := ob.Enqueue(ctx, &mailsession.Message{From: "app@example.net", To: []string{to}, Subject: "hello", Text: "Hi!\n"}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	inAnHour := outbox.At(time.Now().Add(time.Hour))
	m := outboxMessages{
		ok: enqueue("ok@example.org"), bad: enqueue("bad@example.org"), temp: enqueue("temp@example.org"),
		later: enqueue("later@example.org", inAnHour), canceled: enqueue("cancel@example.org", inAnHour),
	}
	if err := ob.Cancel(ctx, m.canceled); err != nil {
		t.Fatal(err)
	}
	if err := ob.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitOutbox(t, ob, m.ok, func(st *outbox.Status) bool { return st.State == outbox.Sent })
	waitOutbox(t, ob, m.bad, func(st *outbox.Status) bool { return st.State == outbox.Failed })
	waitOutbox(t, ob, m.temp, func(st *outbox.Status) bool {
		return st.State == outbox.Pending && st.Attempts == 1 && st.LastError != ""
	})
	if err := ob.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	return ob, m
}

// waitOutbox polls the message's status until done accepts it, failing
// the test when the test's context ends first.
func waitOutbox(t *testing.T, ob *outbox.Outbox, id outbox.ID, done func(*outbox.Status) bool) *outbox.Status {
	t.Helper()
	ctx := testContext(t)
	for {
		st, err := ob.Status(ctx, id)
		if err != nil {
			t.Fatalf("Status(%v): %v", id, err)
		}
		if done(st) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("message %v: %+v, still not in the state the test waits for", id, st)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func outboxStatus(t *testing.T, ob *outbox.Outbox, id outbox.ID) *outbox.Status {
	t.Helper()
	st, err := ob.Status(testContext(t), id)
	if err != nil {
		t.Fatalf("Status(%v): %v", id, err)
	}
	return st
}

// noRedirect is a client with c's cookies that does not follow redirects.
func noRedirect(c *http.Client) *http.Client {
	return &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// outboxPost posts an outbox action with the token tok (none if empty)
// and returns the response, its body read.
func (f *fixture) outboxPost(action string, id string, tok string) (*http.Response, string) {
	f.t.Helper()
	form := url.Values{"action": {action}, fOutboxID: {id}}
	if tok != "" {
		form.Set(csrfField, tok)
	}
	resp, err := noRedirect(f.client).PostForm(f.srv.URL, form)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp, readBody(f.t, resp)
}

// resolve returns the URL a Location header sends the browser to.
func (f *fixture) resolve(loc string) string {
	f.t.Helper()
	base, err := url.Parse(f.srv.URL + "/")
	if err != nil {
		f.t.Fatal(err)
	}
	ref, err := url.Parse(loc)
	if err != nil {
		f.t.Fatal(err)
	}
	return base.ResolveReference(ref).String()
}

var (
	flashRE = regexp.MustCompile(`id="outbox-flash">([^<]*)</p>`)
	rowRE   = regexp.MustCompile(`(?s)<tr id="outbox-message-(\d+)">(.*?)</tr>`)
)

// outboxRows returns the failure rows of a page by message ID.
func outboxRows(page string) map[string]string {
	rows := map[string]string{}
	for _, m := range rowRE.FindAllStringSubmatch(page, -1) {
		rows[m[1]] = m[2]
	}
	return rows
}

func count(page, state string) string {
	m := regexp.MustCompile(`id="outbox-count-` + state + `">(\d+)</dd>`).FindStringSubmatch(page)
	if m == nil {
		return "none"
	}
	return m[1]
}

func TestOutboxSection(t *testing.T) {
	ob, m := newTestOutbox(t)
	f := newFixture(t, "", WithoutAuthorization(), WithOutbox(ob))
	page, _ := f.get(f.client)

	for state, want := range map[string]string{"pending": "2", "sending": "0", "sent": "1", "failed": "1", "canceled": "1"} {
		if got := count(page, state); got != want {
			t.Errorf("count of %s: %s, want %s", state, got, want)
		}
	}
	rows := outboxRows(page)
	if len(rows) != 2 {
		t.Fatalf("failure rows for %v, want the failed and the deferred message only", rows)
	}
	bad, temp := rows[m.bad.String()], rows[m.temp.String()]
	st := outboxStatus(t, ob, m.bad)
	reply := st.Recipients[0].Reply
	if !strings.Contains(reply, "<bad@example.org>") {
		t.Fatalf("the server's reply %q does not name the recipient in <...>: the escaping check below would prove nothing", reply)
	}
	for _, want := range []string{
		`<span class="status bad">Failed</span>`,
		"bad@example.org</span> <span class=\"status bad\">Failed</span>",
		"<code>550</code> " + html.EscapeString(reply),
		`<td>1</td>`, // attempts
		`value="retry"`,
		`<time datetime="` + st.Updated.UTC().Format(time.RFC3339) + `">`,
	} {
		if !strings.Contains(bad, want) {
			t.Errorf("the failed message's row lacks %q:\n%s", want, bad)
		}
	}
	if strings.Contains(page, reply) {
		t.Errorf("the reply %q is in the page unescaped", reply)
	}
	if strings.Contains(bad, `value="cancel"`) {
		t.Errorf("a Failed message offers Cancel:\n%s", bad)
	}
	for _, want := range []string{`<span class="status wait">Pending</span>`, "next attempt", "<code>451</code>", `value="retry"`, `value="cancel"`} {
		if !strings.Contains(temp, want) {
			t.Errorf("the deferred message's row lacks %q:\n%s", want, temp)
		}
	}
	if !strings.Contains(page, `name="id" value="`+m.temp.String()+`"`) || !strings.Contains(page, `id="outbox"`) {
		t.Errorf("the buttons do not carry the message's ID")
	}
	if strings.Count(page, `name="csrf_token" value="`) != 2+3 {
		t.Errorf("every form, the three buttons' included, must carry the CSRF token")
	}

	// A page answering a POST (Test connection) shows the section too.
	status, body := f.post(f.form("test"))
	if status != http.StatusOK || count(body, "failed") != "1" {
		t.Errorf("Test connection: %d, failed count %s; want the section there too", status, count(body, "failed"))
	}

	// Without WithOutbox there is no section, and no outbox action.
	plain := newFixture(t, "", WithoutAuthorization())
	page, tok := plain.get(plain.client)
	if strings.Contains(page, `id="outbox"`) || strings.Contains(page, "Outbox") {
		t.Errorf("a page without an outbox shows an Outbox section")
	}
	if resp, body := plain.outboxPost(actionRetry, m.bad.String(), tok); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("Retry without an outbox: %s, want 400\n%s", resp.Status, body)
	}
}

func TestOutboxEmpty(t *testing.T) {
	ob, _ := openTestOutbox(t)
	f := newFixture(t, "", WithoutAuthorization(), WithOutbox(ob))
	page, _ := f.get(f.client)
	for _, state := range []string{"pending", "sending", "sent", "failed", "canceled"} {
		if got := count(page, state); got != "0" {
			t.Errorf("count of %s in an empty outbox: %s, want 0", state, got)
		}
	}
	if !strings.Contains(page, "No failures") || strings.Contains(page, "<table") {
		t.Errorf("an empty outbox should say it has no failures, without a table")
	}
}

func TestOutboxActions(t *testing.T) {
	var log lockedBuffer
	ob, m := newTestOutbox(t)
	f := newFixture(t, "", WithoutAuthorization(), WithOutbox(ob), WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	const unknown = outbox.ID(987654)
	// In order: each case sees the outbox the ones before it left.
	cases := []struct {
		name      string
		action    string
		id        outbox.ID
		flash     string
		ok        bool
		wantState outbox.State
	}{
		{"cancel a Failed message", actionCancel, m.bad, "Message " + m.bad.String() + " cannot be canceled: it is already failed.", false, outbox.Failed},
		{"retry a Failed message", actionRetry, m.bad, "Message " + m.bad.String() + " will be retried now.", true, outbox.Pending},
		{"retry a message sent to everyone", actionRetry, m.ok, "Message " + m.ok.String() + " was not retried: it has already been sent to every recipient.", false, outbox.Sent},
		{"cancel a deferred message", actionCancel, m.temp, "Message " + m.temp.String() + " canceled.", true, outbox.Canceled},
		{"cancel a scheduled message", actionCancel, m.later, "Message " + m.later.String() + " canceled.", true, outbox.Canceled},
		{"cancel a canceled message", actionCancel, m.canceled, "Message " + m.canceled.String() + " canceled.", true, outbox.Canceled},
		{"retry a canceled message", actionRetry, m.canceled, "Message " + m.canceled.String() + " will be retried now.", true, outbox.Pending},
		{"retry an unknown message", actionRetry, unknown, "Message 987654 is not in the outbox: nothing was done.", false, 0},
		{"cancel an unknown message", actionCancel, unknown, "Message 987654 is not in the outbox: nothing was done.", false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, tok := f.get(f.client)
			resp, body := f.outboxPost(c.action, c.id.String(), tok)
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "?"+outboxParam+"=") || !strings.HasSuffix(loc, "#outbox") {
				t.Fatalf("%s: %s, Location %q; want 303 to the page's outbox section\n%s", c.action, resp.Status, loc, body)
			}
			next := f.resolve(loc)
			r, err := f.client.Get(next)
			if err != nil {
				t.Fatal(err)
			}
			page := readBody(t, r)
			fl := flashRE.FindStringSubmatch(page)
			if r.StatusCode != http.StatusOK || fl == nil || html.UnescapeString(fl[1]) != c.flash {
				t.Fatalf("after the redirect: %s, flash %q; want %q", r.Status, fl, c.flash)
			}
			if cls := `class="banner ok" role="status" id="outbox-flash"`; strings.Contains(page, cls) != c.ok {
				t.Errorf("flash shown as success: %v, want %v", !c.ok, c.ok)
			}
			if c.id != unknown {
				if st := outboxStatus(t, ob, c.id); st.State != c.wantState {
					t.Errorf("message %v is %v after %s, want %v", c.id, st.State, c.action, c.wantState)
				}
			}
			// The flash belongs to this browser: another one does not see it.
			other := f.newClient()
			r, err = other.Get(next)
			if err != nil {
				t.Fatal(err)
			}
			if p := readBody(t, r); strings.Contains(p, `id="outbox-flash"`) {
				t.Errorf("another browser sees the flash")
			}
		})
	}
	if st := outboxStatus(t, ob, m.bad); !st.Next.IsZero() && st.Next.After(time.Now()) {
		t.Errorf("the retried message is due at %v, want now", st.Next)
	}
	logged := log.String()
	for _, want := range []string{"controlpanel: outbox retry", "id=" + m.bad.String(), "controlpanel: outbox cancel failed", "no such message"} {
		if !strings.Contains(logged, want) {
			t.Errorf("the log lacks %q:\n%s", want, logged)
		}
	}
	// After the actions: bad and canceled pending again, temp no longer a
	// failure worth showing (canceled).
	page, _ := f.get(f.client)
	for state, want := range map[string]string{"pending": "2", "sending": "0", "sent": "1", "failed": "0", "canceled": "2"} {
		if got := count(page, state); got != want {
			t.Errorf("count of %s after the actions: %s, want %s", state, got, want)
		}
	}
}

// Outbox actions that must not happen: no or a forged token, a GET, a
// malformed ID. Nothing changes in the outbox.
func TestOutboxActionsRefused(t *testing.T) {
	ob, m := newTestOutbox(t)
	f := newFixture(t, "", WithoutAuthorization(), WithOutbox(ob))
	_, tok := f.get(f.client)
	before := outboxStatus(t, ob, m.bad)
	for _, c := range []struct {
		name   string
		action string
		id     string
		tok    string
		status int
		body   string
	}{
		{"retry without a token", actionRetry, m.bad.String(), "", http.StatusForbidden, "security token"},
		{"cancel without a token", actionCancel, m.temp.String(), "", http.StatusForbidden, "security token"},
		{"retry with a forged token", actionRetry, m.bad.String(), strings.Repeat("A", len(tok)), http.StatusForbidden, "security token"},
		{"empty ID", actionRetry, "", tok, http.StatusBadRequest, "message ID"},
		{"letters", actionRetry, "twelve", tok, http.StatusBadRequest, "message ID"},
		{"negative", actionCancel, "-" + m.temp.String(), tok, http.StatusBadRequest, "message ID"},
		{"zero", actionRetry, "0", tok, http.StatusBadRequest, "message ID"},
		{"plus sign", actionRetry, "+" + m.bad.String(), tok, http.StatusBadRequest, "message ID"},
		{"leading zero", actionRetry, "0" + m.bad.String(), tok, http.StatusBadRequest, "message ID"},
		{"space", actionRetry, " " + m.bad.String(), tok, http.StatusBadRequest, "message ID"},
		{"overflow", actionRetry, "99999999999999999999", tok, http.StatusBadRequest, "message ID"},
		{"exponent", actionRetry, "1e3", tok, http.StatusBadRequest, "message ID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := f.outboxPost(c.action, c.id, c.tok)
			if resp.StatusCode != c.status || !strings.Contains(body, c.body) {
				t.Errorf("%s: %s, want %d saying %q\n%s", c.name, resp.Status, c.status, c.body, body)
			}
		})
	}
	t.Run("two IDs", func(t *testing.T) {
		form := url.Values{"action": {actionCancel}, fOutboxID: {m.temp.String(), m.later.String()}, csrfField: {tok}}
		if status, body := f.postRaw(noRedirect(f.client), form, nil); status != http.StatusBadRequest {
			t.Errorf("two IDs: %d, want 400\n%s", status, body)
		}
	})
	t.Run("GET", func(t *testing.T) {
		for _, action := range []string{actionRetry, actionCancel} {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				q := url.Values{"action": {action}, fOutboxID: {m.temp.String()}, csrfField: {tok}}
				req, _ := http.NewRequest(method, f.srv.URL+"?"+q.Encode(), nil)
				resp, err := f.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				readBody(t, resp)
				if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
					t.Errorf("%s %s: %s, Allow %q; want 405, Allow: POST", method, action, resp.Status, resp.Header.Get("Allow"))
				}
			}
		}
	})
	after := outboxStatus(t, ob, m.bad)
	if after.State != outbox.Failed || !after.Updated.Equal(before.Updated) {
		t.Errorf("a refused Retry changed the failed message: %+v", after)
	}
	for _, id := range []outbox.ID{m.temp, m.later} {
		if st := outboxStatus(t, ob, id); st.State != outbox.Pending {
			t.Errorf("a refused Cancel changed message %v: %v", id, st.State)
		}
	}
}

// The outbox's database cannot be read: the page still works, and the
// section says what is wrong.
func TestOutboxUnreadable(t *testing.T) {
	ob, m := newTestOutbox(t)
	f := newFixture(t, "", WithoutAuthorization(), WithOutbox(ob))
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	page, tok := f.get(f.client)
	for _, want := range []string{`id="smtpHost"`, `id="outbox"`, "The counts cannot be read: ", "The latest failures cannot be read: "} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if count(page, "failed") != "none" || strings.Contains(page, "No failures") {
		t.Errorf("an unreadable outbox is shown with counts or as empty")
	}
	resp, _ := f.outboxPost(actionRetry, m.bad.String(), tok)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("Retry on a closed outbox: %s, want 303", resp.Status)
	}
	r, err := f.client.Get(f.resolve(resp.Header.Get("Location")))
	if err != nil {
		t.Fatal(err)
	}
	fl := flashRE.FindStringSubmatch(readBody(t, r))
	if fl == nil || !strings.HasPrefix(fl[1], "Message "+m.bad.String()+" was not retried: ") {
		t.Errorf("flash %q, want the error", fl)
	}
}
