// Package controlpanel is Liferay's Control Panel → Server Administration →
// Mail page as an http.Handler that a Go service mounts under its own admin
// routes.
//
// The page edits the portal properties Liferay uses (mail.session.mail.pop3.host,
// mail.session.mail.smtp.port, mail.session.mail.transport.protocol,
// mail.session.mail.advanced.properties, mail.session.jndi.name ...). On Save it
// validates the form, builds a new mailsession.Session, checks it (reached,
// TLS, login per server) and shows the report beside the form, publishes the
// session under its JNDI name at once (jndi Rebind: the next look-up gets
// it), closes the old session once its in-flight sends have finished, and
// writes the values into the operator's portal-ext.properties in place —
// comments, order and other keys kept — atomically; a new file gets mode
// 0600, an existing one keeps its mode, owner and group.
// A successful Save answers 303 See Other to the page itself, which then
// shows the outcome (post/redirect/get: a reload never saves twice).
// Save applies the settings even when the check fails, as Liferay does (a
// server may not be reachable yet); the banner and the report say so.
// Saves are applied one at a time, and a Save made on a page loaded before
// another administrator's save is refused (409 Conflict, the form kept)
// rather than silently undoing it; saving that form again replaces the
// settings. "Test connection" runs the check without saving; "Send test message"
// sends through the session currently published.
//
// Security: the host supplies the authorization check (WithAuthorizer; New
// fails without it unless WithoutAuthorization is given), every POST needs
// a CSRF token bound to a SameSite=Strict cookie and must come from the same
// origin, passwords are never sent to the browser (a placeholder stands for
// a stored one and keeps it when submitted unchanged; a password typed into
// a form shown back unsaved, e.g. after "Test connection", is kept on the
// server for that browser and form), a kept password is sent only to the
// endpoint it was stored (or typed) for — with another host, port,
// protocol or TLS setting on its side the placeholder is refused and the
// password must be typed again, so the page cannot be used to hand a
// stored password to another server —, request bodies are
// limited, all output is escaped, and the page loads nothing from outside:
// its Content-Security-Policy allows no script and only its own style.
//
// With WithOutbox the page also shows a durable outbox (mailsession/outbox):
// how many messages are in each state and the latest failures, each with
// its recipients' states and the server's replies, and Retry and Cancel
// buttons. Those are POSTs to the page, checked like the others; the
// outcome is shown after a redirect back to the page, and a problem reading
// the outbox is shown in its section rather than failing the page.
package controlpanel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/properties"
)

// ErrNoAuthorizer is returned by New when neither WithAuthorizer nor
// WithoutAuthorization is given: an admin page must not be open by
// accident.
var ErrNoAuthorizer = errors.New("controlpanel: no authorizer: pass WithAuthorizer(func(*http.Request) error), or WithoutAuthorization() to serve the page to anyone who can reach it")

// errForbidden is the body of a refused request; the authorizer's own error
// is logged, not shown.
const errForbidden = "Forbidden: you are not allowed to change the mail settings."

// Handler serves the Mail page. It is safe for concurrent use; saves are
// applied one at a time.
type Handler struct {
	path  string
	cfg   config
	log   *slog.Logger
	csrf  *csrf
	done  ownedStore[outcome]  // outcomes of saves, for the GET after the redirect
	typed ownedStore[settings] // forms shown back unsaved, with the passwords typed into them

	mu      sync.Mutex           // serializes saves and guards current
	current *mailsession.Session // the session this handler published last
	name    string               // and the name it is bound under
	// startErr is why the file's settings could not be published at
	// start-up; cleared by the next successful save. Atomic, so showing
	// the page never waits for a save in progress.
	startErr atomic.Pointer[string]
}

