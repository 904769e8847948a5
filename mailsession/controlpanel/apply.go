package controlpanel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/properties"
)

func (h *Handler) registry() *jndi.Registry {
	if h.cfg.registry != nil {
		return h.cfg.registry
	}
	return jndi.Default()
}

// build makes a session from portal properties. The JNDI name is left out:
// here it says where the session is published, and FromPortalProperties
// would otherwise look the current (old) session up instead of building one.
func (h *Handler) build(p *properties.Properties) (*mailsession.Session, error) {
	p = p.Clone()
	p.Delete(KeyJNDIName)
	return mailsession.FromPortalProperties(p, h.cfg.sessionOptions...)
}

// hasMailSettings reports whether a properties file configures the portal's
// own mail session.
func hasMailSettings(p *properties.Properties) bool {
	if v, _ := p.Get(KeyMail); v == "true" {
		return true
	}
	v, _ := p.Get(KeySMTPHost)
	return v != ""
}

// start publishes the session the file describes, unless something is
// already bound under its name (the application's own session wins).
func (h *Handler) start() error {
	stored, p, err := h.load()
	if err != nil {
		return err
	}
	if !hasMailSettings(p) {
		return nil
	}
	if _, err := h.registry().Lookup(stored.bindName()); err == nil {
		return nil
	} else if !errors.Is(err, jndi.ErrNameNotFound) {
		return fmt.Errorf("controlpanel: look up %s: %w", stored.bindName(), err)
	}
	sess, err := h.build(p)
	if err != nil {
		msg := err.Error()
		h.startErr.Store(&msg)
		h.log.Error("controlpanel: the saved mail settings cannot be used", "file", h.path, "err", err)
		return nil
	}
	if err := h.registry().Bind(stored.bindName(), sess); err != nil {
		sess.Close()
		return fmt.Errorf("controlpanel: publish the mail session: %w", err)
	}
	h.current, h.name = sess, stored.bindName()
	return nil
}

// startProblem is shown on the page while the file's settings could not be
// turned into a session at start-up and nothing has been saved since.
func (h *Handler) startProblem() string {
	if msg := h.startErr.Load(); msg != nil {
		return *msg
	}
	return ""
}

