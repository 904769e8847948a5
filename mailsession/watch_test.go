package mailsession

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

// The password of the watch tests' mailboxes: it must never show in an
// error or a log record.
const watchSecret = "Wx-s3cr3t-9q"

const watchName = "mail/MailSession"

// watchServers starts two embedded servers with the same mailbox.
func watchServers(t *testing.T) (a, b *mailtest.Server) {
	t.Helper()
	opts := []mailtest.Option{mailtest.WithUser("ops@example.com", watchSecret)}
	return mailtest.NewServer(t, opts...), mailtest.NewServer(t, opts...)
}

// settingsFile is the text of a properties file pointing at srv, with
// JavaMail keys or, portal, Liferay's mail.session.* keys.
func settingsFile(t *testing.T, srv *mailtest.Server, portal bool) []byte {
	t.Helper()
	p := srv.Properties(mailtest.Plain, "")
	if portal {
		q := properties.New()
		for _, k := range p.Keys() {
			v, _ := p.Get(k)
			q.Set("mail.session."+k, v)
		}
		q.Set("mail.session.jndi.name", "mail/Ignored")
		p = q
	}
	var b bytes.Buffer
	if err := p.Store(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeInPlace rewrites the file as most editors and echo > file do.
func writeInPlace(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes a new file beside path and renames it over path, as
// vim, emacs and atomic deployment tools do.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), ".settings-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// reload is one OnReload call.
type reload struct{ old, new *Session }

// watching is a WatchFile running for a test.
type watching struct {
	reg     *jndi.Registry
	ready   chan *Session
	reloads chan reload
	errs    chan error
	done    chan error
	cancel  context.CancelFunc
	logMu   sync.Mutex
	logBuf  bytes.Buffer // WatchFile's log, written through lockedWriter
}

// logs is what WatchFile logged so far.
func (w *watching) logs() string {
	w.logMu.Lock()
	defer w.logMu.Unlock()
	return w.logBuf.String()
}

// startWatch runs WatchFile on path and waits for the first session. The
// watch ends, and the last session is closed, when the test ends.
func startWatch(t *testing.T, path string, opts ...WatchOption) *watching {
	t.Helper()
	return startWatchIn(t, jndi.NewRegistry(), path, opts...)
}

// startWatchIn is startWatch publishing in reg.
func startWatchIn(t *testing.T, reg *jndi.Registry, path string, opts ...WatchOption) *watching {
	t.Helper()
	w := &watching{
		reg:     reg,
		ready:   make(chan *Session, 1),
		reloads: make(chan reload, 16),
		errs:    make(chan error, 16),
		done:    make(chan error, 1),
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	opts = append([]WatchOption{
		WithDebounce(50 * time.Millisecond),
		WithWatchLogger(slog.New(slog.NewTextHandler(lockedWriter{&w.logMu, &w.logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		WithSessionOptions(WithLogger(quietLogger())),
		OnReady(func(s *Session) { w.ready <- s }),
		OnReload(func(old, new *Session) { w.reloads <- reload{old, new} }),
		OnReloadError(func(err error) { w.errs <- err }),
	}, opts...)
	go func() { w.done <- WatchFile(ctx, path, w.reg, watchName, opts...) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-w.done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("WatchFile returned %v, want context.Canceled", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("WatchFile did not return after its ctx ended")
		}
		if s, err := jndi.LookupAs[*Session](w.reg, watchName); err == nil {
			s.Close()
		}
		if strings.Contains(w.logs(), watchSecret) {
			t.Errorf("the password is in the log:\n%s", w.logs())
		}
	})
	select {
	case s := <-w.ready:
		if got := w.lookup(t); got != s {
			t.Fatalf("OnReady(%v), but %v is bound", s, got)
		}
	case err := <-w.done:
		t.Fatalf("WatchFile returned %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not ready within 30s")
	}
	return w
}

func (w *watching) nextReload(t *testing.T) reload {
	t.Helper()
	for {
		select {
		case r := <-w.reloads:
			return r
		case err := <-w.errs:
			if errors.Is(err, ErrNoMailSettings) {
				// The file read between the truncation and the write of
				// an edit in place: refused, as it should be.
				t.Logf("OnReloadError(%v) on the way", err)
				continue
			}
			t.Fatalf("OnReloadError(%v), want a reload", err)
		case err := <-w.done:
			t.Fatalf("WatchFile returned %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("no reload within 30s")
		}
	}
}

func (w *watching) nextError(t *testing.T) error {
	t.Helper()
	select {
	case err := <-w.errs:
		if strings.Contains(err.Error(), watchSecret) {
			t.Errorf("the password is in the error: %v", err)
		}
		return err
	case r := <-w.reloads:
		t.Fatalf("reloaded to %v, want OnReloadError", r.new)
	case err := <-w.done:
		t.Fatalf("WatchFile returned %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no OnReloadError within 30s")
	}
	return nil
}

func (w *watching) lookup(t *testing.T) *Session {
	t.Helper()
	s, err := jndi.LookupAs[*Session](w.reg, watchName)
	if err != nil {
		t.Fatalf("look up %s: %v", watchName, err)
	}
	return s
}

// sendVia sends one message through s and checks that srv received it.
func sendVia(t *testing.T, s *Session, srv *mailtest.Server, subject string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := len(srv.Received())
	if err := s.Send(ctx, &Message{To: []string{"someone@elsewhere.test"}, Subject: subject, Text: "hi"}); err != nil {
		t.Fatalf("send %q: %v", subject, err)
	}
	msgs, err := srv.WaitReceived(ctx, n+1)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(msgs[n].Data, []byte("Subject: "+subject)) {
		t.Fatalf("server received %q, want subject %q", msgs[n].Data, subject)
	}
}

// An edit reaches code that looks the session up by name, whether the
// editor writes the file in place or renames a new one over it, with
// JavaMail and with Liferay's keys.
func TestWatchFileEdits(t *testing.T) {
	for _, tc := range []struct {
		name   string
		write  func(*testing.T, string, []byte)
		portal bool
	}{
		{"in place, JavaMail keys", writeInPlace, false},
		{"rename, JavaMail keys", replaceFile, false},
		{"in place, portal keys", writeInPlace, true},
		{"rename, portal keys", replaceFile, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := watchServers(t)
			path := filepath.Join(t.TempDir(), "portal-ext.properties")
			writeInPlace(t, path, settingsFile(t, a, tc.portal))
			w := startWatch(t, path)
			first := w.lookup(t)
			sendVia(t, first, a, "to A")

			tc.write(t, path, settingsFile(t, b, tc.portal))
			r := w.nextReload(t)
			if r.old != first {
				t.Fatalf("OnReload old = %v, want the first session", r.old)
			}
			s := w.lookup(t)
			if s != r.new || s == first {
				t.Fatalf("looked up %v, want the new session %v", s, r.new)
			}
			if got, want := s.Property("mail.smtp.port"), fmt.Sprint(b.Ports().SMTP); got != want {
				t.Fatalf("new session's mail.smtp.port = %s, want %s", got, want)
			}
			sendVia(t, s, b, "to B")

			// The old session is shut down: once drained, a send on a stale
			// reference fails with ErrClosed, having sent nothing.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := first.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			err := first.Send(ctx, &Message{To: []string{"someone@elsewhere.test"}, Subject: "stale", Text: "hi"})
			var se *SendError
			if !errors.Is(err, ErrClosed) || !errors.As(err, &se) || len(se.Unsent) != 1 || len(se.Sent)+len(se.Uncertain) != 0 {
				t.Fatalf("send on the replaced session: %v, want a *SendError matching ErrClosed, all unsent", err)
			}
		})
	}
}

// A stream of sends, each looking the session up by name, loses nothing
// while the file changes under it: every Send that returned nil is
// delivered exactly once, at one of the two servers, and none fails because
// of the swap. A Send that met the old session after its shutdown began
// fails with ErrClosed having sent nothing, and is retried on a new
// look-up, as WatchFile's documentation tells callers to do.
func TestWatchFileSendsInFlight(t *testing.T) {
	a, b := watchServers(t)
	// Slow replies keep sends in flight on the old session when it is
	// replaced.
	a.SetFaults(mailtest.Faults{ReplyDelay: 5 * time.Millisecond})
	path := filepath.Join(t.TempDir(), "mail.properties")
	writeInPlace(t, path, settingsFile(t, a, false))
	w := startWatch(t, path)

	const senders = 6
	var (
		seq     atomic.Int64
		retries atomic.Int64
		mu      sync.Mutex
		sent    = map[string]bool{} // subjects whose Send returned nil
		failed  []error
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	progress := make(chan struct{}, 1024)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for range senders {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				subject := fmt.Sprintf("seq-%d", seq.Add(1))
				m := &Message{To: []string{"someone@elsewhere.test"}, Subject: subject, Text: "hi"}
				var err error
				for {
					s, lerr := jndi.LookupAs[*Session](w.reg, watchName)
					if lerr != nil {
						err = lerr
						break
					}
					err = s.Send(ctx, m)
					var se *SendError
					if errors.Is(err, ErrClosed) && errors.As(err, &se) && len(se.Sent)+len(se.Uncertain) == 0 {
						retries.Add(1)
						continue // a stale reference: look it up again
					}
					break
				}
				mu.Lock()
				if err != nil {
					failed = append(failed, fmt.Errorf("%s: %w", subject, err))
				} else {
					sent[subject] = true
				}
				mu.Unlock()
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		})
	}
	waitSends := func(n int) {
		t.Helper()
		for range n {
			select {
			case <-progress:
			case <-ctx.Done():
				t.Fatal("the senders made no progress")
			}
		}
	}
	waitSends(20)
	writeInPlace(t, path, settingsFile(t, b, false))
	r := w.nextReload(t)
	// Sends reach the new server...
	if _, err := b.WaitReceived(ctx, 20); err != nil {
		t.Fatal(err)
	}
	// ... and the old session drains.
	if err := r.old.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()

	for _, err := range failed {
		t.Errorf("send failed: %v", err)
	}
	subj := regexp.MustCompile(`(?m)^Subject: (seq-\d+)\r?$`)
	delivered := map[string]int{}
	for _, srv := range []*mailtest.Server{a, b} {
		for _, m := range srv.Received() {
			s := subj.FindSubmatch(m.Data)
			if s == nil {
				t.Fatalf("a message without a sequence subject: %q", m.Data)
			}
			delivered[string(s[1])]++
		}
	}
	for s := range sent {
		if delivered[s] != 1 {
			t.Errorf("%s: delivered %d times, want once", s, delivered[s])
		}
	}
	for s, n := range delivered {
		if !sent[s] {
			t.Errorf("%s delivered %d times, but its Send did not return nil", s, n)
		}
	}
	t.Logf("%d sends, %d at the old server, %d at the new one, %d retried after ErrClosed on a stale reference",
		len(sent), len(a.Received()), len(b.Received()), retries.Load())
}

// An edit that does not parse, or does not validate, keeps the session
// bound and is reported; the next good edit is published.
func TestWatchFileBrokenEdits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  func(good []byte) []byte
		check func(*testing.T, error)
	}{
		{"malformed escape", func(good []byte) []byte {
			return append(good, "mail.smtp.password="+watchSecret+"\\u12G4\n"...)
		}, func(t *testing.T, err error) {
			var se *properties.SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("error %v is not a *properties.SyntaxError", err)
			}
		}},
		{"port abc", func(good []byte) []byte {
			return regexp.MustCompile(`(?m)^mail\.smtp\.port=.*$`).ReplaceAll(good, []byte("mail.smtp.port=abc"))
		}, func(t *testing.T, err error) {
			var se *SettingError
			if !errors.As(err, &se) || se.Key != "mail.smtp.port" {
				t.Errorf("error %v is not a *SettingError for mail.smtp.port", err)
			}
		}},
		{"timeout never", func(good []byte) []byte {
			return append(good, "mail.smtp.connectiontimeout=never\n"...)
		}, func(t *testing.T, err error) {
			var se *SettingError
			if !errors.As(err, &se) {
				t.Errorf("error %v is not a *SettingError", err)
			}
		}},
		{"empty", func([]byte) []byte { return nil }, func(t *testing.T, err error) {
			if !errors.Is(err, ErrNoMailSettings) {
				t.Errorf("error %v does not match ErrNoMailSettings", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := watchServers(t)
			path := filepath.Join(t.TempDir(), "mail.properties")
			good := settingsFile(t, a, false)
			writeInPlace(t, path, good)
			w := startWatch(t, path)
			first := w.lookup(t)

			replaceFile(t, path, tc.text(good))
			err := w.nextError(t)
			tc.check(t, err)
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if s := w.lookup(t); s != first {
				t.Fatalf("after a broken edit %v is bound, want the first session", s)
			}
			sendVia(t, first, a, "still A")
			if !strings.Contains(w.logs(), "not reloaded") {
				t.Errorf("the refused edit is not logged:\n%s", w.logs())
			}

			writeInPlace(t, path, settingsFile(t, b, false))
			if r := w.nextReload(t); r.old != first {
				t.Fatalf("OnReload old = %v, want the first session", r.old)
			}
			sendVia(t, w.lookup(t), b, "now B")
		})
	}
}

// Rewriting the file with the same bytes (a touch, a save without changes)
// publishes nothing.
func TestWatchFileUnchanged(t *testing.T) {
	a, _ := watchServers(t)
	path := filepath.Join(t.TempDir(), "mail.properties")
	good := settingsFile(t, a, false)
	writeInPlace(t, path, good)
	w := startWatch(t, path)
	first := w.lookup(t)
	writeInPlace(t, path, good)
	replaceFile(t, path, good)
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil {
		t.Fatal(err)
	}
	// Events are handled in order: the error of the broken edit after
	// them comes once they were handled, and no reload comes before it.
	writeInPlace(t, path, []byte("mail.smtp.port=abc\n"))
	w.nextError(t)
	if s := w.lookup(t); s != first {
		t.Fatalf("%v bound, want the first session", s)
	}
	// Back to the published bytes: nothing to rebuild either.
	writeInPlace(t, path, good)
	writeInPlace(t, path, []byte("mail.smtp.port=-1\n"))
	w.nextError(t)
	if s := w.lookup(t); s != first {
		t.Fatalf("%v bound, want the first session", s)
	}
}

// A deleted file keeps the session; the file recreated is read again.
func TestWatchFileDeleted(t *testing.T) {
	a, b := watchServers(t)
	path := filepath.Join(t.TempDir(), "portal-ext.properties")
	writeInPlace(t, path, settingsFile(t, a, true))
	w := startWatch(t, path)
	first := w.lookup(t)

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	err := w.nextError(t)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("OnReloadError(%v), want fs.ErrNotExist naming the file", err)
	}
	if s := w.lookup(t); s != first {
		t.Fatalf("%v bound after the deletion, want the first session", s)
	}
	sendVia(t, first, a, "file gone")
	if !strings.Contains(w.logs(), "deleted") {
		t.Errorf("the deletion is not logged:\n%s", w.logs())
	}

	writeInPlace(t, path, settingsFile(t, b, true))
	if r := w.nextReload(t); r.old != first {
		t.Fatalf("OnReload old = %v, want the first session", r.old)
	}
	sendVia(t, w.lookup(t), b, "file back")
}

// A first read that fails is returned at once, naming the file, and binds
// nothing.
func TestWatchFileFirstLoad(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		text *string // nil: no file
		want func(error) bool
	}{
		{"missing", nil, func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
		{"syntax", ptr("mail.smtp.host=\\u00\n"), func(err error) bool {
			var se *properties.SyntaxError
			return errors.As(err, &se)
		}},
		{"invalid", ptr("mail.smtp.port=abc\nmail.smtp.password=" + watchSecret + "\n"), func(err error) bool {
			var se *SettingError
			return errors.As(err, &se)
		}},
		{"no mail settings", ptr("admin.email.from.address=a@example.com\n"), func(err error) bool { return errors.Is(err, ErrNoMailSettings) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".properties")
			if tc.text != nil {
				writeInPlace(t, path, []byte(*tc.text))
			}
			reg := jndi.NewRegistry()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := WatchFile(ctx, path, reg, watchName, WithWatchLogger(quietLogger()))
			if err == nil || !tc.want(err) || !strings.Contains(err.Error(), path) {
				t.Fatalf("WatchFile: %v", err)
			}
			if strings.Contains(err.Error(), watchSecret) {
				t.Errorf("the password is in the error: %v", err)
			}
			if _, err := reg.Lookup(watchName); !errors.Is(err, jndi.ErrNameNotFound) {
				t.Fatalf("look up after a failed start: %v, want ErrNameNotFound", err)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// When ctx ends WatchFile returns ctx.Err() and the session stays bound,
// in service.
func TestWatchFileCancel(t *testing.T) {
	a, _ := watchServers(t)
	path := filepath.Join(t.TempDir(), "mail.properties")
	writeInPlace(t, path, settingsFile(t, a, false))
	w := startWatch(t, path)
	w.cancel()
	select {
	case err := <-w.done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WatchFile returned %v, want context.Canceled", err)
		}
		w.done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatal("WatchFile did not return after its ctx ended")
	}
	sendVia(t, w.lookup(t), a, "after the watch")
}

// A send in flight on the old session when the file changes finishes there:
// the server holds its reply to the end of the message until the new
// session is published and the old one is draining.
func TestWatchFileDrainsInFlight(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	a := mailtest.NewServer(t, mailtest.WithUser("ops@example.com", watchSecret), mailtest.WithOnMessage(func(m mailtest.Message) {
		if bytes.Contains(m.Data, []byte("Subject: held")) {
			close(arrived)
			<-release
		}
	}))
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free) // before a's Close, which waits for the held reply
	b := mailtest.NewServer(t, mailtest.WithUser("ops@example.com", watchSecret))
	path := filepath.Join(t.TempDir(), "mail.properties")
	writeInPlace(t, path, settingsFile(t, a, false))
	w := startWatch(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	sendErr := make(chan error, 1)
	go func() {
		s, err := jndi.LookupAs[*Session](w.reg, watchName)
		if err == nil {
			err = s.Send(ctx, &Message{To: []string{"someone@elsewhere.test"}, Subject: "held", Text: "hi"})
		}
		sendErr <- err
	}()
	select {
	case <-arrived:
	case err := <-sendErr:
		t.Fatalf("send returned %v before the server took the message", err)
	case <-ctx.Done():
		t.Fatal("the message never reached the server")
	}

	writeInPlace(t, path, settingsFile(t, b, false))
	r := w.nextReload(t)
	if !r.old.life.isClosed() {
		t.Fatal("OnReload ran before the old session began shutting down")
	}
	err := r.old.Send(ctx, &Message{To: []string{"someone@elsewhere.test"}, Subject: "late", Text: "hi"})
	var se *SendError
	if !errors.Is(err, ErrClosed) || !errors.As(err, &se) || len(se.Sent)+len(se.Uncertain) != 0 {
		t.Fatalf("a send begun on the draining session: %v, want ErrClosed with nothing sent", err)
	}
	sendVia(t, w.lookup(t), b, "new")

	free()
	if err := <-sendErr; err != nil {
		t.Fatalf("the send in flight on the old session: %v", err)
	}
	if err := r.old.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := a.Received(); len(got) != 1 || !bytes.Contains(got[0].Data, []byte("Subject: held")) {
		t.Fatalf("old server received %d messages, want the held one only", len(got))
	}
}

// A file reached through a symbolic link whose target is switched, as
// Kubernetes updates a mounted ConfigMap (..data renamed to a new
// directory), is followed too.
func TestWatchFileSymlinkSwitch(t *testing.T) {
	a, b := watchServers(t)
	dir := t.TempDir()
	version := func(name string, srv *mailtest.Server) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		writeInPlace(t, filepath.Join(dir, name, "mail.properties"), settingsFile(t, srv, false))
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", a)
	path := filepath.Join(dir, "mail.properties")
	if err := os.Symlink(filepath.Join("..data", "mail.properties"), path); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, path)
	first := w.lookup(t)
	sendVia(t, first, a, "v1")

	version("..v2", b)
	if r := w.nextReload(t); r.old != first {
		t.Fatalf("OnReload old = %v, want the first session", r.old)
	}
	sendVia(t, w.lookup(t), b, "v2")
}

// A symbolic link to a file in another directory: an edit of that file in
// place is seen, and after the link is switched to a file elsewhere, an
// edit of the new target is seen too.
func TestWatchFileSymlinkTargetEdited(t *testing.T) {
	a, b := watchServers(t)
	etc, etc2, app := t.TempDir(), t.TempDir(), t.TempDir()
	target := filepath.Join(etc, "real.properties")
	writeInPlace(t, target, settingsFile(t, a, true))
	path := filepath.Join(app, "portal-ext.properties")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, path)
	first := w.lookup(t)
	sendVia(t, first, a, "through the link")

	writeInPlace(t, target, settingsFile(t, b, true))
	if r := w.nextReload(t); r.old != first {
		t.Fatalf("OnReload old = %v, want the first session", r.old)
	}
	second := w.lookup(t)
	sendVia(t, second, b, "target edited in place")

	// Switch the link to a file in a third directory, then edit that one.
	target2 := filepath.Join(etc2, "other.properties")
	writeInPlace(t, target2, settingsFile(t, a, false))
	tmp := filepath.Join(app, "link.tmp")
	if err := os.Symlink(target2, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if r := w.nextReload(t); r.old != second {
		t.Fatalf("OnReload old = %v, want the second session", r.old)
	}
	third := w.lookup(t)
	sendVia(t, third, a, "link switched")
	writeInPlace(t, target2, settingsFile(t, b, false))
	if r := w.nextReload(t); r.old != third {
		t.Fatalf("OnReload old = %v, want the third session", r.old)
	}
	sendVia(t, w.lookup(t), b, "new target edited in place")
}

// The session's JNDI name, from the file or from Liferay's environment
// variable, is the name WatchFile publishes under: a reload builds the
// file's settings rather than looking up (and then shutting down) the
// session it replaces.
func TestWatchFileIgnoresTheJNDIName(t *testing.T) {
	a, b := watchServers(t)
	for _, how := range []string{"file", "environment"} {
		t.Run(how, func(t *testing.T) {
			reg := jndi.NewRegistry()
			text := func(srv *mailtest.Server) []byte {
				data := settingsFile(t, srv, true)
				if how == "file" {
					data = bytes.ReplaceAll(data, []byte("mail/Ignored"), []byte(watchName))
				}
				return data
			}
			path := filepath.Join(t.TempDir(), "portal-ext.properties")
			writeInPlace(t, path, text(a))
			env := []string{"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_JNDI_PERIOD_NAME=" + watchName}
			w := startWatchIn(t, reg, path, WithSessionOptions(WithRegistry(reg), WithEnviron(env)))
			first := w.lookup(t)
			sendVia(t, first, a, "first")

			replaceFile(t, path, text(b))
			r := w.nextReload(t)
			if r.old != first || r.new == first {
				t.Fatalf("OnReload(%v, %v), want the first session replaced", r.old, r.new)
			}
			sendVia(t, w.lookup(t), b, "after the reload")
		})
	}
}

// A build that fails because of another file than the watched one (here
// a DKIM key written after the properties) is tried again at the next
// event, a touch of the file included.
func TestWatchFileRetriesAFailedBuild(t *testing.T) {
	a, b := watchServers(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.properties")
	writeInPlace(t, path, settingsFile(t, a, false))
	w := startWatch(t, path)
	first := w.lookup(t)

	key := filepath.Join(t.TempDir(), "dkim.pem")
	withKey := append(settingsFile(t, b, false), []byte("mail.dkim.domain=example.com\nmail.dkim.selector=s1\nmail.dkim.key.file="+key+"\n")...)
	writeInPlace(t, path, withKey)
	if err := w.nextError(t); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("OnReloadError(%v), want the missing key file", err)
	}
	if s := w.lookup(t); s != first {
		t.Fatalf("%v bound after a failed build, want the first session", s)
	}
	writeKeyFile(t, filepath.Dir(key), filepath.Base(key), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(testRSAKey()), nil)
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil {
		t.Fatal(err)
	}
	if r := w.nextReload(t); r.old != first {
		t.Fatalf("OnReload old = %v, want the first session", r.old)
	}
	sendVia(t, w.lookup(t), b, "signed after the retry")
}
