// Command tomcat binds the mail session of a Tomcat context.xml
// (<Resource type="javax.mail.Session" .../>) in a jndi registry, looks it up
// by its java:comp/env name as a Java web application would, and sends a
// message through it.
//
// By default it runs on an embedded mail server, overlaying that server's
// port on the shipped context.xml:
//
//	go run ./examples/tomcat
//	go run ./examples/tomcat -context /opt/tomcat/conf/context.xml -to me@example.com
package main

import (
	"bytes"
	"context"
	_ "embed"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession"
	"github.com/jmailgo/jmail/mailsession/mailtest"
)

//go:embed context.xml
var contextXML []byte

func main() {
	contextPath := flag.String("context", "", "a Tomcat context.xml (default: the shipped one, on an embedded server)")
	to := flag.String("to", mailtest.DefaultUser, "recipient")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, *contextPath, *to); err != nil {
		fmt.Fprintln(os.Stderr, "tomcat:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, contextPath, to string) error {
	doc := contextXML
	registry := jndi.NewRegistry()
	var opts []mailsession.Option
	var srv *mailtest.Server
	if contextPath != "" {
		b, err := os.ReadFile(contextPath)
		if err != nil {
			return err
		}
		doc = b
	} else {
		var err error
		srv, err = mailtest.Start()
		if err != nil {
			return err
		}
		defer srv.Close()
		port := strconv.Itoa(srv.Ports().SMTP)
		doc = bytes.Replace(doc, []byte(`mail.smtp.port="10025"`), []byte(`mail.smtp.port="`+port+`"`), 1)
		fmt.Fprintf(out, "embedded mail server: SMTP on %s (overlaid on the shipped context.xml)\n", srv.Addr(srv.Ports().SMTP))
		opts = append(opts, mailsession.WithRootCAs(srv.CertPool()))
	}

	// Sessions for javax.mail.Session and jakarta.mail.Session resources.
	mailsession.RegisterResourceFactories(registry, opts...)
	names, err := registry.BindResources(bytes.NewReader(doc))
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintf(out, "bound %s\n", n)
	}
	defer func() {
		for _, n := range names {
			if s, err := jndi.LookupAs[*mailsession.Session](registry, n); err == nil {
				s.Close()
			}
		}
	}()

	// What application code does: look the session up by its environment name.
	session, err := jndi.LookupAs[*mailsession.Session](registry, "java:comp/env/mail/MailSession")
	if err != nil {
		return err
	}
	err = session.Send(ctx, &mailsession.Message{
		To:      []string{to},
		Subject: "Your order has shipped",
		Text:    "Your order is on its way.\n",
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "sent through java:comp/env/mail/MailSession (%s:%s) to %s\n",
		session.Property("mail.smtp.host"), session.Property("mail.smtp.port"), to)
	if srv != nil {
		msgs, err := srv.WaitMessages(ctx, to, 1)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "the embedded server holds it in %s's mailbox (%d bytes)\n", to, len(msgs[0].Data))
	}
	return nil
}