// serveApply handles Save (save=true) and Test connection (save=false).
func (h *Handler) serveApply(w http.ResponseWriter, r *http.Request, save bool) {
	if save {
		// One save at a time: the stored passwords read here are the
		// ones the written file and the published session will hold.
		h.mu.Lock()
		defer h.mu.Unlock()
	}
	stored, fileProps, err := h.load()
	if err != nil {
		d := newPageData(stored, nil, "", "")
		d.CSRF = h.csrf.token(w, r)
		d.Notice = &notice{Title: "The saved settings cannot be read; nothing was changed.", Lines: []string{err.Error()}}
		h.render(w, http.StatusInternalServerError, d)
		return
	}
	s, refused := settingsFromForm(r.PostForm, h.placeholderBase(r, stored))
	errs := s.validate()
	for k, msg := range refused.fields {
		if errs[k] == "" {
			errs[k] = msg
		}
	}
	_, problems := parseAdvanced(s.Advanced)
	problems = append(refused.lines, problems...)
	if len(problems) > 0 {
		errs[fAdvanced] = plural(len(problems), "line needs", "lines need") + " attention."
	}
	if len(errs) > 0 {
		h.render(w, http.StatusUnprocessableEntity, h.formPage(w, r, s, stored, errs, problems))
		return
	}

	if v := r.PostForm.Get(fVersion); save && v != "" && v != stored.version {
		// Someone saved since this form was loaded: saving it would undo
		// their changes unseen. Show the form again, now carrying the
		// current version, so a second Save replaces them knowingly.
		d := h.formPage(w, r, s, stored, nil, nil)
		d.Version = stored.version
		d.Notice = &notice{Title: "The mail settings were changed since you loaded this page; nothing was saved.",
			Lines: []string{"Reload the page to see the current settings, or Save again to replace them with the values below."}}
		h.render(w, http.StatusConflict, d)
		return
	}
	sess, err := h.build(s.apply(fileProps))
	if err != nil {
		if errs, lines, rest := h.explainBuild(s, fileProps, err); len(errs)+len(lines) > 0 {
			if len(lines) > 0 {
				errs[fAdvanced] = plural(len(lines), "line needs", "lines need") + " attention."
			}
			d := h.formPage(w, r, s, stored, errs, lines)
			if rest != nil {
				d.Notice = &notice{Title: "These settings cannot be used; nothing was saved.", Lines: []string{rest.Error()}}
			}
			h.render(w, http.StatusUnprocessableEntity, d)
			return
		}
		d := h.formPage(w, r, s, stored, nil, nil)
		d.Notice = &notice{Title: "These settings cannot be used; nothing was saved.", Lines: []string{err.Error()}}
		h.render(w, http.StatusUnprocessableEntity, d)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.checkTimeout)
	rep, checkErr := sess.Check(ctx)
	cancel()
	entries, _ := parseAdvanced(s.Advanced)
	view := newReportView(rep, checkErr, entries)

	if !save {
		if err := sess.Close(); err != nil {
			h.log.Warn("controlpanel: close the test session", "err", err)
		}
		view.Title = "Test only, nothing was saved: " + view.Title
		d := h.formPage(w, r, s, stored, nil, nil)
		d.Report = view
		h.render(w, http.StatusOK, d)
		return
	}

	if err := h.persist(s); err != nil {
		sess.Close()
		h.log.Error("controlpanel: save", "file", h.path, "err", err)
		d := h.formPage(w, r, s, stored, nil, nil)
		d.Notice = &notice{Title: "The settings could not be saved; the current session stays in use.", Lines: []string{err.Error()}}
		d.Report = view
		h.render(w, http.StatusInternalServerError, d)
		return
	}
	if err := h.publish(s.bindName(), sess); err != nil {
		sess.Close()
		h.log.Error("controlpanel: publish", "name", s.bindName(), "err", err)
		d := h.formPage(w, r, s, s, nil, nil)
		d.Notice = &notice{Title: "The settings were saved but could not be published.", Lines: []string{err.Error()}}
		d.Report = view
		h.render(w, http.StatusInternalServerError, d)
		return
	}
	h.startErr.Store(nil)
	h.log.Info("controlpanel: mail settings saved and applied", "file", h.path, "name", s.bindName(),
		"session", sess.String(), "remote", r.RemoteAddr)
	n := &notice{OK: true, Title: "Saved. The new settings are in use as " + s.bindName() + "."}
	if !view.OK {
		// Saved all the same, as Liferay does: the server may simply not
		// be reachable yet. The banner says so instead of sounding fine.
		n = &notice{Title: "Saved and in use as " + s.bindName() + ", but the check found problems: see the report."}
	}
	seeOther(w, h.done.put(h.csrf.owner(r), outcome{n, view}))
}

// explainBuild places the settings the session refused (err is the first):
// each refused line of the additional-properties box is reported in words
// on its line, and blanked to find the next one; a refused form field gets
// its message. rest is what remains that is no line's or field's.
func (h *Handler) explainBuild(s settings, fileProps *properties.Properties, err error) (errs fieldErrors, lines []string, rest error) {
	errs = fieldErrors{}
	for range maxAdvancedLines {
		entries, _ := parseAdvanced(s.Advanced)
		line, field, msg, ok := explainSettingError(err, entries)
		switch {
		case !ok || line == 0 && field == "":
			return errs, lines, err
		case field != "":
			errs[field] = msg + "."
			return errs, lines, nil
		}
		lines = append(lines, fmt.Sprintf("Line %d: %s.", line, msg))
		s.Advanced = blankBoxLine(s.Advanced, line)
		sess, berr := h.build(s.apply(fileProps))
		if berr == nil {
			sess.Close()
			return errs, lines, nil
		}
		err = berr
	}
	return errs, lines, err
}

