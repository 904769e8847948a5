package controlpanel

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
)

// A stored secret (a password field's, or a password or token line of the
// additional-properties box) is bound to the endpoints it was stored for:
// the placeholder stands for it only while the submitted form would send it
// to the same servers, reached the same way. Otherwise "Test connection"
// would hand the stored password to whatever host is typed, which is a way
// to read it. An endpoint is the protocol, host and port and everything
// else that decides where and how the connection goes (TLS, STARTTLS,
// certificate trust, socket factory, proxy); timeouts, the sender, the EHLO
// name, the pool and the login name do not move a secret anywhere new.

// harmlessKeys are the per-protocol keys (after mail.<p>.) that do not
// change where a password goes or how it is protected on the way; every
// other key of the side's protocols is part of its endpoint, so a key this
// list does not know is safe by default.
var harmlessKeys = map[string]bool{
	"user": true, "from": true, "localhost": true, "localaddress": true, "ehlo": true,
	"connectiontimeout": true, "timeout": true, "writetimeout": true,
	"sendpartial": true, "dsn.notify": true, "dsn.ret": true, "quitwait": true, "rsetbeforequit": true,
	"pipelining": true, "chunking": true, "connectionpoolsize": true, "connectionpooltimeout": true,
	"auth": true, "auth.mechanisms": true, "reportsuccess": true, "allow8bitmime": true,
	"mailextension": true, "noop.strict": true, "userset": true, "apop.enable": true,
	"disabletop": true, "forgettopheaders": true, "fetchsize": true, "partialfetch": true, "peek": true,
}

// endpoint is one connection a session makes, as far as a secret is
// concerned.
type endpoint struct {
	key  string // canonical description; equal keys, same destination
	addr string // host:port, for messages
	tls  string // how the connection is protected, for messages
}

// effective returns the JavaMail keys s gives the session: the portal keys
// with mail.session. stripped, the additional-properties box over them (as
// FromPortalProperties reads them). Secrets are included.
func (s settings) effective() map[string]string {
	m := map[string]string{}
	set, _ := s.values()
	for _, kv := range set {
		if k, ok := strings.CutPrefix(kv[0], "mail.session."); ok {
			m[k] = kv[1]
		}
	}
	delete(m, "mail")
	delete(m, "jndi.name")
	delete(m, "mail.advanced.properties")
	entries, _ := parseAdvanced(s.Advanced)
	for _, e := range entries {
		m[e.Key] = e.Value
	}
	return m
}

// sessionEndpoints are the transport and (if any) store endpoint of the
// effective keys m, and whether the store logs in with the transport's
// credentials (Liferay: a store without its own user and password does).
type sessionEndpoints struct {
	transport    endpoint
	store        *endpoint
	storeBorrows bool
}

func endpointsOf(m map[string]string) sessionEndpoints {
	var e sessionEndpoints
	tp := strings.ToLower(strings.TrimSpace(m["mail.transport.protocol"]))
	if tp == "" {
		tp = "smtp"
	}
	e.transport = endpointFor(m, tp, []string{"smtp", "smtps"})
	sp := strings.ToLower(strings.TrimSpace(m["mail.store.protocol"]))
	if sp != "" {
		st := endpointFor(m, sp, []string{"pop3", "pop3s", "imap", "imaps"})
		e.store = &st
		get := lookupIn(m, sp)
		user, _ := get("user")
		pw, _ := get("password")
		if strings.TrimSpace(user) == "" {
			user = m["mail.user"]
		}
		if pw == "" {
			pw = m["mail.password"]
		}
		e.storeBorrows = strings.TrimSpace(user) == "" && pw == ""
	}
	return e
}

// lookupIn reads mail.<proto>.<name>, falling back as the session does:
// smtps to smtp, and an IMAP store to Liferay's pop3 fields.
func lookupIn(m map[string]string, proto string) func(string) (string, bool) {
	base := strings.TrimSuffix(proto, "s")
	order := []string{proto, base}
	if base == "imap" {
		order = append(order, "pop3")
	}
	return func(name string) (string, bool) {
		for _, p := range order {
			if v, ok := m["mail."+p+"."+name]; ok && strings.TrimSpace(v) != "" {
				return v, true
			}
		}
		return "", false
	}
}

