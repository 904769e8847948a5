package controlpanel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmailgo/jmail/mailsession"
)

// reportView is the check report as the page shows it: one card per
// endpoint, green or red, the steps (reached, TLS, login) at a glance and
// the details behind a disclosure.
type reportView struct {
	OK        bool
	Title     string
	Endpoints []endpointView
	Warnings  []string
}

type endpointView struct {
	Name     string // "Outgoing (SMTP)"
	Addr     string // "smtps://smtp.example.com:465"
	OK       bool
	Steps    []stepView
	Error    string
	Warnings []string
	Details  []detail
}

type stepView struct {
	Label string // "Reached", "TLS", "Login"
	Class string // yes, no, na
	State string // "yes", "no", "not used"
}

type detail struct{ Name, Value string }

// newReportView turns a check report into its view. err is Check's error
// (the report is still used when there is one); entries are the
// additional-properties box's, so that warnings name its lines.
func newReportView(rep *mailsession.CheckReport, err error, entries []advancedEntry) *reportView {
	v := &reportView{OK: err == nil}
	if rep == nil {
		v.OK = false
		v.Title = "The check could not run"
		if err != nil {
			v.Warnings = []string{err.Error()}
		}
		return v
	}
	failed, total := 0, 0
	for _, ep := range []struct {
		name string
		r    *mailsession.EndpointReport
	}{{"Outgoing mail", rep.Transport}, {"Incoming mail", rep.Store}} {
		if ep.r == nil {
			continue
		}
		total++
		e := newEndpointView(ep.name, ep.r, entries)
		if !e.OK {
			failed++
		}
		v.Endpoints = append(v.Endpoints, e)
	}
	// Warnings about one endpoint's keys are shown on its card; the rest
	// (session-wide keys) below the cards.
	shown := map[string]bool{}
	for _, e := range []*mailsession.EndpointReport{rep.Transport, rep.Store} {
		if e != nil {
			for _, w := range e.Warnings {
				shown[w.String()] = true
			}
		}
	}
	for _, w := range rep.Warnings {
		if !shown[w.String()] {
			v.Warnings = append(v.Warnings, warningText(w, entries))
		}
	}
	switch {
	case failed == 0 && v.OK:
		v.Title = "All servers work"
		if total == 1 {
			v.Title = "The server works"
		}
	case failed == total:
		v.Title = "No server works"
		if total == 1 {
			v.Title = "The server does not work"
		}
		v.OK = false
	default:
		v.Title = fmt.Sprintf("%d of %d servers failed", failed, total)
		v.OK = false
	}
	return v
}

func newEndpointView(name string, r *mailsession.EndpointReport, entries []advancedEntry) endpointView {
	proto := strings.ToUpper(strings.TrimSuffix(r.Protocol, "s"))
	if strings.HasSuffix(r.Protocol, "s") {
		proto += "S"
	}
	e := endpointView{
		Name: name + " (" + proto + ")",
		Addr: r.Protocol + "://" + r.Addr,
		OK:   r.Err == nil,
	}
	// The report says what worked; what failed is read from the error.
	authErr := errors.Is(r.Err, mailsession.ErrAuth) || errors.Is(r.Err, mailsession.ErrInsecureAuth)
	reached := r.Err == nil || r.TLSVersion != "" || len(r.Capabilities) > 0 || authErr ||
		errors.Is(r.Err, mailsession.ErrTLSRequired)
	tls := stepView{Label: "TLS", Class: "yes", State: r.TLSVersion}
	switch {
	case r.TLSVersion != "":
	case errors.Is(r.Err, mailsession.ErrTLSRequired):
		tls.Class, tls.State = "no", "failed"
	case reached:
		tls.Class, tls.State = "na", "not used"
	default:
		tls.Class, tls.State = "na", "not tried"
	}
	login := stepView{Label: "Login", Class: "yes", State: "yes"}
	switch {
	case r.Authenticated:
		if r.Mechanism != "" {
			login.State = r.Mechanism
		}
	case authErr:
		login.Class, login.State = "no", "refused"
	case r.Err != nil:
		login.Class, login.State = "na", "not tried"
	default:
		login.Class, login.State = "na", "not used"
	}
	reach := stepView{Label: "Reached", Class: "yes", State: "yes"}
	if !reached {
		reach.Class, reach.State = "no", "no"
	}
	e.Steps = []stepView{reach, tls, login}
	if r.Err != nil {
		e.Error = r.Err.Error()
	}
	for _, w := range r.Warnings {
		e.Warnings = append(e.Warnings, warningText(w, entries))
	}
	add := func(k, v string) {
		if v != "" {
			e.Details = append(e.Details, detail{k, v})
		}
	}
	add("Address", r.Addr)
	add("TLS", r.TLSVersion)
	if r.Authenticated {
		add("Logged in with", r.Mechanism)
	}
	add("Login methods offered", strings.Join(r.AuthMechanisms, " "))
	add("Capabilities", strings.Join(r.Capabilities, " "))
	if r.Err == nil && !strings.HasPrefix(r.Protocol, "smtp") {
		add("Messages waiting", strconv.Itoa(r.Messages))
	}
	if r.Latency > 0 {
		add("Time", r.Latency.Round(time.Millisecond).String())
	}
	return e
}
