package controlpanel

import (
	"context"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"time"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession"
)

// serveSend sends a test message through the session published under the
// saved JNDI name: the one the application's own code gets when it looks
// the name up.
func (h *Handler) serveSend(w http.ResponseWriter, r *http.Request) {
	stored, _, err := h.load()
	from := strings.TrimSpace(r.PostForm.Get(fTestFrom))
	to := strings.TrimSpace(r.PostForm.Get(fTestTo))
	errs := fieldErrors{}
	if err == nil {
		if _, perr := mail.ParseAddress(to); to == "" || perr != nil {
			errs[fTestTo] = "Enter the address to send the test message to, e.g. admin@example.com."
		}
		if from != "" {
			if _, perr := mail.ParseAddress(from); perr != nil {
				errs[fTestFrom] = "Enter a sender address such as no-reply@example.com, or leave it empty."
			}
		}
	}
	d := newPageData(stored, errs, from, to)
	d.CSRF = h.csrf.token(w, r)
	d.Version = stored.version
	switch {
	case err != nil:
		d.Sent = &notice{Title: "The saved settings cannot be read: " + err.Error()}
		h.render(w, http.StatusInternalServerError, d)
		return
	case len(errs) > 0:
		h.render(w, http.StatusUnprocessableEntity, d)
		return
	}
	sess, err := jndi.LookupAs[*mailsession.Session](h.registry(), stored.bindName())
	if err != nil {
		d.Sent = &notice{Title: fmt.Sprintf("No mail session is published as %s yet: save the settings first.", stored.bindName())}
		h.render(w, http.StatusConflict, d)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.sendTimeout)
	defer cancel()
	msg := &mailsession.Message{
		From:    from,
		To:      []string{to},
		Subject: "Test message from the Mail control panel",
		Text: "This message was sent from the Mail page of the server administration at " +
			time.Now().UTC().Format(time.RFC1123) + ",\r\nthrough the mail session published as " + stored.bindName() + ".\r\n",
	}
	if err := sess.Send(ctx, msg); err != nil {
		h.log.Warn("controlpanel: test message failed", "name", stored.bindName(), "err", err)
		d.Sent = &notice{Title: "The test message was not sent: " + err.Error()}
		h.render(w, http.StatusBadGateway, d)
		return
	}
	h.log.Info("controlpanel: test message sent", "name", stored.bindName())
	d.Sent = &notice{OK: true, Title: "Test message sent to " + to + "."}
	h.render(w, http.StatusOK, d)
}
