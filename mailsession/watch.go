package mailsession

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/properties"
)

// Defaults of WatchFile.
const (
	// DefaultWatchDebounce is how long WatchFile waits after the last
	// event on the file before it reads it (see WithDebounce).
	DefaultWatchDebounce = 100 * time.Millisecond
	// DefaultDrainTimeout is how long a replaced session is given to
	// finish its sends in flight (see WithDrainTimeout).
	DefaultDrainTimeout = time.Minute
)

// ErrNoMailSettings is reported (wrapped) by WatchFile for a file that
// holds no mail setting at all: no mail.session.* key and no mail.* key.
// Such a file is what an editor leaves while it rewrites the file in place,
// so it is never published (it would mean a session to localhost:25).
var ErrNoMailSettings = errors.New("mailsession: no mail settings in the file")

// WatchOption configures WatchFile.
type WatchOption func(*watchConfig)

type watchConfig struct {
	log      *slog.Logger
	debounce time.Duration
	drain    time.Duration
	onReady  func(s *Session)
	onReload func(old, new *Session)
	onError  func(error)
	opts     []Option
}

// WithWatchLogger sets the logger WatchFile reports reloads, refused
// edits and a deleted file to (default: slog.Default()). Sessions log
// to their own logger (WithLogger, through WithSessionOptions).
func WithWatchLogger(l *slog.Logger) WatchOption {
	return func(c *watchConfig) { c.log = l }
}

// WithDebounce sets how long WatchFile waits after the last event on the
// file before reading it, so that the burst of events one save makes
// (truncate, write, write, chmod; or create, rename) is read once, whole
// (default DefaultWatchDebounce; 0 reads at the first event).
func WithDebounce(d time.Duration) WatchOption {
	return func(c *watchConfig) { c.debounce = max(d, 0) }
}

// WithDrainTimeout sets how long a replaced session is given to finish its
// sends in flight before they are cut off (default DefaultDrainTimeout).
// The time counts from the swap, independently of WatchFile's ctx.
func WithDrainTimeout(d time.Duration) WatchOption {
	return func(c *watchConfig) {
		if d > 0 {
			c.drain = d
		}
	}
}

// OnReady sets a function WatchFile calls once, when the session built
// from the file at start is bound under the name. fn runs on WatchFile's
// goroutine: watching begins once it returns.
func OnReady(fn func(s *Session)) WatchOption {
	return func(c *watchConfig) { c.onReady = fn }
}

// OnReload sets a function WatchFile calls each time it has published the
// session of an edit (not the first one: see OnReady), with the session
// replaced and its successor. new is bound by then, and old refuses new
// sends and is draining (see WatchFile). fn runs on WatchFile's goroutine:
// the next change is read once it returns.
func OnReload(fn func(old, new *Session)) WatchOption {
	return func(c *watchConfig) { c.onReload = fn }
}

// OnReloadError sets a function WatchFile calls, besides logging it, each
// time a change of the file could not be published and the current
// session stays bound: the file does not parse (a *properties.SyntaxError
// is found with errors.As), a setting is invalid (*SettingError), it holds
// no mail settings (ErrNoMailSettings), or it was deleted or cannot be read
// (fs.ErrNotExist, fs.ErrPermission). The error names the file and never
// holds a secret. fn runs on WatchFile's goroutine.
func OnReloadError(fn func(error)) WatchOption {
	return func(c *watchConfig) { c.onError = fn }
}

// WithSessionOptions sets the options every session WatchFile builds is
// given, after the file's settings (WithRootCAs, WithLogger, WithAuth for
// a password kept out of the file, ...).
func WithSessionOptions(opts ...Option) WatchOption {
	return func(c *watchConfig) { c.opts = append(c.opts, opts...) }
}

