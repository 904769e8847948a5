package mailtest

import (
	"strconv"
	"strings"

	"github.com/jmailgo/jmail/properties"
)

// Properties returns the JavaMail properties that point a session at this
// server as the first mailbox (DefaultUser unless WithUser was given):
//
//   - mail.transport.protocol smtp (Plain, StartTLS) or smtps (ImplicitTLS),
//     and mail.<smtp|smtps>.host, port, auth=true, user, password;
//   - mail.store.protocol pop3/imap, or pop3s/imaps for ImplicitTLS, and
//     mail.<store>.host, port, user, password;
//   - in StartTLS mode, starttls.enable=true and starttls.required=true for
//     both protocols;
//   - mail.from, the mailbox address.
//
// store is "pop3" or "imap" (anything else adds no store keys). The host is
// Host() (127.0.0.1 by default), which the server certificate covers; the
// client must trust CertPool() (see ClientTLSConfig, or write CACertPEM to a
// file named by SSL_CERT_FILE).
func (s *Server) Properties(mode Mode, store string) *properties.Properties {
	u := s.cfg.users[0]
	p := properties.New()

	transport, port := "smtp", s.ports.SMTP
	if mode == ImplicitTLS {
		transport, port = "smtps", s.ports.SMTPS
	}
	p.Set("mail.transport.protocol", transport)
	s.setProtocol(p, transport, port, u, mode)
	p.Set("mail."+transport+".auth", "true")

	store = strings.ToLower(strings.TrimSuffix(strings.ToLower(store), "s"))
	var storePort int
	switch store {
	case "pop3":
		storePort = s.ports.POP3
		if mode == ImplicitTLS {
			store, storePort = "pop3s", s.ports.POP3S
		}
	case "imap":
		storePort = s.ports.IMAP
		if mode == ImplicitTLS {
			store, storePort = "imaps", s.ports.IMAPS
		}
	default:
		store = ""
	}
	if store != "" {
		p.Set("mail.store.protocol", store)
		s.setProtocol(p, store, storePort, u, mode)
	}
	p.Set("mail.from", u.addr)
	return p
}

func (s *Server) setProtocol(p *properties.Properties, proto string, port int, u user, mode Mode) {
	prefix := "mail." + proto + "."
	p.Set(prefix+"host", s.host)
	p.Set(prefix+"port", strconv.Itoa(port))
	p.Set(prefix+"user", u.addr)
	p.Set(prefix+"password", u.password)
	if mode == StartTLS {
		p.Set(prefix+"starttls.enable", "true")
		p.Set(prefix+"starttls.required", "true")
	}
}
