package mailsession

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
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
//     (mail.session.mail.smtp.host → mail.smtp.host); as Liferay does, SMTP
//     authentication is on when a user or password is set, and the store
//     (pop3, pop3s, or here also imap, imaps) takes Liferay's mail.pop3.*
//     fields and, without its own login, the SMTP user and password;
//  4. mail.session.mail.advanced.properties (the Control Panel's
//     "additional JavaMail properties" box, in .properties syntax) overlays
//     them last; then the options.
//
// Other keys of the file (not under mail.session.) are ignored.
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
	if c.useEnviron {
		eff.Merge(properties.EnvOverrides(c.environ))
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
	sub := eff.Sub(portalPrefix)
	advanced, _ := sub.Get("mail.advanced.properties")
	for _, k := range []string{"mail", "jndi.name", "mail.advanced.properties"} {
		sub.Delete(k)
	}
	normalizePortal(sub, log)
	if strings.TrimSpace(advanced) != "" {
		ap, err := properties.Load(strings.NewReader(advanced))
		if err != nil {
			return nil, &SettingError{Key: portalAdvancedProps, Value: "(see error)", Err: err}
		}
		c.extra = append([]*properties.Properties{ap}, c.extra...)
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
	if tp == "" {
		tp = "smtp"
	}
	_, hasAuth := p.Get("mail.smtp.auth")
	_, hasAuthS := p.Get("mail." + tp + ".auth")
	if !hasAuth && !hasAuthS {
		u, _ := p.Get("mail.smtp.user")
		pw, _ := p.Get("mail.smtp.password")
		p.Set("mail.smtp.auth", fmt.Sprint(strings.TrimSpace(u) != "" || pw != ""))
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
