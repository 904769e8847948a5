package controlpanel

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jmailgo/jmail/mailsession/outbox"
)

// The Outbox section (WithOutbox): the counts of the outbox's messages by
// state and its latest failures, each with Retry and Cancel buttons. The
// buttons post to the page itself, as Save does, with action=retry or
// action=cancel and the message's id, so they pass the same authorizer and
// CSRF check; the outcome is shown after a redirect back to the page
// (post/redirect/get), in the section, from a flash bound to the browser.
const (
	actionRetry  = "retry"
	actionCancel = "cancel"
	fOutboxID    = "id" // the form field with the message's ID

	// outboxParam carries the flash id of an outbox action's outcome.
	outboxParam = "outbox"
	// outboxFailures is how many of the latest failures the page lists.
	outboxFailures = 20
	// outboxTimeout bounds reading the outbox for the page, and one
	// action: an outbox that does not answer (its database down or busy)
	// makes a problem line, not a page that never loads.
	outboxTimeout = 5 * time.Second
)

// outboxStates are the states the section counts, in this order, zeros
// included.
var outboxStates = [...]outbox.State{outbox.Pending, outbox.Sending, outbox.Sent, outbox.Failed, outbox.Canceled}

// outboxView is the Outbox section of the page.
type outboxView struct {
	Flash    *notice      // the outcome of the Retry or Cancel just done
	Problems []string     // why the counts or the failures cannot be shown
	Counts   []stateCount // nil when they cannot be read
	Failures []failureRow
	Read     bool // the failures could be read (an empty list means none)
	Limit    int
}

// stateCount is how many messages are in one state.
type stateCount struct {
	Name, Class string
	N           int
}

// failureRow is one message of the latest failures.
type failureRow struct {
	ID                  string
	State, Class        string
	Attempts            int
	Updated, UpdatedISO string
	Next, NextISO       string // when Pending: the next attempt
	Recipients          []recipientRow
	LastError           string
	CanRetry, CanCancel bool
}

// recipientRow is one recipient of a failed message.
type recipientRow struct {
	Address, State, Class string
	Code                  int
	Reply                 string
	Uncertain             bool
}

// isOutboxAction reports whether action is one of the Outbox section's,
// which exist only with WithOutbox.
func (h *Handler) isOutboxAction(action string) bool {
	return h.cfg.outbox != nil && (action == actionRetry || action == actionCancel)
}

// refuseOutboxGET answers 405 to a GET (or HEAD) naming an outbox action:
// Retry and Cancel are done only by a POST from the page's buttons.
func (h *Handler) refuseOutboxGET(w http.ResponseWriter, r *http.Request) bool {
	if !h.isOutboxAction(r.URL.Query().Get("action")) {
		return false
	}
	w.Header().Set("Allow", http.MethodPost)
	http.Error(w, "Method not allowed: Retry and Cancel are done with the buttons of the page's Outbox section (POST).", http.StatusMethodNotAllowed)
	return true
}

// serveOutboxAction retries or cancels the message the form names and
// redirects to the page, which shows what happened. r's form is parsed and
// its CSRF token verified.
func (h *Handler) serveOutboxAction(w http.ResponseWriter, r *http.Request) {
	action := r.PostForm.Get("action")
	if !h.isOutboxAction(action) {
		http.Error(w, "Bad request: unknown action.", http.StatusBadRequest)
		return
	}
	id, ok := parseMessageID(r.PostForm[fOutboxID])
	if !ok {
		http.Error(w, "Bad request: the message ID must be one positive whole number, such as 12.", http.StatusBadRequest)
		return
	}
	ob := h.cfg.outbox
	ctx, cancel := context.WithTimeout(r.Context(), outboxTimeout)
	defer cancel()
	var err error
	if action == actionRetry {
		err = ob.Retry(ctx, id)
	} else {
		err = ob.Cancel(ctx, id)
	}
	n := actionOutcome(ctx, ob, action, id, err)
	if err != nil {
		h.log.Warn("controlpanel: outbox "+action+" failed", "id", id, "remote", r.RemoteAddr, "err", err)
	} else {
		h.log.Info("controlpanel: outbox "+action, "id", id, "remote", r.RemoteAddr)
	}
	flash := h.done.put(h.csrf.owner(r), outcome{notice: n})
	w.Header().Set("Location", "?"+outboxParam+"="+flash+"#outbox")
	w.WriteHeader(http.StatusSeeOther)
}

