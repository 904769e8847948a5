//go:build integration

package mailsession_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/jmailgo/jmail/mailsession"
)

// rawMessage is a message whose exact bytes the suite knows: CRLF line ends,
// 8-bit UTF-8, a line starting with a dot, a long (but legal) line, trailing
// white space and a blank line before the end.
func rawMessage(from, to, subject string) []byte {
	long := strings.Repeat("0123456789", 90) // 900 characters: under 998
	return []byte(strings.Join([]string{
		"Message-Id: <" + subject + "@integration.jmail.test>",
		"Date: Sat, 28 Nov 2026 12:00:00 +0000",
		"From: Integration <" + from + ">",
		"To: " + to,
		"Subject: " + subject,
		"X-Jmail-Test: " + subject,
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: 8bit",
		"",
		"Grüße aus der Integration: ✉ 日本語",
		".a line that starts with a dot",
		"..two dots",
		".",
		long,
		"trailing white space   ",
		"\tindented",
		"",
		"end",
		"",
	}, "\r\n"))
}

// composed is what the suite sends with Send: text, HTML and an attachment.
type composed struct {
	subject, text, html, filename, contentType string
	data                                       []byte
}

func newComposed(subject string) composed {
	data := make([]byte, 70_000)
	for i := range data {
		data[i] = byte(i*7 + i/251) // binary, not text
	}
	return composed{
		subject:     subject,
		text:        "Hello from the integration suite.\nÄrger mit Umlauten? Nein: ✓\n" + strings.Repeat("long line ", 150) + "\n",
		html:        "<p>Hello from the <b>integration</b> suite. ✓</p>",
		filename:    "report.bin",
		contentType: "application/octet-stream",
		data:        data,
	}
}

func (c composed) message(from string, to ...string) *mailsession.Message {
	return &mailsession.Message{
		From:    from,
		To:      to,
		Subject: c.subject,
		Text:    c.text,
		HTML:    c.html,
		Attachments: []mailsession.Attachment{{
			Filename:    c.filename,
			ContentType: c.contentType,
			Data:        bytes.NewReader(c.data),
		}},
	}
}

// verify parses raw and checks the subject, both bodies and the attachment.
func (c composed) verify(t testing.TB, raw []byte) {
	t.Helper()
	mr, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parsing the delivered message: %v", err)
	}
	if got, _ := mr.Header.Subject(); got != c.subject {
		t.Errorf("Subject = %q, want %q", got, c.subject)
	}
	var text, html, att []byte
	var name string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading parts: %v", err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatalf("reading a part: %v", err)
		}
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			ct, _, _ := h.ContentType()
			if ct == "text/html" {
				html = body
			} else if ct == "text/plain" {
				text = body
			}
		case *mail.AttachmentHeader:
			name, _ = h.Filename()
			att = body
		}
	}
	if normalizeNL(string(text)) != c.text {
		t.Errorf("text body = %q, want %q", text, c.text)
	}
	if normalizeNL(string(html)) != normalizeNL(c.html) {
		t.Errorf("HTML body = %q, want %q", html, c.html)
	}
	if name != c.filename || !bytes.Equal(att, c.data) {
		t.Errorf("attachment %q (%d bytes), want %q (%d bytes) with the same content", name, len(att), c.filename, len(c.data))
	}
}

func normalizeNL(s string) string {
	return strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n") + "\n"
}

// TestIntegrationPostfixDovecot sends through Postfix, with a session built
// from a Liferay portal-ext.properties and one from JavaMail properties, in
// every TLS mode, and reads each message back from Dovecot over POP3 and
// IMAP: the known bytes sent with SendRaw come back byte for byte after the
// MTA's trace headers, and the composed message is identical over both
// protocols.
func TestIntegrationPostfixDovecot(t *testing.T) {
	e := stack(t)
	users := []string{"alice", "bob", "carol", "dave", "erin", "frank"}
	i := 0
	for _, style := range []string{"portal", "javamail"} {
		for _, mode := range []tlsMode{plain, startTLS, implicit} {
			user := e.user(users[i])
			i++
			t.Run(style+"/"+mode.String(), func(t *testing.T) {
				roundTrip(t, e, style == "portal", mode, user)
			})
		}
	}
}

