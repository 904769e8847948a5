package mailsession

import (
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/properties"
)

// Liferay keys that are not JavaMail keys once "mail.session." is stripped.
const (
	portalPrefix        = "mail.session."
	portalJNDIName      = "mail.session.jndi.name"
	portalAdvancedProps = "mail.session.mail.advanced.properties"
)

// WithRegistry sets the JNDI registry used by FromPortalProperties for
// mail.session.jndi.name (default: jndi.Default()).
func WithRegistry(r *jndi.Registry) Option {
	return func(c *config) { c.registry = r }
}

// FromPortalProperties builds a Session from Liferay portal properties
// (portal-ext.properties), in Liferay's order:
//
//  1. with WithEnviron, Liferay environment variables
//     (LIFERAY_MAIL_PERIOD_SESSION_PERIOD_...) override the file's values;
//  2. mail.session.jndi.name set: the Session bound under that name (also
//     tried as java:name and java:comp/env/name) is returned, shared: the
//     caller does not own it, so its Close and Shutdown do nothing (the
//     session is closed by whoever bound it); options other than
//     WithRegistry, WithLogger and WithEnviron cannot apply to it and are
//     an error; when the look-up fails a warning is logged and
//     construction falls through;
//  3. the mail.session.* keys, prefix stripped, are the JavaMail keys
//     (mail.session.mail.smtp.host → mail.smtp.host). Then, as Liferay's
//     MailServiceImpl, what mail.session.mail (Liferay's settings-source
//     flag) says:
//     - false (the default): the session is built from those keys alone;
//     SMTP authentication is on only when mail.session.mail.smtp.auth is
//     true (a user or password does not switch it on), and
//     mail.session.mail.advanced.properties is not applied (a warning says
//     so);
//     - true: the Control Panel's settings — the SMTP fields
//     (mail.session.mail.smtp.host, port, user, password, starttls.enable)
//     stand for the transport protocol chosen (smtp, or smtps for "Use a
//     Secure Network Connection"), the POP fields (mail.session.mail.pop3.*)
//     for the store (pop3 or pop3s; here also imap or imaps), SMTP
//     authentication is on exactly when a user or password is set,
//     whatever mail.session.mail.smtp.auth says, and
//     mail.session.mail.advanced.properties (the "additional JavaMail
//     properties" box, in .properties syntax) overlays them last;
//  4. in both, a store without its own user or password uses the SMTP one
//     (Liferay's POP reader does), and without mail.session.mail.from the
//     default From is Liferay's default sender, admin.email.from.name and
//     admin.email.from.address ("Name <address>");
//  5. then the options.
//
// Other keys of the file (not under mail.session.) are ignored, but a key
// whose prefix looks like a typo of mail.session. (mail.sesion.mail.smtp.host)
// is warned about. Warnings and errors name the keys as they stand in the
// file (mail.session.mail.smtp.port) or the LIFERAY_ variable that set them.
func FromPortalProperties(p *properties.Properties, opts ...Option) (*Session, error) {
	c := &config{portal: true}
	for _, o := range opts {
		o(c)
	}
	log := c.logger
	if log == nil {
		log = slog.Default()
	}
	eff := p.Clone()
	envNames := map[string]string{} // decoded key → variable name
	if c.useEnviron {
		eff.Merge(properties.EnvOverrides(c.environ))
		for _, kv := range c.environ {
			name, _, _ := strings.Cut(kv, "=")
			if key, ok := properties.DecodeEnvName(name); ok {
				envNames[key] = name
			}
		}
	}
	if c.buildOnly {
		eff.Delete(portalJNDIName) // WatchFile: the file's settings, never a session looked up
	}
	if name, _ := eff.Get(portalJNDIName); strings.TrimSpace(name) != "" {
		if s := lookupSession(c.registry, strings.TrimSpace(name), log); s != nil {
			if !c.lookupOnly() {
				return nil, &SettingError{Key: portalJNDIName, Value: strings.TrimSpace(name),
					Err: errors.New("the session is looked up by this name: options other than WithRegistry, WithLogger and WithEnviron cannot apply to it")}
			}
			return &Session{core: s.core, borrowed: true}, nil
		}
	}
	c.sourceKeys = map[string]string{}
	source := func(fileKey string) string {
		if n, ok := envNames[fileKey]; ok {
			return n
		}
		return fileKey
	}
	sub := eff.Sub(portalPrefix)
	for _, k := range sub.Keys() {
		c.sourceKeys[k] = source(portalPrefix + k)
	}
	flag, _ := sub.Get("mail")
	controlPanel := liferayBool(flag)
	advanced, _ := sub.Get("mail.advanced.properties")
	for _, k := range []string{"mail", "jndi.name", "mail.advanced.properties"} {
		sub.Delete(k)
	}
	c.preWarnings = append(c.preWarnings, portalPrefixTypos(eff, source)...)
	normalizePortal(sub, log)
	if controlPanel {
		c.portalControlPanel = true
		applyControlPanel(sub, c.sourceKeys)
	}
	if from, _ := sub.Get("mail.from"); strings.TrimSpace(from) == "" {
		if addr, _ := eff.Get("admin.email.from.address"); strings.TrimSpace(addr) != "" {
			name, _ := eff.Get("admin.email.from.name")
			a := mail.Address{Name: strings.TrimSpace(name), Address: strings.TrimSpace(addr)}
			sub.Set("mail.from", a.String())
			c.sourceKeys["mail.from"] = source("admin.email.from.address")
		}
	}
	if strings.TrimSpace(advanced) != "" {
		if !controlPanel {
			c.preWarnings = append(c.preWarnings, Warning{source(portalAdvancedProps),
				"not applied: mail.session.mail is not true, so Liferay builds the session from the mail.session.* keys alone (set mail.session.mail=true to use the Control Panel settings and this box)"})
		} else {
			ap, err := properties.Load(strings.NewReader(advanced))
			if err != nil {
				return nil, &SettingError{Key: source(portalAdvancedProps), Value: "(see error)", Err: err}
			}
			for _, k := range ap.Keys() {
				delete(c.sourceKeys, k) // written as it is, inside the box
			}
			c.extra = append([]*properties.Properties{ap}, c.extra...)
		}
	}
	for _, e := range c.props {
		delete(c.sourceKeys, e.key)
	}
	return buildConfig(sub, c)
}