// New returns the Mail page for the portal properties file at path (the
// operator's portal-ext.properties; it is created on the first save if it
// does not exist).
//
// When the file already holds mail settings and nothing is bound under its
// JNDI name yet, New builds that session and binds it, as the portal does at
// start-up. A session that cannot be built from the file is logged and the
// page shows why; New still succeeds so the settings can be corrected.
func New(path string, opts ...Option) (*Handler, error) {
	if path == "" {
		return nil, errors.New("controlpanel: no properties file path")
	}
	c := config{maxBytes: DefaultMaxRequestBytes, checkTimeout: DefaultCheckTimeout, sendTimeout: DefaultSendTimeout}
	for _, o := range opts {
		o(&c)
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxRequestBytes
	}
	if c.checkTimeout <= 0 {
		c.checkTimeout = DefaultCheckTimeout
	}
	if c.sendTimeout <= 0 {
		c.sendTimeout = DefaultSendTimeout
	}
	if c.authorize == nil && !c.unprotected {
		return nil, ErrNoAuthorizer
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	cs, err := newCSRF(c.trustedOrigins)
	if err != nil {
		return nil, fmt.Errorf("controlpanel: %w", err)
	}
	h := &Handler{path: path, cfg: c, log: c.logger, csrf: cs}
	if err := h.start(); err != nil {
		return nil, err
	}
	return h, nil
}

// ServeHTTP serves the page (GET, HEAD) and its actions (POST).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if h.cfg.authorize != nil {
		if err := h.cfg.authorize(r); err != nil {
			h.log.Warn("controlpanel: request refused by the authorizer", "method", r.Method, "remote", r.RemoteAddr, "err", err)
			http.Error(w, errForbidden, http.StatusForbidden)
			return
		}
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if h.refuseOutboxGET(w, r) {
			return
		}
		h.serveForm(w, r)
	case http.MethodPost:
		h.servePost(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
	}
}

func (h *Handler) serveForm(w http.ResponseWriter, r *http.Request) {
	stored, _, err := h.load()
	d := newPageData(stored, nil, "", "")
	d.CSRF = h.csrf.token(w, r)
	d.Version = stored.version
	if err != nil {
		d.Notice = &notice{Title: "The saved settings cannot be read.", Lines: []string{err.Error()}}
	} else if msg := h.startProblem(); msg != "" {
		d.Notice = &notice{Title: "The saved settings are not in use.", Lines: []string{msg}}
	} else if id := r.URL.Query().Get(flashParam); id != "" {
		if owner := h.csrf.owner(r); owner != "" {
			if o, ok := h.done.get(owner, id); ok {
				d.Notice, d.Report = o.notice, o.report
			}
		}
	}
	h.addOutbox(r.Context(), r, d)
	h.render(w, http.StatusOK, d)
}

func (h *Handler) servePost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, h.cfg.maxBytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			http.Error(w, fmt.Sprintf("Request too large: at most %d bytes are accepted.", h.cfg.maxBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "Bad request: the form could not be read.", http.StatusBadRequest)
		return
	}
	if err := h.csrf.verify(r); err != nil {
		h.log.Warn("controlpanel: POST refused", "remote", r.RemoteAddr, "err", err)
		http.Error(w, "Forbidden: the form's security token is missing or stale, or the request came from another site. Reload the page and try again.", http.StatusForbidden)
		return
	}
	switch r.PostForm.Get("action") {
	case "save":
		h.serveApply(w, r, true)
	case "test":
		h.serveApply(w, r, false)
	case "send":
		h.serveSend(w, r)
	case actionRetry, actionCancel:
		h.serveOutboxAction(w, r)
	default:
		http.Error(w, "Bad request: unknown action.", http.StatusBadRequest)
	}
}

// render writes the page, logging a failure (the client is gone or the
// template is broken; neither can be told to the user).
func (h *Handler) render(w http.ResponseWriter, status int, d *pageData) {
	if d.Outbox == nil {
		// A page answering a POST (a form shown back, a check report)
		// shows the Outbox section too.
		h.addOutbox(context.Background(), nil, d)
	}
	if err := render(w, status, d); err != nil {
		h.log.Error("controlpanel: render", "err", err)
	}
}

// load reads the properties file; a missing file is an empty one. The
// settings' version identifies the file's content (see fileVersion).
func (h *Handler) load() (settings, *properties.Properties, error) {
	b, err := os.ReadFile(h.path)
	if errors.Is(err, os.ErrNotExist) {
		b, err = nil, nil
	}
	var p *properties.Properties
	if err == nil {
		p, err = properties.Load(bytes.NewReader(b))
	}
	if err != nil {
		return settingsFrom(properties.New().Get), properties.New(), fmt.Errorf("controlpanel: read %s: %w", h.path, err)
	}
	s := settingsFrom(p.Get)
	s.version = fileVersion(b)
	return s, p, nil
}

// Close unbinds the session this handler published (if it is still the
// one bound) and closes it, waiting for its in-flight sends. Call it when
// the application shuts down.
func (h *Handler) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.current == nil {
		return nil
	}
	if obj, err := h.registry().Lookup(h.name); err == nil && obj == h.current {
		if err := h.registry().Unbind(h.name); err != nil {
			h.log.Warn("controlpanel: unbind", "name", h.name, "err", err)
		}
	}
	err := h.current.Close()
	h.current = nil
	return err
}

var _ io.Closer = (*Handler)(nil)
