package jndi_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jmailgo/jmail/jndi"
)

// MailSession stands in for *mailsession.Session in these examples.
type MailSession struct{ Host string }

// Configure a session once, bind it, and look it up by name anywhere in
// the program, as Liferay looks up mail.session.jndi.name.
func Example() {
	if err := jndi.Bind("mail/MailSession", &MailSession{Host: "smtp.example.com"}); err != nil {
		fmt.Println(err)
		return
	}
	defer jndi.Unbind("mail/MailSession")

	s, err := jndi.LookupAs[*MailSession](nil, "mail/MailSession")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Host)

	_, err = jndi.Lookup("mail/Missing")
	fmt.Println(errors.Is(err, jndi.ErrNameNotFound), err)
	// Output:
	// smtp.example.com
	// true jndi: lookup "mail/Missing": name not found
}

// The Java forms of a name find the same binding, whichever form it was
// bound under.
func ExampleRegistry_Lookup() {
	r := jndi.NewRegistry()
	_ = r.Bind("java:comp/env/mail/MailSession", &MailSession{Host: "smtp.example.com"})
	for _, name := range []string{"mail/MailSession", "java:mail/MailSession", "java:comp/env/mail/MailSession"} {
		obj, err := r.Lookup(name)
		fmt.Println(name, obj.(*MailSession).Host, err)
	}
	fmt.Println(r.List("mail"))
	// Output:
	// mail/MailSession smtp.example.com <nil>
	// java:mail/MailSession smtp.example.com <nil>
	// java:comp/env/mail/MailSession smtp.example.com <nil>
	// [mail/MailSession]
}

// A type mismatch is a *TypeError.
func ExampleLookupAs() {
	r := jndi.NewRegistry()
	_ = r.Bind("mail/MailSession", "not a session")
	_, err := jndi.LookupAs[*MailSession](r, "mail/MailSession")
	var te *jndi.TypeError
	fmt.Println(errors.As(err, &te), te.Got)
	// Output: true string
}

// Bind the <Resource> of a Tomcat context.xml through a factory registered
// for its type; the mail session registers "javax.mail.Session".
func ExampleRegistry_BindResources() {
	r := jndi.NewRegistry()
	r.RegisterResourceFactory("javax.mail.Session", func(res jndi.Resource) (any, error) {
		// res.Attrs holds the JavaMail properties, res.Tomcat auth, scope...
		return &MailSession{Host: res.Attrs["mail.smtp.host"]}, nil
	})
	const contextXML = `<Context>
  <Resource name="mail/MailSession" auth="Container" type="javax.mail.Session"
            mail.smtp.host="smtp.example.com" password="secret"/>
</Context>`
	names, err := r.BindResources(strings.NewReader(contextXML))
	fmt.Println(names, err)

	s, _ := jndi.LookupAs[*MailSession](r, "java:comp/env/mail/MailSession")
	fmt.Println(s.Host)
	// Output:
	// [mail/MailSession] <nil>
	// smtp.example.com
}

// A lazy binding is made on its first look-up, once.
func ExampleRegistry_BindFactory() {
	r := jndi.NewRegistry()
	_ = r.BindFactory("mail/MailSession", func() (any, error) {
		fmt.Println("creating the session")
		return &MailSession{Host: "smtp.example.com"}, nil
	})
	for range 2 {
		s, _ := jndi.LookupAs[*MailSession](r, "mail/MailSession")
		fmt.Println(s.Host)
	}
	// Output:
	// creating the session
	// smtp.example.com
	// smtp.example.com
}

// Holders of a session learn when the control panel rebinds a new one.
func ExampleRegistry_Watch() {
	r := jndi.NewRegistry()
	_ = r.Bind("mail/MailSession", &MailSession{Host: "old.example.com"})
	stop, _ := r.Watch("mail/MailSession", func(ev jndi.Event) {
		// The callback may use the registry: it runs without its lock.
		cur, _ := jndi.LookupAs[*MailSession](r, ev.Name)
		fmt.Println(ev.Kind, ev.Old.(*MailSession).Host, "->", cur.Host)
	})
	defer stop()
	_ = r.Rebind("java:comp/env/mail/MailSession", &MailSession{Host: "new.example.com"})
	// Output: rebound old.example.com -> new.example.com
}