// lookupOnly reports whether c holds nothing but what the JNDI look-up
// itself uses (the registry, the logger, the environment).
func (c *config) lookupOnly() bool {
	rest := *c
	rest.registry, rest.logger, rest.environ, rest.useEnviron = nil, nil, nil, false
	return reflect.DeepEqual(rest, config{portal: true})
}

// liferayBool reads a flag as Liferay's GetterUtil.getBoolean: trimmed,
// any case, "true", "t", "y", "on" or "1".
func liferayBool(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "t", "y", "on", "1":
		return true
	}
	return false
}

// applyControlPanel applies MailServiceImpl's mail.session.mail=true rules
// to stripped keys: the SMTP fields written under the transport protocol,
// the POP fields under the store protocol, and AUTH on exactly when a user
// or password is set.
func applyControlPanel(p *properties.Properties, src map[string]string) {
	copyFields := func(from, to string, names ...string) {
		if from == to {
			return
		}
		for _, n := range names {
			if v, ok := p.Get("mail." + from + "." + n); ok {
				p.Set("mail."+to+"."+n, v)
				if s, ok := src["mail."+from+"."+n]; ok {
					src["mail."+to+"."+n] = s
				}
			}
		}
	}
	tp, _ := p.Get("mail.transport.protocol")
	tp = strings.ToLower(strings.TrimSpace(tp))
	if tp != "smtps" {
		tp = "smtp"
	}
	copyFields("smtp", tp, "host", "password", "port", "starttls.enable", "user")
	if sp, _ := p.Get("mail.store.protocol"); strings.ToLower(strings.TrimSpace(sp)) == "pop3s" {
		copyFields("pop3", "pop3s", "host", "password", "port", "user")
	}
	u, _ := p.Get("mail.smtp.user")
	pw, _ := p.Get("mail.smtp.password")
	auth := strings.TrimSpace(u) != "" || strings.TrimSpace(pw) != ""
	p.Set("mail."+tp+".auth", strconv.FormatBool(auth))
	delete(src, "mail."+tp+".auth") // derived from the user and password
}

// portalPrefixTypos warns about keys whose prefix is a near miss of
// mail.session. (mail.sesion.mail.smtp.host, mail.sessoin.mail.smtp.host),
// which Liferay silently ignores.
func portalPrefixTypos(p *properties.Properties, source func(string) string) []Warning {
	const want = "mail.session"
	var w []Warning
	for _, k := range p.Keys() {
		if strings.HasPrefix(k, portalPrefix) || !strings.HasPrefix(strings.ToLower(k), "mail.") {
			continue
		}
		first, rest, ok := strings.Cut(k[len("mail."):], ".")
		if !ok {
			continue
		}
		prefix := "mail." + first
		if prefix == want || editDistance(strings.ToLower(prefix), want) > 2 {
			continue
		}
		w = append(w, Warning{source(k), fmt.Sprintf("unknown key, ignored (did you mean %s%s?)", portalPrefix, rest)})
	}
	sort.Slice(w, func(i, j int) bool { return w[i].Key < w[j].Key })
	return w
}