// parseMessageID accepts exactly one value of decimal digits without sign,
// space or leading zero, naming a positive int64.
func parseMessageID(vals []string) (outbox.ID, bool) {
	if len(vals) != 1 {
		return 0, false
	}
	s := vals[0]
	if s == "" || s[0] == '0' || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return outbox.ID(n), true
}

// actionOutcome says in words what Retry or Cancel of id did.
func actionOutcome(ctx context.Context, ob *outbox.Outbox, action string, id outbox.ID, err error) *notice {
	msg := "Message " + id.String()
	switch {
	case err == nil && action == actionRetry:
		return &notice{OK: true, Title: msg + " will be retried now."}
	case err == nil:
		return &notice{OK: true, Title: msg + " canceled."}
	case errors.Is(err, outbox.ErrNotFound):
		return &notice{Title: msg + " is not in the outbox: nothing was done."}
	case errors.Is(err, outbox.ErrFinished) && action == actionRetry:
		return &notice{Title: msg + " was not retried: it has already been sent to every recipient."}
	case errors.Is(err, outbox.ErrFinished):
		state := "finished"
		if st, serr := ob.Status(ctx, id); serr == nil {
			state = strings.ToLower(st.State.String())
		}
		return &notice{Title: msg + " cannot be canceled: it is already " + state + "."}
	case action == actionRetry:
		return &notice{Title: msg + " was not retried: " + err.Error()}
	default:
		return &notice{Title: msg + " was not canceled: " + err.Error()}
	}
}

// addOutbox adds the Outbox section to d (nothing without WithOutbox),
// read under ctx, with the outcome of the action r was redirected from
// (r may be nil).
func (h *Handler) addOutbox(ctx context.Context, r *http.Request, d *pageData) {
	ob := h.cfg.outbox
	if ob == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, outboxTimeout)
	defer cancel()
	v := &outboxView{Limit: outboxFailures}
	if r != nil {
		if id := r.URL.Query().Get(outboxParam); id != "" {
			if o, ok := h.done.get(h.csrf.owner(r), id); ok {
				v.Flash = o.notice
			}
		}
	}
	counts, err := ob.Counts(ctx)
	if err != nil {
		h.log.Warn("controlpanel: reading the outbox's counts", "err", err)
		v.Problems = append(v.Problems, "The counts cannot be read: "+err.Error())
	} else {
		for _, s := range outboxStates {
			v.Counts = append(v.Counts, stateCount{Name: s.String(), Class: strings.ToLower(s.String()), N: counts[s]})
		}
	}
	fails, err := ob.Failures(ctx, outboxFailures)
	if err != nil {
		h.log.Warn("controlpanel: reading the outbox's failures", "err", err)
		v.Problems = append(v.Problems, "The latest failures cannot be read: "+err.Error())
	} else {
		v.Read = true
		for _, st := range fails {
			v.Failures = append(v.Failures, failureRowOf(st))
		}
	}
	d.Outbox = v
}

// timeFormat is how the section shows times: UTC, to the second.
const timeFormat = "2006-01-02 15:04:05 UTC"

func failureRowOf(st *outbox.Status) failureRow {
	row := failureRow{
		ID:         st.ID.String(),
		State:      st.State.String(),
		Class:      stateClass(st.State),
		Attempts:   st.Attempts,
		Updated:    st.Updated.UTC().Format(timeFormat),
		UpdatedISO: st.Updated.UTC().Format(time.RFC3339),
		LastError:  st.LastError,
		CanCancel:  st.State == outbox.Pending || st.State == outbox.Sending,
	}
	if st.State == outbox.Pending && !st.Next.IsZero() {
		row.Next, row.NextISO = st.Next.UTC().Format(timeFormat), st.Next.UTC().Format(time.RFC3339)
	}
	allSent := true
	for _, rc := range st.Recipients {
		class := "wait"
		switch rc.State {
		case outbox.RecipientSent:
			class = "ok"
		case outbox.RecipientFailed:
			class = "bad"
		}
		if rc.State != outbox.RecipientSent {
			allSent = false
		}
		row.Recipients = append(row.Recipients, recipientRow{Address: rc.Address, State: rc.State.String(), Class: class,
			Code: rc.Code, Reply: rc.Reply, Uncertain: rc.Uncertain})
	}
	row.CanRetry = st.State != outbox.Sending && !allSent
	return row
}

// stateClass is the status pill's class for a message state.
func stateClass(s outbox.State) string {
	switch s {
	case outbox.Sent:
		return "ok"
	case outbox.Failed:
		return "bad"
	case outbox.Canceled:
		return "na"
	}
	return "wait"
}
