// Command liferayenv configures a mail session the way Liferay's Docker image
// does: from LIFERAY_* environment variables whose names encode property keys
// (LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_HOST is
// mail.session.mail.smtp.host). It prints each decoded variable, builds the
// session with FromPortalProperties and WithEnviron, and sends a message.
//
// Without LIFERAY_MAIL_* variables in its environment it starts an embedded
// mail server and uses variables that point at it:
//
//	go run ./examples/liferayenv
//	LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_HOST=smtp.example.com ... go run ./examples/liferayenv -to me@example.com
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
	"github.com/jmailgo/jmail/properties"
)

func main() {
	to := flag.String("to", mailtest.DefaultUser, "recipient")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, os.Environ(), *to); err != nil {
		fmt.Fprintln(os.Stderr, "liferayenv:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, environ []string, to string) error {
	var opts []mailsession.Option
	var srv *mailtest.Server
	if !hasMailVariables(environ) {
		var err error
		srv, err = mailtest.Start()
		if err != nil {
			return err
		}
		defer srv.Close()
		fmt.Fprintf(out, "no LIFERAY_MAIL_* variables set: using an embedded mail server on %s\n", srv.Host())
		environ = append(environ,
			"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_HOST="+srv.Host(),
			"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_PORT="+strconv.Itoa(srv.Ports().SMTP),
			"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_USER="+mailtest.DefaultUser,
			"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_PASSWORD="+mailtest.DefaultPassword,
			"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_STARTTLS_PERIOD_ENABLE=true",
		)
		opts = append(opts, mailsession.WithRootCAs(srv.CertPool()))
	}

	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if key, ok := properties.DecodeEnvName(name); ok && strings.HasPrefix(key, "mail.session.") {
			if strings.HasSuffix(key, "password") {
				value = "********"
			}
			fmt.Fprintf(out, "  %s\n    → %s=%s\n", name, key, value)
		}
	}

	// The file's values (none here) are overridden by the environment.
	session, err := mailsession.FromPortalProperties(properties.New(), append(opts, mailsession.WithEnviron(environ))...)
	if err != nil {
		return err
	}
	defer session.Close()
	err = session.Send(ctx, &mailsession.Message{
		To:      []string{to},
		Subject: "Configured from the environment",
		Text:    "This session was configured from LIFERAY_ environment variables.\n",
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sent through %s:%s to %s\n", session.Property("mail.smtp.host"), session.Property("mail.smtp.port"), to)
	if srv != nil {
		if _, err := srv.WaitMessages(ctx, to, 1); err != nil {
			return err
		}
		fmt.Fprintf(out, "the embedded server holds it in %s's mailbox\n", to)
	}
	return nil
}

// hasMailVariables reports whether environ sets any mail.session.* key.
func hasMailVariables(environ []string) bool {
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if key, ok := properties.DecodeEnvName(name); ok && strings.HasPrefix(key, "mail.session.") {
			return true
		}
	}
	return false
}