// endpointFor describes the endpoint of protocol proto; family lists the
// protocols whose keys can bear on it.
func endpointFor(m map[string]string, proto string, family []string) endpoint {
	get := lookupIn(m, proto)
	base := strings.TrimSuffix(proto, "s")
	host, _ := get("host")
	if strings.TrimSpace(host) == "" {
		host = m["mail.host"]
	}
	host = strings.ToLower(strings.Trim(strings.TrimSpace(host), "[]"))
	if host == "" {
		host = "localhost"
	}
	isTrue := func(name string) bool { v, _ := get(name); return strings.EqualFold(strings.TrimSpace(v), "true") }
	sf, _ := get("socketFactory.class")
	implicit := proto != base || isTrue("ssl.enable") || strings.Contains(sf, "SSLSocketFactory")
	port := defaultPort(base, implicit)
	for _, k := range []string{"port", "socketFactory.port"} {
		if v, ok := get(k); ok {
			port = strings.TrimSpace(v)
		}
	}
	tls := "without TLS"
	switch {
	case implicit:
		tls = "with TLS from the start"
	case isTrue("starttls.required"):
		tls = "with STARTTLS required"
	case isTrue("starttls.enable"):
		tls = "with STARTTLS"
	}
	// Every other key of the family that may matter, raw (host and port
	// are in addr): a change of any of them is a change of endpoint, even
	// one that happens to mean the same.
	var raw []string
	for k, v := range m {
		for _, p := range family {
			rest, ok := strings.CutPrefix(k, "mail."+p+".")
			if !ok || rest == "host" || rest == "port" || harmlessKeys[strings.ToLower(rest)] || isSecretKey(rest) ||
				strings.HasPrefix(strings.ToLower(rest), "auth.") && strings.HasSuffix(strings.ToLower(rest), ".disable") {
				continue
			}
			raw = append(raw, k+"="+v)
		}
	}
	slices.Sort(raw)
	addr := net.JoinHostPort(host, port)
	return endpoint{
		key:  strings.Join(append([]string{proto, addr, tls}, raw...), "\n"),
		addr: addr,
		tls:  tls,
	}
}

// secret names one secret of the form: the SMTP or the incoming password
// field, or a key of the additional-properties box.
type secret struct {
	field string // fSMTPPassword, fStorePassword or fAdvanced
	key   string // the box's key (fAdvanced only)
}

// reach returns the endpoints the session built from effective keys m
// sends secret sec to.
func reach(e sessionEndpoints, sec secret) []endpoint {
	side := "both"
	switch sec.field {
	case fSMTPPassword:
		side = "transport"
	case fStorePassword:
		side = "store"
	case fAdvanced:
		k := strings.ToLower(sec.key)
		switch {
		case strings.HasPrefix(k, "mail.smtp.") || strings.HasPrefix(k, "mail.smtps."):
			side = "transport"
		case strings.HasPrefix(k, "mail.pop3") || strings.HasPrefix(k, "mail.imap"):
			side = "store"
		}
	}
	var out []endpoint
	if side != "store" {
		out = append(out, e.transport)
	}
	if e.store != nil && (side != "transport" || e.storeBorrows) {
		out = append(out, *e.store)
	}
	return out
}

// movedSecret returns why the placeholder for sec cannot stand for the
// secret stored with base's endpoints when the form's are sub's, or "" when
// sub sends it only where base did. verb says how the secret got there
// ("stored", "typed").
func movedSecret(base, sub sessionEndpoints, sec secret, what, verb string) string {
	was, will := reach(base, sec), reach(sub, sec)
	var moved *endpoint
	for i, e := range will {
		if !slices.ContainsFunc(was, func(w endpoint) bool { return w.key == e.key }) {
			moved = &will[i]
			break
		}
	}
	if moved == nil {
		return ""
	}
	if len(was) == 0 {
		// Only a store can be missing: the secret was sent nowhere yet.
		return fmt.Sprintf("%s was %s with no incoming server set; type it again to use it with %s.", what, verb, moved.addr)
	}
	var olds []string
	sameAddr := false
	for _, w := range was {
		olds = append(olds, w.addr)
		sameAddr = sameAddr || w.addr == moved.addr
	}
	newDesc := moved.addr
	if sameAddr {
		// Same host and port, reached another way: say how.
		olds = olds[:0]
		sameTLS := false
		for _, w := range was {
			olds = append(olds, w.addr+" "+w.tls)
			sameTLS = sameTLS || w.addr == moved.addr && w.tls == moved.tls
		}
		newDesc = moved.addr + " " + moved.tls
		if sameTLS {
			newDesc = moved.addr + " with the connection settings changed"
		}
	}
	return fmt.Sprintf("%s was %s for %s; type it again to use it with %s.", what, verb, strings.Join(olds, " and "), newDesc)
}

// endpointsKey identifies all endpoints of s, to tell whether a form shown
// back sends its secrets anywhere the stored settings do not.
func (s settings) endpointsKey() string {
	e := endpointsOf(s.effective())
	k := e.transport.key + "\x00" + strconv.FormatBool(e.storeBorrows)
	if e.store != nil {
		k += "\x00" + e.store.key
	}
	return k
}
