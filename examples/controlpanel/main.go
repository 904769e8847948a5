// Command controlpanel serves Liferay's Mail settings page on a loopback
// address behind HTTP basic authentication, the way a Go service would mount
// mailsession/controlpanel under its own admin routes.
//
// By default it starts the embedded mailtest server and points the settings
// at it, so everything works offline: open the page, press "Test
// connection" or "Save", and "Send test message" delivers into mailtest
// (each received message is logged).
//
//	go run ./examples/controlpanel
//	go run ./examples/controlpanel -config /opt/liferay/portal-ext.properties -mailtest=false
//
// The administrator's password comes from CONTROLPANEL_PASSWORD; without it
// a random one is generated and printed.
package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/controlpanel"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (keep it on loopback)")
	config := flag.String("config", "", "portal-ext.properties to edit (default: a new file in a temporary directory, set up for the embedded server)")
	user := flag.String("user", "admin", "administrator's user name for basic authentication")
	useMailtest := flag.Bool("mailtest", true, "start the embedded mailtest server and use it when the file has no mail settings")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, *config, *user, *useMailtest, log); err != nil {
		log.Error("controlpanel", "err", err)
		os.Exit(1)
	}
}

func run(addr, config, user string, useMailtest bool, log *slog.Logger) error {
	if host, _, err := net.SplitHostPort(addr); err != nil {
		return err
	} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("listen address %s is not on loopback; put a TLS reverse proxy in front for remote access", addr)
	}
	password := os.Getenv("CONTROLPANEL_PASSWORD")
	if password == "" {
		password = rand.Text()
		fmt.Printf("administrator: %s / %s (set CONTROLPANEL_PASSWORD to choose)\n", user, password)
	}

	app, cleanup, err := newApp(config, user, password, useMailtest, log)
	if err != nil {
		return err
	}
	defer cleanup()

	srv := &http.Server{
		Addr:              addr,
		Handler:           app,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute, // a check or a test message may take a while
		IdleTimeout:       2 * time.Minute,
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("Mail page: http://%s/admin/mail/\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// newApp builds the service's handler: the Mail page at /admin/mail/
// behind basic authentication, and the embedded mail server when asked
// for. cleanup undoes everything, in reverse order.
func newApp(config, user, password string, useMailtest bool, log *slog.Logger) (_ http.Handler, cleanup func(), err error) {
	var cleanups []func()
	cleanup = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	var opts []controlpanel.Option
	if config == "" {
		dir, err := os.MkdirTemp("", "controlpanel-")
		if err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
		config = filepath.Join(dir, "portal-ext.properties")
	}
	if useMailtest {
		mail, err := mailtest.Start(mailtest.WithOnMessage(func(m mailtest.Message) {
			log.Info("mailtest received a message", "from", m.From, "to", strings.Join(m.To, ","), "bytes", len(m.Data))
		}))
		if err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, func() { mail.Close() })
		if err := seed(config, mail); err != nil {
			return nil, nil, err
		}
		// Trust the embedded server's certificate as well as the system's,
		// so the settings can also be pointed at a real server.
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		roots.AppendCertsFromPEM(mail.CACertPEM())
		opts = append(opts, controlpanel.WithSessionOptions(mailsession.WithRootCAs(roots)))
		p := mail.Ports()
		fmt.Printf("mailtest on %s: SMTP %d, SMTPS %d, POP3 %d, POP3S %d, IMAP %d, IMAPS %d; mailbox %s / %s\n",
			mail.Host(), p.SMTP, p.SMTPS, p.POP3, p.POP3S, p.IMAP, p.IMAPS, mailtest.DefaultUser, mailtest.DefaultPassword)
	}

	authorized := func(r *http.Request) bool {
		u, p, ok := r.BasicAuth()
		// Compare both in constant time, and both always.
		uok := subtle.ConstantTimeCompare([]byte(u), []byte(user))
		pok := subtle.ConstantTimeCompare([]byte(p), []byte(password))
		return ok && uok&pok == 1
	}
	opts = append(opts,
		controlpanel.WithLogger(log),
		controlpanel.WithAuthorizer(func(r *http.Request) error {
			if !authorized(r) {
				return errors.New("wrong or missing basic-auth credentials")
			}
			return nil
		}))
	// The rest of the service looks the session up by name when it sends;
	// a watcher sees the page replace it.
	stopWatch, err := jndi.Watch("mail/MailSession", func(e jndi.Event) {
		if s, ok := e.New.(*mailsession.Session); ok {
			log.Info("mail session published", "name", e.Name, "session", s.String())
		}
	})
	if err != nil {
		return nil, nil, err
	}
	cleanups = append(cleanups, stopWatch)
	page, err := controlpanel.New(config, opts...)
	if err != nil {
		return nil, nil, err
	}
	cleanups = append(cleanups, func() { page.Close() })
	fmt.Printf("settings file: %s\n", config)

	mux := http.NewServeMux()
	mux.Handle("/admin/mail/", basicAuth(authorized, page))
	mux.Handle("GET /{$}", http.RedirectHandler("/admin/mail/", http.StatusFound))
	return mux, cleanup, nil
}

// basicAuth asks the browser for the administrator's credentials. The page
// checks them again itself (its authorizer), so it is never open even if
// mounted without this wrapper.
func basicAuth(authorized func(*http.Request) bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Mail administration", charset="UTF-8"`)
			http.Error(w, "Unauthorized.", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// seed writes a portal-ext.properties pointing at the embedded server when
// path has no file yet, as an operator's file would look.
func seed(path string, mail *mailtest.Server) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	p := mail.Ports()
	text := "# portal-ext.properties for the embedded mailtest server (examples/controlpanel).\n" +
		"# Comments and other keys stay as they are when the Mail page saves.\n" +
		"company.default.web.id=example.com\n\n" +
		"mail.session.mail=true\n" +
		"mail.session.mail.transport.protocol=smtp\n" +
		"mail.session.mail.smtp.host=" + mail.Host() + "\n" +
		"mail.session.mail.smtp.port=" + strconv.Itoa(p.SMTP) + "\n" +
		"mail.session.mail.smtp.user=" + mailtest.DefaultUser + "\n" +
		"mail.session.mail.smtp.password=" + mailtest.DefaultPassword + "\n" +
		"mail.session.mail.store.protocol=pop3\n" +
		"mail.session.mail.pop3.host=" + mail.Host() + "\n" +
		"mail.session.mail.pop3.port=" + strconv.Itoa(p.POP3) + "\n" +
		"mail.session.mail.pop3.user=" + mailtest.DefaultUser + "\n" +
		"mail.session.mail.pop3.password=" + mailtest.DefaultPassword + "\n" +
		"mail.session.mail.advanced.properties=mail.from=" + mailtest.DefaultUser + "\n"
	return os.WriteFile(path, []byte(text), 0o600)
}