// WatchFile keeps the session bound under name in reg in step with the
// properties file at path: what Liferay needs a restart for, done at once.
//
// The file is a portal-ext.properties (mail.session.* keys, read as
// FromPortalProperties does; its mail.session.jndi.name is ignored, since
// name says where the session goes) or, when it has no mail.session.* key,
// a JavaMail properties file (mail.smtp.host, ..., read as
// FromProperties). It is read as UTF-8, like properties.Load.
//
// WatchFile first builds the session from the file and binds it under name
// with reg.Swap (reg nil: jndi.Default()), then calls OnReady. If the file
// cannot be read, does not parse, holds no mail settings or a setting is
// invalid, it returns that error at once, naming the file, and binds
// nothing. Otherwise it blocks, watching the file's directory with
// fsnotify, so that editors that write the file in place and those that
// write a new file and rename it over the old one (or a symbolic link
// switched to a new target, as Kubernetes does with a ConfigMap) are both
// seen; when path is a symbolic link, the directory of the file it points
// to is watched too, so an edit of that file in place is seen. Once the events of a save are over (WithDebounce) it reads the file
// again; when its bytes differ from the last read (a touch or a save
// without changes does nothing) it builds the new session and publishes it
// with reg.Swap: code that looks the session up by name from then on gets
// the new one. The session it replaced is shut down gracefully
// (Session.Shutdown, within WithDrainTimeout): its sends in flight finish
// on the old server, while a send begun on it after the swap fails at once
// with a *SendError matching ErrClosed, which lists every recipient as
// Unsent (nothing was sent). So look the session up by name for each send
// (or each request) rather than keeping it, and retry a send that fails
// with ErrClosed once, on a new look-up: it met the old session between its
// look-up and its Send. The same goes for a polling Receive: on the
// replaced session it returns ErrClosed once its current run has
// committed, so loop, calling Receive again on a new look-up; and for a
// HealthHandler, give it HealthOptions.Lookup. A session somebody else had
// bound under name is replaced but left to them (not shut down).
//
// An edit that cannot be used (a syntax error, an invalid value such as a
// port "abc", no mail settings, a DKIM key file that cannot be read) keeps
// the current session bound: WatchFile logs why (WithWatchLogger) and
// calls OnReloadError. Files the settings name (mail.dkim.key.file) are
// not watched: a build that failed is tried again at the next event on
// the file, so touch it once they are in place. So does a deleted or
// unreadable file; when it comes back, its contents are read as any edit.
// Errors and log records name keys and values of settings but never a
// password or token. A writer that rewrites the file in place and pauses
// longer than the debounce in the middle may have half a file read: refused
// if it is empty or invalid, published (then replaced by the whole) if it
// is valid. Deployment tools should write a new file and rename it.
//
// WatchFile returns ctx.Err() when ctx ends, after the sessions it
// replaced have finished draining. The session last published stays bound
// and in service: from then on it belongs to the caller, who shuts it down
// (look it up, or keep it from OnReady and OnReload). WatchFile also returns, with an
// error, if the watch itself fails (the directory removed, the watcher's
// resources exhausted); the bound session stays in service then too.
func WatchFile(ctx context.Context, path string, reg *jndi.Registry, name string, opts ...WatchOption) error {
	c := watchConfig{debounce: DefaultWatchDebounce, drain: DefaultDrainTimeout}
	for _, o := range opts {
		o(&c)
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if reg == nil {
		reg = jndi.Default()
	}
	if _, err := jndi.Normalize(name); err != nil {
		return fmt.Errorf("mailsession: watch %s: %w", path, err)
	}
	path = filepath.Clean(path)
	w := &fileWatcher{cfg: c, path: path, reg: reg, name: name}
	defer w.drains.Wait()

	// Watch first, then read: a change made between the two is seen.
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("mailsession: watch %s: %w", path, err)
	}
	defer fw.Close()
	w.fw = fw
	dir := filepath.Dir(path)
	if err := fw.Add(dir); err != nil {
		return fmt.Errorf("mailsession: watch %s: %w", path, err)
	}
	if err := w.reload(true); err != nil {
		return err
	}
	return w.loop(ctx)
}