func roundTrip(t *testing.T, e itEnv, portal bool, mode tlsMode, user account) {
	ctx := testContext(t, 2*time.Minute)
	e.emptyMailbox(t, user)
	// The production-like address: Dovecot refuses plaintext login there
	// before TLS, so the plain mode reads from 127.0.0.1.
	host := e["JMAIL_IT_STRICT_HOST"]
	storeHost := host
	if mode == plain {
		storeHost = e["JMAIL_IT_HOST"]
	}
	smtp := e.postfix(host, mode, user)
	build := func(store string) *mailsession.Session {
		st := e.dovecot(store, storeHost, mode, user)
		if portal {
			return sessionFrom(t, true, portalProps(t, smtp, &st, user.addr))
		}
		return sessionFrom(t, false, javaMailProps(t, smtp, &st, user.addr))
	}
	pop3, imap := build("pop3"), build("imap")

	rawSubject := uniq(t.Name() + "-raw")
	raw := rawMessage(user.addr, user.addr, rawSubject)
	if err := pop3.SendRaw(ctx, user.addr, []string{user.addr}, bytes.NewReader(raw)); err != nil {
		t.Fatalf("SendRaw: %v", err)
	}
	c := newComposed(uniq(t.Name() + "-composed"))
	if err := imap.Send(ctx, c.message(user.addr, user.addr)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if n := e.waitDelivered(t, user, 2, time.Minute); n != 2 {
		t.Fatalf("Dovecot holds %d messages, want 2", n)
	}

	viaPOP3, _ := readStore(t, ctx, pop3, "Subject")
	viaIMAP, _ := readStore(t, ctx, imap, "Subject")
	for proto, got := range map[string]map[string][]byte{"POP3": viaPOP3, "IMAP": viaIMAP} {
		if len(got) != 2 {
			t.Fatalf("%s lists %d messages, want 2", proto, len(got))
		}
		r, ok := got[rawSubject]
		if !ok {
			t.Fatalf("%s: the SendRaw message is missing", proto)
		}
		if body := stripTrace(t, r, mtaTraceHeaders); !bytes.Equal(body, raw) {
			t.Errorf("%s: the SendRaw message changed on the way: %s", proto, diff(body, raw))
		}
		m, ok := got[c.subject]
		if !ok {
			t.Fatalf("%s: the composed message is missing", proto)
		}
		c.verify(t, stripTrace(t, m, mtaTraceHeaders))
	}
	if !bytes.Equal(viaPOP3[c.subject], viaIMAP[c.subject]) {
		t.Errorf("POP3 and IMAP return different bytes for the composed message")
	}
}

// TestIntegrationMailpit sends to Mailpit (STARTTLS + AUTH) from both
// property styles and checks what arrived through its HTTP API and its POP3
// server: the known bytes exactly, the composed message part by part.
func TestIntegrationMailpit(t *testing.T) {
	e := stack(t)
	mp := e.mailpit()
	mp.deleteAll(t)
	for _, style := range []string{"portal", "javamail"} {
		t.Run(style, func(t *testing.T) {
			ctx := testContext(t, time.Minute)
			a := e.mailpitUser()
			smtp := endpointSpec{"smtp", e["JMAIL_IT_HOST"], e.port("JMAIL_IT_MAILPIT_SMTP_PORT"), startTLS, a}
			store := endpointSpec{"pop3", e["JMAIL_IT_HOST"], e.port("JMAIL_IT_MAILPIT_POP3_PORT"), plain, a}
			from := "sender@" + e.domain()
			var s *mailsession.Session
			if style == "portal" {
				s = sessionFrom(t, true, portalProps(t, smtp, &store, from))
			} else {
				s = sessionFrom(t, false, javaMailProps(t, smtp, &store, from))
			}
			to := "someone@mailpit.jmail.test"

			rawSubject := uniq(t.Name() + "-raw")
			raw := rawMessage(from, to, rawSubject)
			if err := s.SendRaw(ctx, from, []string{to}, bytes.NewReader(raw)); err != nil {
				t.Fatalf("SendRaw: %v", err)
			}
			got := mp.find(t, rawSubject)
			if body := stripTrace(t, mp.raw(t, got.ID), mailpitTraceHeaders); !bytes.Equal(body, raw) {
				t.Errorf("Mailpit API: the SendRaw message changed: %s", diff(body, raw))
			}

			c := newComposed(uniq(t.Name() + "-composed"))
			if err := s.Send(ctx, c.message(from, to)); err != nil {
				t.Fatalf("Send: %v", err)
			}
			m := mp.find(t, c.subject)
			if m.From.Address != from || len(m.To) != 1 || m.To[0].Address != to {
				t.Errorf("Mailpit: From %q To %v, want %q and %q", m.From.Address, m.To, from, to)
			}
			if normalizeNL(m.Text) != c.text || strings.TrimSpace(m.HTML) != c.html {
				t.Errorf("Mailpit: Text %q HTML %q", m.Text, m.HTML)
			}
			if len(m.Attachments) != 1 || m.Attachments[0].FileName != c.filename ||
				!bytes.Equal(mp.part(t, m.ID, m.Attachments[0].PartID), c.data) {
				t.Errorf("Mailpit: attachments %+v", m.Attachments)
			}
			composedRaw := mp.raw(t, m.ID)
			c.verify(t, stripTrace(t, composedRaw, mailpitTraceHeaders))

			// Mailpit's POP3 server serves every message it holds.
			viaPOP3, _ := readStore(t, ctx, s, "Subject")
			if r, ok := viaPOP3[rawSubject]; !ok {
				t.Errorf("Mailpit POP3: the SendRaw message is missing")
			} else if body := stripTrace(t, r, mailpitTraceHeaders); !bytes.Equal(body, raw) {
				t.Errorf("Mailpit POP3: the SendRaw message changed: %s", diff(body, raw))
			}
			if r, ok := viaPOP3[c.subject]; !ok || !bytes.Equal(r, composedRaw) {
				t.Errorf("Mailpit POP3 and API disagree on the composed message (found %v)", ok)
			}
		})
	}
}

// TestIntegrationDeleteAcrossProtocols deletes through POP3 and sees it over
// IMAP, then deletes through IMAP and sees it over POP3.
func TestIntegrationDeleteAcrossProtocols(t *testing.T) {
	e := stack(t)
	ctx := testContext(t, 2*time.Minute)
	user := e.user("grace")
	e.emptyMailbox(t, user)
	host := e["JMAIL_IT_STRICT_HOST"]
	smtp := e.postfix(host, startTLS, user)
	pop3Spec := e.dovecot("pop3", host, startTLS, user)
	imapSpec := e.dovecot("imap", host, implicit, user)
	pop3 := sessionFrom(t, false, javaMailProps(t, smtp, &pop3Spec, user.addr))
	imap := sessionFrom(t, true, portalProps(t, smtp, &imapSpec, user.addr))

	subjects := make([]string, 3)
	for i := range subjects {
		subjects[i] = uniq(fmt.Sprintf("%s-%d", t.Name(), i))
		if err := pop3.SendRaw(ctx, user.addr, []string{user.addr}, bytes.NewReader(rawMessage(user.addr, user.addr, subjects[i]))); err != nil {
			t.Fatalf("SendRaw %d: %v", i, err)
		}
	}
	e.waitDelivered(t, user, 3, time.Minute)

	deleteOne(t, ctx, pop3, subjects[0])
	got, _ := readStore(t, ctx, imap, "Subject")
	if _, ok := got[subjects[0]]; ok || len(got) != 2 {
		t.Fatalf("after a POP3 delete IMAP lists %d messages (deleted one present: %v), want 2", len(got), ok)
	}
	deleteOne(t, ctx, imap, subjects[1])
	got, _ = readStore(t, ctx, pop3, "Subject")
	if _, ok := got[subjects[2]]; !ok || len(got) != 1 {
		t.Fatalf("after an IMAP delete POP3 lists %d messages, want only %q", len(got), subjects[2])
	}
	if n := e.messageCount(t, user); n != 1 {
		t.Errorf("Dovecot holds %d messages, want 1", n)
	}
}

// deleteOne deletes the message with the given Subject and commits with Close.
func deleteOne(t *testing.T, ctx context.Context, s *mailsession.Session, subject string) {
	t.Helper()
	_, uids := readStore(t, ctx, s, "Subject")
	uid, ok := uids[subject]
	if !ok {
		t.Fatalf("no message %q to delete", subject)
	}
	st, err := s.OpenStore(ctx)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	if err := st.Delete(ctx, uid); err != nil {
		t.Fatalf("Delete %s: %v", uid, err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close (commit the deletion): %v", err)
	}
}

// TestIntegrationLargeMessage streams a 20 MB attachment through Postfix
// into Dovecot and reads it back over POP3 and IMAP intact.
func TestIntegrationLargeMessage(t *testing.T) {
	e := stack(t)
	ctx := testContext(t, 3*time.Minute)
	user := e.user("heidi")
	e.emptyMailbox(t, user)
	host := e["JMAIL_IT_STRICT_HOST"]
	smtp := e.postfix(host, implicit, user)
	pop3Spec := e.dovecot("pop3", host, implicit, user)
	imapSpec := e.dovecot("imap", host, startTLS, user)
	pop3 := sessionFrom(t, true, portalProps(t, smtp, &pop3Spec, user.addr))
	imap := sessionFrom(t, false, javaMailProps(t, smtp, &imapSpec, user.addr))

	c := newComposed(uniq(t.Name()))
	c.data = make([]byte, 20<<20)
	for i := range c.data {
		c.data[i] = byte(i ^ i>>8 ^ i>>16)
	}
	if err := pop3.Send(ctx, c.message(user.addr, user.addr)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	e.waitDelivered(t, user, 1, time.Minute)
	viaPOP3, _ := readStore(t, ctx, pop3, "Subject")
	viaIMAP, _ := readStore(t, ctx, imap, "Subject")
	if !bytes.Equal(viaPOP3[c.subject], viaIMAP[c.subject]) {
		t.Fatalf("POP3 (%d bytes) and IMAP (%d bytes) return different messages", len(viaPOP3[c.subject]), len(viaIMAP[c.subject]))
	}
	c.verify(t, stripTrace(t, viaIMAP[c.subject], mtaTraceHeaders))
}
