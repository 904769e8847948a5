package browsertest

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/controlpanel"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/mailsession/outbox"
)

// waitStatus polls the message's status until done accepts it.
func waitStatus(t *testing.T, ob *outbox.Outbox, id outbox.ID, done func(*outbox.Status) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		st, err := ob.Status(ctx, id)
		if err != nil {
			t.Fatalf("Status(%v): %v", id, err)
		}
		if done(st) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("message %v: %+v, still not in the state the test waits for", id, st)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestOutboxInChromium shows an outbox with a failed message (550) and a
// deferred one (451) on the Mail page, clicks Retry on the first and
// Cancel on the second, and reads the outcome and the new counts in the
// page the browser is redirected to.
func TestOutboxInChromium(t *testing.T) {
	ctx := browser(t, chromium(t))

	mail := mailtest.NewServer(t)
	sess, err := mailsession.FromProperties(mail.Properties(mailtest.Plain, ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	octx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ob, err := outbox.Open(octx, sess, outbox.SQLite(filepath.Join(t.TempDir(), "outbox.db")),
		outbox.WithMigrate(),
		outbox.WithPollInterval(20*time.Millisecond),
		outbox.WithBackoff(time.Hour, time.Hour),
		outbox.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	mail.SetFaults(mailtest.Faults{RejectRecipients: map[string]int{"bad@example.org": 550, "temp@example.org": 451}})
	enqueue := func(to string) outbox.ID {
		t.Helper()
		id, err := ob.Enqueue(octx, &mailsession.Message{From: "app@example.net", To: []string{to}, Subject: "hello", Text: "Hi!\n"})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	bad, temp := enqueue("bad@example.org"), enqueue("temp@example.org")
	if err := ob.Start(octx); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, ob, bad, func(st *outbox.Status) bool { return st.State == outbox.Failed })
	waitStatus(t, ob, temp, func(st *outbox.Status) bool { return st.State == outbox.Pending && st.Attempts == 1 })
	// Stopped: what the page shows after each click is the click's doing.
	if err := ob.Stop(octx); err != nil {
		t.Fatal(err)
	}

	page, err := controlpanel.New(filepath.Join(t.TempDir(), "portal-ext.properties"),
		controlpanel.WithRegistry(jndi.NewRegistry()), controlpanel.WithoutAuthorization(), controlpanel.WithOutbox(ob))
	if err != nil {
		t.Fatal(err)
	}
	url := servePage(t, page)
	shots := screenshotDir(t)
	counts := func() map[string]string {
		t.Helper()
		got := map[string]string{}
		for _, s := range []string{"pending", "sending", "sent", "failed", "canceled"} {
			got[s] = get(t, ctx, chromedp.Text(id("outbox-count-"+s)))
		}
		return got
	}
	row := func(id outbox.ID) string { return "#outbox-message-" + id.String() }

	do(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(id("outbox")))
	shot(ctx, t, shots, "outbox.png")
	if got, want := counts(), map[string]string{"pending": "1", "sending": "0", "sent": "0", "failed": "1", "canceled": "0"}; !maps.Equal(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	badRow := get(t, ctx, chromedp.Text(css(row(bad))))
	if !strings.Contains(badRow, "550") || !strings.Contains(badRow, "<bad@example.org>") || !strings.Contains(badRow, "Recipient rejected") {
		t.Errorf("the failed message's row does not show the server's reply:\n%s", badRow)
	}

	// Retry the failed message.
	do(t, ctx,
		chromedp.Click(css(row(bad)+` button[value="retry"]`)),
		chromedp.WaitVisible(`//p[@id="outbox-flash"][contains(., "retried")]`),
	)
	flash := get(t, ctx, chromedp.Text(id("outbox-flash")))
	if want := "Message " + bad.String() + " will be retried now."; flash != want {
		t.Errorf("flash after Retry %q, want %q", flash, want)
	}
	if loc := get(t, ctx, chromedp.Location()); !strings.Contains(loc, "/admin/mail/?outbox=") || !strings.HasSuffix(loc, "#outbox") {
		t.Errorf("after Retry the browser is at %s, want the page's own URL", loc)
	}
	if got, want := counts(), map[string]string{"pending": "2", "sending": "0", "sent": "0", "failed": "0", "canceled": "0"}; !maps.Equal(got, want) {
		t.Errorf("counts after Retry %v, want %v", got, want)
	}
	if state := get(t, ctx, chromedp.Text(css(row(bad)+" td:nth-child(2) .status"))); state != "Pending" {
		t.Errorf("the retried message shows %q, want Pending", state)
	}
	if st, err := ob.Status(octx, bad); err != nil || st.State != outbox.Pending {
		t.Errorf("retried message: %+v, %v; want Pending", st, err)
	}

	// Cancel the deferred one.
	do(t, ctx,
		chromedp.Click(css(row(temp)+` button[value="cancel"]`)),
		chromedp.WaitVisible(`//p[@id="outbox-flash"][contains(., "canceled")]`),
	)
	shot(ctx, t, shots, "outbox-canceled.png")
	flash = get(t, ctx, chromedp.Text(id("outbox-flash")))
	if want := "Message " + temp.String() + " canceled."; flash != want {
		t.Errorf("flash after Cancel %q, want %q", flash, want)
	}
	if got, want := counts(), map[string]string{"pending": "1", "sending": "0", "sent": "0", "failed": "0", "canceled": "1"}; !maps.Equal(got, want) {
		t.Errorf("counts after Cancel %v, want %v", got, want)
	}
	if n := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("`+row(temp)+` button[value=cancel]").length`)); n != 0 {
		t.Errorf("the canceled message still offers Cancel")
	}
	if st, err := ob.Status(octx, temp); err != nil || st.State != outbox.Canceled {
		t.Errorf("canceled message: %+v, %v; want Canceled", st, err)
	}

	// On a phone the table scrolls within its box, not the page.
	do(t, ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(url), chromedp.WaitVisible(id("outbox")))
	scrollWidth := get(t, ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	innerWidth := get(t, ctx, chromedp.Evaluate[int](`window.innerWidth`))
	shot(ctx, t, shots, "outbox-phone.png")
	if scrollWidth > innerWidth {
		t.Errorf("the page scrolls sideways on a phone: %d > %d", scrollWidth, innerWidth)
	}
}