// fileWatcher is the state of one WatchFile.
type fileWatcher struct {
	cfg  watchConfig
	path string
	reg  *jndi.Registry
	name string

	current   *Session // the session published last
	published [sha256.Size]byte
	seen      []byte // hash of the last contents read; nil after a failed read
	unbuilt   bool   // the session of the contents seen failed to build: an event retries
	symlink   bool   // path is a symbolic link: every event in the directory counts
	target    string // the file a symbolic link path resolves to; "" if none
	targetDir string // target's directory, watched too when not path's
	fw        *fsnotify.Watcher
	drains    sync.WaitGroup
}

// follow resolves path when it is a symbolic link and watches the
// directory of the file it points to too, so that an edit of that file in
// place is seen; a link switched to a file in another directory moves
// that watch.
func (w *fileWatcher) follow() {
	fi, err := os.Lstat(w.path)
	if err != nil {
		return
	}
	w.symlink = fi.Mode()&fs.ModeSymlink != 0
	target := ""
	if w.symlink {
		if t, err := filepath.EvalSymlinks(w.path); err == nil {
			target = t
		}
	}
	dir := ""
	if target != "" && filepath.Dir(target) != filepath.Dir(w.path) {
		dir = filepath.Dir(target)
	}
	w.target = target
	if dir == w.targetDir {
		return
	}
	if w.targetDir != "" {
		w.fw.Remove(w.targetDir) // gone already, or no longer the target's
	}
	w.targetDir = ""
	if dir != "" {
		if err := w.fw.Add(dir); err != nil {
			w.cfg.log.Warn("mailsession: watching the directory the mail settings link points to", "file", w.path, "target", target, "err", err)
			return
		}
		w.targetDir = dir
	}
}

// concerns says whether an event on name may change what path reads.
func (w *fileWatcher) concerns(name string) bool {
	name = filepath.Clean(name)
	if filepath.Dir(name) == filepath.Dir(w.path) {
		return filepath.Base(name) == filepath.Base(w.path) || w.symlink
	}
	return w.target != "" && name == w.target
}

// loop handles the watcher's events until ctx ends.
func (w *fileWatcher) loop(ctx context.Context) error {
	fw := w.fw
	dir := filepath.Dir(w.path)
	timer := time.NewTimer(time.Hour)
	timer.Stop() // started by the first event
	pending := false
	schedule := func() {
		timer.Reset(w.cfg.debounce)
		pending = true
	}
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case ev, ok := <-fw.Events:
			if !ok {
				return fmt.Errorf("mailsession: watch %s: the watcher stopped", w.path)
			}
			if filepath.Clean(ev.Name) == dir && ev.Has(fsnotify.Remove|fsnotify.Rename) {
				return fmt.Errorf("mailsession: watch %s: the directory was removed or renamed", w.path)
			}
			if w.concerns(ev.Name) {
				schedule()
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return fmt.Errorf("mailsession: watch %s: the watcher stopped", w.path)
			}
			// Events may have been lost (a queue overflow): read the
			// file anyway, unchanged contents cost nothing.
			w.cfg.log.Warn("mailsession: watching the mail settings file", "file", w.path, "err", err)
			schedule()
		case <-timer.C:
			if pending {
				pending = false
				if err := w.reload(false); err != nil {
					w.report(err)
				}
			}
		}
	}
}