// javaMailKey turns a key as the operator wrote it in a portal file (or
// the LIFERAY_ variable) back into the JavaMail key it stands for.
func javaMailKey(key string) string {
	if k, ok := properties.DecodeEnvName(key); ok {
		key = k
	}
	if k, ok := strings.CutPrefix(key, portalPrefix); ok {
		return k
	}
	return key
}

// lookupSession finds a *Session under name in Liferay's order, or logs why
// it falls through and returns nil.
func lookupSession(reg *jndi.Registry, name string, log *slog.Logger) *Session {
	if reg == nil {
		reg = jndi.Default()
	}
	var lastErr error
	for _, n := range []string{name, "java:" + name, "java:comp/env/" + name} {
		obj, err := reg.Lookup(n)
		if err != nil {
			lastErr = err
			continue
		}
		if s, ok := obj.(*Session); ok {
			return s
		}
		lastErr = fmt.Errorf("%q is bound to a %T, not a *mailsession.Session", n, obj)
		break
	}
	log.Warn("mailsession: mail.session.jndi.name look-up failed; using the mail.session.* properties",
		"name", name, "error", lastErr)
	return nil
}

// normalizePortal applies Liferay's MailServiceImpl rules to stripped keys.
func normalizePortal(p *properties.Properties, log *slog.Logger) {
	tp, _ := p.Get("mail.transport.protocol")
	tp = strings.ToLower(strings.TrimSpace(tp))
	if tp != "" && tp != "smtp" && tp != "smtps" {
		log.Warn("mailsession: Liferay uses smtp for an unknown transport protocol", "key", portalPrefix+"mail.transport.protocol", "value", tp)
		p.Set("mail.transport.protocol", "smtp")
	}
	sp, _ := p.Get("mail.store.protocol")
	sp = strings.ToLower(strings.TrimSpace(sp))
	switch sp {
	case "", "pop3", "pop3s", "imap", "imaps":
	default:
		log.Warn("mailsession: Liferay uses pop3 for an unknown store protocol", "key", portalPrefix+"mail.store.protocol", "value", sp)
		p.Set("mail.store.protocol", "pop3")
	}
	if sp == "" {
		for _, k := range p.Keys() {
			if strings.HasPrefix(k, "mail.pop3.") {
				p.Set("mail.store.protocol", "pop3")
				break
			}
		}
	}
}

// The resource types whose Tomcat <Resource> elements become Sessions.
const (
	JavaxMailSession   = "javax.mail.Session"
	JakartaMailSession = "jakarta.mail.Session"
)

// ResourceFactory returns a jndi.ResourceFactory that makes a Session from a
// Tomcat <Resource type="javax.mail.Session" .../> element as Tomcat's
// MailSessionFactory does: every attribute is a JavaMail property (defaults
// mail.transport.protocol=smtp and mail.smtp.host=localhost), except
// password, which becomes the password of the login user (mail.smtp.user,
// else mail.user) for every protocol. opts apply after the attributes.
func ResourceFactory(opts ...Option) jndi.ResourceFactory {
	return func(r jndi.Resource) (any, error) {
		p := properties.New()
		p.Set("mail.transport.protocol", "smtp")
		p.Set("mail.smtp.host", "localhost")
		password, hasPassword := "", false
		for k, v := range r.Attrs {
			if k == "password" {
				password, hasPassword = v, true
				continue
			}
			p.Set(k, v)
		}
		if hasPassword {
			p.Set("mail.password", password)
		}
		return FromProperties(p, opts...)
	}
}

// RegisterResourceFactories registers ResourceFactory(opts...) in reg (the
// default registry when nil) for javax.mail.Session and
// jakarta.mail.Session, so reg.BindResources on a context.xml binds
// Sessions.
func RegisterResourceFactories(reg *jndi.Registry, opts ...Option) {
	if reg == nil {
		reg = jndi.Default()
	}
	f := ResourceFactory(opts...)
	for _, t := range []string{JavaxMailSession, JakartaMailSession} {
		reg.RegisterResourceFactory(t, f)
	}
}