// publish binds sess under name, replacing (Swap: no moment without a
// binding) whatever was there, then shuts down the session it replaced —
// Shutdown waits (up to a minute) for that session's in-flight sends, so
// none is cut off. When the name changed, the session this handler
// published under the old name is unbound and shut down too. Called with
// h.mu held.
func (h *Handler) publish(name string, sess *mailsession.Session) error {
	reg := h.registry()
	var old []*mailsession.Session
	// Swap, not Lookup then Rebind: a session the application binds under
	// the name in between is then the one returned, and closed, never lost.
	replaced, err := reg.Swap(name, sess)
	if err != nil {
		return err
	}
	if o, ok := replaced.(*mailsession.Session); ok && o != sess {
		old = append(old, o)
	}
	if h.current != nil && h.name != "" && h.name != name {
		if obj, err := reg.Lookup(h.name); err == nil && obj == h.current {
			if err := reg.Unbind(h.name); err != nil {
				h.log.Warn("controlpanel: unbind the old name", "name", h.name, "err", err)
			}
		}
		old = append(old, h.current)
	}
	h.current, h.name = sess, name
	for i, o := range old {
		if i > 0 && o == old[0] {
			continue
		}
		// Shutdown, not Close: the replaced session's sends in flight finish.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := o.Shutdown(ctx)
		cancel()
		if err != nil {
			h.log.Warn("controlpanel: close the replaced session", "err", err)
		}
	}
	return nil
}

// formPage is the page showing submitted settings s. Passwords are never
// sent back: every non-empty one shows as the placeholder. One that differs
// from the stored password (typed into this form, not saved yet) is kept on
// the server for this browser, and the form carries its id (fPending), so
// that the placeholder submitted again stands for it: "Test connection",
// then Save, saves the password that was tested.
func (h *Handler) formPage(w http.ResponseWriter, r *http.Request, s, stored settings, errs fieldErrors, problems []string) *pageData {
	d := newPageData(s, errs, r.PostForm.Get(fTestFrom), r.PostForm.Get(fTestTo))
	d.CSRF = h.csrf.token(w, r)
	d.Version = r.PostForm.Get(fVersion) // still the version it was filled from
	d.AdvancedErrors = problems
	const kept = "Not saved yet: the password you typed is kept with this form (it is never sent back to the browser)."
	typed := false
	for _, pw := range []struct {
		name          string
		value, stored string
	}{{fStorePassword, s.StorePassword, stored.StorePassword}, {fSMTPPassword, s.SMTPPassword, stored.SMTPPassword}} {
		if pw.value != pw.stored {
			typed = true
			if pw.value != "" {
				f := d.F[pw.name]
				f.Hint = kept
				d.F[pw.name] = f
			}
		}
	}
	if !sameSecrets(advancedSecrets(s.Advanced), advancedSecrets(stored.Advanced)) {
		typed = true
		f := d.F[fAdvanced]
		f.Hint += " Passwords and tokens typed here show as dots and are kept with this form until it is saved."
		d.F[fAdvanced] = f
	}
	// Secrets kept for endpoints other than the stored ones (a password
	// retyped for a new host, unchanged) are kept with the form too: the
	// placeholder then stands for them at those endpoints.
	hasSecret := s.StorePassword != "" || s.SMTPPassword != "" || len(advancedSecrets(s.Advanced)) > 0
	if typed || hasSecret && s.endpointsKey() != stored.endpointsKey() {
		if owner := h.csrf.owner(r); owner != "" {
			d.Pending = h.typed.put(owner, s)
		}
	}
	return d
}

// placeholderBase returns what the placeholders of the submitted form stand
// for: the stored settings, or the form shown back earlier with the secrets
// typed into it, when the form carries its id and belongs to the browser
// that typed them. Either way a secret stands only for the endpoints of the
// settings it came with (see settingsFromForm).
func (h *Handler) placeholderBase(r *http.Request, stored settings) settings {
	if t, ok := h.typed.get(h.csrf.owner(r), r.PostForm.Get(fPending)); ok {
		t.typed = true
		return t
	}
	return stored
}

func sameSecrets(a, b map[string]secretLine) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w.value != v.value {
			return false
		}
	}
	return true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
