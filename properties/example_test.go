package properties_test

import (
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/jmailgo/jmail/properties"
)

// A portal-ext.properties as Liferay operators write it: Sub strips the
// "mail.session." prefix and leaves JavaMail keys.
func Example() {
	const portalExt = `
## Mail
mail.session.mail.smtp.host=smtp.example.com
mail.session.mail.smtp.port=587
mail.session.mail.smtp.starttls.enable=true
mail.session.mail.smtp.timeout=10000
admin.email.from.name=Joe \
    Bloggs
`
	p, err := properties.Load(strings.NewReader(portalExt))
	if err != nil {
		log.Fatal(err)
	}
	mail := p.Sub("mail.session.")
	host, _ := mail.Get("mail.smtp.host")
	port, err := mail.Int("mail.smtp.port", 25)
	if err != nil {
		log.Fatal(err)
	}
	timeout, err := mail.Duration("mail.smtp.timeout", 0)
	if err != nil {
		log.Fatal(err)
	}
	name, _ := p.Get("admin.email.from.name")
	fmt.Println(host, port, mail.Bool("mail.smtp.starttls.enable", false), timeout)
	fmt.Println(name)
	fmt.Println(mail.Keys())
	// Output:
	// smtp.example.com 587 true 10s
	// Joe Bloggs
	// [mail.smtp.host mail.smtp.port mail.smtp.starttls.enable mail.smtp.timeout]
}

// Liferay's Docker images take overrides from LIFERAY_ variables.
func ExampleEnvOverrides() {
	p, _ := properties.Load(strings.NewReader("mail.session.mail.smtp.host=localhost\n"))
	environ := []string{ // os.Environ() in a real program
		"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_HOST=smtp.example.com",
		"HOME=/root",
	}
	p.Merge(properties.EnvOverrides(environ))
	fmt.Println(p.Value("mail.session.mail.smtp.host", ""))
	// Output: smtp.example.com
}

// Edit saves settings into a hand-written file without losing its comments.
func ExampleEdit() {
	src := []byte("# Our mail relay\nmail.session.mail.smtp.host = old.example.com\n\n# Port\nmail.session.mail.smtp.port=25\n")
	set := properties.New()
	set.Set("mail.session.mail.smtp.host", "smtp.example.com")
	set.Set("mail.session.mail.smtp.auth", "true")
	out, err := properties.Edit(src, set, "mail.session.mail.smtp.port")
	if err != nil {
		log.Fatal(err)
	}
	os.Stdout.Write(out)
	// Output:
	// # Our mail relay
	// mail.session.mail.smtp.host = smtp.example.com
	//
	// # Port
	// mail.session.mail.smtp.auth=true
}

func ExampleProperties_Store() {
	p := properties.New()
	p.Set("mail.smtp.password", " secret=with:specials")
	p.Set("greeting", "Grüße 😀")
	p.Store(os.Stdout)
	p.StoreLatin1(os.Stdout)
	// Output:
	// mail.smtp.password=\ secret\=with\:specials
	// greeting=Grüße 😀
	// mail.smtp.password=\ secret\=with\:specials
	// greeting=Gr\u00FC\u00DFe \uD83D\uDE00
}