// reload reads the file and publishes a session built from it if its
// contents changed. An error leaves the current session bound.
func (w *fileWatcher) reload(first bool) error {
	w.follow()
	b, err := os.ReadFile(w.path)
	if err != nil {
		if !first && errors.Is(err, fs.ErrNotExist) && w.seen == nil {
			return nil // still gone: told already
		}
		w.seen = nil
		if errors.Is(err, fs.ErrNotExist) && !first {
			return fmt.Errorf("mailsession: mail settings file %s deleted; the current session stays until it is back: %w", w.path, err)
		}
		return fmt.Errorf("mailsession: read mail settings file %s: %w", w.path, err)
	}
	sum := sha256.Sum256(b)
	if !first && bytes.Equal(w.seen, sum[:]) && !w.unbuilt {
		return nil // a touch, or a save without changes
	}
	w.seen, w.unbuilt = sum[:], false
	if !first && sum == w.published {
		w.cfg.log.Info("mailsession: mail settings file back to the published settings", "file", w.path)
		return nil
	}
	s, err := w.build(b)
	if err != nil {
		// Retried at the next event, a touch included: the cause may
		// be another file (a DKIM key written after the properties).
		w.unbuilt = true
		return err
	}
	replaced, err := w.reg.Swap(w.name, s)
	if err != nil {
		s.Close()
		return fmt.Errorf("mailsession: publish the session of %s: %w", w.path, err)
	}
	old := w.current
	w.current, w.published = s, sum
	if r, ok := replaced.(*Session); ok && r != old && r != s {
		w.cfg.log.Warn("mailsession: replaced a session WatchFile did not publish; leaving it to its owner",
			"file", w.path, "name", w.name)
	}
	if old != nil {
		// Also when somebody else replaced it in between: WatchFile
		// made it, and nobody finds it under name any more. New work on
		// it is refused from now on (ErrClosed), before OnReload runs;
		// its sends in flight finish in the background.
		old.life.beginDrain()
		old.pool.refuse()
		w.drains.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), w.cfg.drain)
			defer cancel()
			if err := old.Shutdown(ctx); err != nil {
				w.cfg.log.Warn("mailsession: the replaced session's sends did not finish in time; cut off",
					"file", w.path, "name", w.name, "err", err)
			}
		})
	}
	if first {
		w.cfg.log.Info("mailsession: mail session published", "file", w.path, "name", w.name, "session", s.String())
		if w.cfg.onReady != nil {
			w.cfg.onReady(s)
		}
		return nil
	}
	w.cfg.log.Info("mailsession: mail settings reloaded", "file", w.path, "name", w.name, "session", s.String())
	if w.cfg.onReload != nil {
		w.cfg.onReload(old, s)
	}
	return nil
}

// build makes a session of the file's contents b.
func (w *fileWatcher) build(b []byte) (*Session, error) {
	p, err := properties.Load(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("mailsession: mail settings file %s: %w", w.path, err)
	}
	portal, mail := false, false
	for _, k := range p.Keys() {
		portal = portal || strings.HasPrefix(k, portalPrefix)
		mail = mail || strings.HasPrefix(k, "mail.")
	}
	var s *Session
	switch {
	case portal:
		// The file's mail.session.jndi.name, or a LIFERAY_ variable
		// setting it, would look up the session WatchFile publishes
		// and hand back a view of it, which the swap then shuts down:
		// name says where to publish, the file what to build.
		s, err = FromPortalProperties(p, append(slices.Clone(w.cfg.opts), buildOnly())...)
	case mail:
		s, err = FromProperties(p, w.cfg.opts...)
	default:
		err = ErrNoMailSettings
	}
	if err != nil {
		return nil, fmt.Errorf("mailsession: mail settings file %s: %w", w.path, err)
	}
	return s, nil
}

// report logs an edit that was not published and tells OnReloadError.
func (w *fileWatcher) report(err error) {
	if errors.Is(err, fs.ErrNotExist) {
		w.cfg.log.Warn("mailsession: mail settings file deleted; keeping the current session", "file", w.path, "name", w.name)
	} else {
		w.cfg.log.Error("mailsession: mail settings not reloaded; keeping the current session", "file", w.path, "name", w.name, "err", err)
	}
	if w.cfg.onError != nil {
		w.cfg.onError(err)
	}
}
