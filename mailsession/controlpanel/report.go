//go:build jmail_wip

package controlpanel

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

func step(label string, done, applicable bool) stepView {
	switch {
	case !applicable:
		return stepView{Label: label, Class: "na", State: "not used"}
	case done:
		return stepView{Label: label, Class: "yes", State: "yes"}
	default:
		return stepView{Label: label, Class: "no", State: "no"}
	}
}
