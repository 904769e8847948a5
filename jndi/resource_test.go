package jndi

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// mailConfig is the test's stand-in for a mail session made from a
// resource; it records whether it was closed.
type mailConfig struct {
	res    Resource
	closed bool
}

func (m *mailConfig) Close() error { m.closed = true; return nil }

// factoryLog registers a factory for typ that records what it made.
type factoryLog struct{ made []*mailConfig }

func (fl *factoryLog) factory(res Resource) (any, error) {
	if res.Attrs["fail"] == "true" {
		return nil, errors.New("refused by the factory")
	}
	m := &mailConfig{res: res}
	fl.made = append(fl.made, m)
	return m, nil
}

const contextXML = `<?xml version="1.0" encoding="UTF-8"?>
<!-- Tomcat conf/Catalina/localhost/ROOT.xml -->
<Context crossContext="true" reloadable="false">
  <WatchedResource>WEB-INF/web.xml</WatchedResource>
  <Resource name="mail/MailSession" auth="Container" type="javax.mail.Session"
            description="Portal mail"
            mail.smtp.host="smtp.example.com" mail.smtp.port="587"
            mail.smtp.auth="true" mail.smtp.user="portal"
            password="s3cret" mail.smtp.starttls.enable="true"/>
  <Resource name="java:comp/env/mail/Jakarta" type="jakarta.mail.Session" singleton="true"
            factory="org.apache.naming.factory.MailSessionFactory" mail.smtp.host="localhost"/>
</Context>
`

func TestBindResourcesContext(t *testing.T) {
	r := NewRegistry()
	var fl factoryLog
	r.RegisterResourceFactory("javax.mail.Session", fl.factory)
	r.RegisterResourceFactory("jakarta.mail.Session", fl.factory)
	names, err := r.BindResources(strings.NewReader(contextXML))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"mail/MailSession", "mail/Jakarta"}; !slices.Equal(names, want) {
		t.Fatalf("names = %q, want %q", names, want)
	}
	for _, form := range []string{"mail/MailSession", "java:mail/MailSession", "java:comp/env/mail/MailSession"} {
		m, err := LookupAs[*mailConfig](r, form)
		if err != nil || m != fl.made[0] {
			t.Fatalf("LookupAs(%q) = %v, %v", form, m, err)
		}
	}
	got := fl.made[0].res
	want := Resource{
		Name: "mail/MailSession", Type: "javax.mail.Session", Line: 5,
		Attrs: map[string]string{
			"mail.smtp.host": "smtp.example.com", "mail.smtp.port": "587", "mail.smtp.auth": "true",
			"mail.smtp.user": "portal", "password": "s3cret", "mail.smtp.starttls.enable": "true",
		},
		Tomcat: map[string]string{"auth": "Container", "description": "Portal mail"},
	}
	if fmt.Sprint(got.Attrs) != fmt.Sprint(want.Attrs) || fmt.Sprint(got.Tomcat) != fmt.Sprint(want.Tomcat) ||
		got.Name != want.Name || got.Type != want.Type || got.Line != want.Line {
		t.Errorf("resource = %#v %v %v\nwant %#v %v %v", got, got.Attrs, got.Tomcat, want, want.Attrs, want.Tomcat)
	}
	jak := fl.made[1].res
	if jak.Line != 10 || jak.Tomcat["singleton"] != "true" || jak.Tomcat["factory"] == "" || len(jak.Attrs) != 1 {
		t.Errorf("second resource = %#v %v", jak, jak.Attrs)
	}
}

func TestResourceStringHidesValues(t *testing.T) {
	res := Resource{Name: "mail/MailSession", Type: "javax.mail.Session", Line: 3,
		Attrs: map[string]string{"password": "s3cret", "mail.smtp.host": "h"}}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, res)
		if strings.Contains(out, "s3cret") || !strings.Contains(out, "password") || !strings.Contains(out, "mail/MailSession") {
			t.Errorf("%s prints %q", format, out)
		}
		if out := fmt.Sprintf(format, &res); strings.Contains(out, "s3cret") {
			t.Errorf("%s of a pointer prints %q", format, out)
		}
	}
}

func TestBindResourcesServerXML(t *testing.T) {
	const serverXML = `<?xml version="1.0"?>
<Server port="8005" shutdown="SHUTDOWN">
  <GlobalNamingResources>
    <Resource name="UserDatabase" auth="Container" type="test.Database" pathname="conf/tomcat-users.xml"/>
    <Resource name="mail/Global" type="javax.mail.Session" mail.smtp.host="g"/>
  </GlobalNamingResources>
  <Service name="Catalina">
    <Resource name="ignored/NotInAContext" type="javax.mail.Session"/>
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps">
        <Context path="/portal">
          <Resource name="mail/MailSession" type="javax.mail.Session" mail.smtp.host="c"/>
        </Context>
      </Host>
    </Engine>
  </Service>
</Server>`
	r := NewRegistry()
	var fl factoryLog
	r.RegisterResourceFactory("javax.mail.Session", fl.factory)
	r.RegisterResourceFactory("test.Database", func(res Resource) (any, error) { return res.Attrs["pathname"], nil })
	names, err := r.BindResources(strings.NewReader(serverXML))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"UserDatabase", "mail/Global", "mail/MailSession"}; !slices.Equal(names, want) {
		t.Fatalf("names = %q, want %q", names, want)
	}
	if got := r.List(""); !slices.Equal(got, []string{"UserDatabase", "mail/Global", "mail/MailSession"}) {
		t.Fatalf("bound = %q", got)
	}
	if db, _ := LookupAs[string](r, "java:comp/env/UserDatabase"); db != "conf/tomcat-users.xml" {
		t.Errorf("UserDatabase = %q", db)
	}
	if m, _ := LookupAs[*mailConfig](r, "mail/MailSession"); m == nil || m.res.Line != 12 || m.res.Attrs["mail.smtp.host"] != "c" {
		t.Errorf("context resource = %+v", m)
	}
}

func TestBindResourcesErrors(t *testing.T) {
	const good = `<Resource name="mail/Good" type="javax.mail.Session"/>`
	tests := []struct {
		name, doc string
		is        error  // errors.Is target, if any
		text      string // must appear in the error
		line      int    // ResourceError.Line, if a *ResourceError
	}{
		{"unknown type", "<Context>\n" + good + "\n<Resource name=\"jdbc/x\" type=\"javax.sql.DataSource\"/>\n</Context>",
			ErrUnknownType, `line 3: <Resource name="jdbc/x" type="javax.sql.DataSource">`, 3},
		{"missing name", "<Context>\n" + good + "\n\n<Resource type=\"javax.mail.Session\"/></Context>",
			ErrInvalidResource, "line 4: <Resource name=\"\" type=\"javax.mail.Session\">: invalid resource: missing attribute name", 4},
		{"missing type", "<Context>\n" + good + "\n<Resource name=\"mail/x\"/></Context>",
			ErrInvalidResource, "missing attribute type", 3},
		{"missing both", "<Context><Resource auth=\"Container\"/></Context>",
			ErrInvalidResource, "missing attribute name and type", 1},
		{"blank name", "<Context><Resource name=\" \" type=\"javax.mail.Session\"/></Context>",
			ErrInvalidResource, "missing attribute name", 1},
		{"repeated attribute", "<Context><Resource name=\"a\" name=\"b\" type=\"javax.mail.Session\"/></Context>",
			ErrInvalidResource, `attribute "name" repeated`, 1},
		{"invalid name", "<Context>\n<Resource name=\"java:comp/env/\" type=\"javax.mail.Session\"/></Context>",
			ErrInvalidName, "line 2", 2},
		{"control character", "<Context>\n<Resource name=\"a&#10;b\" type=\"javax.mail.Session\"/></Context>",
			ErrInvalidName, "control character", 2},
		{"repeated name", "<Context>\n" + good + "\n<Resource name=\"java:comp/env/mail/Good\" type=\"javax.mail.Session\"/></Context>",
			ErrInvalidResource, `repeats the resource at line 2`, 3},
		{"factory fails", "<Context>\n" + good + "\n<Resource name=\"mail/Bad\" type=\"javax.mail.Session\" fail=\"true\"/></Context>",
			nil, "line 3: <Resource name=\"mail/Bad\" type=\"javax.mail.Session\">: factory: refused by the factory", 3},
		{"malformed", "<Context>\n" + good + "\n<Resource name=\"x\" type=\"javax.mail.Session\">\n</Context>",
			nil, "line 4", 0},
		{"unclosed", "<Context>\n" + good + "\n", nil, "unexpected EOF", 0},
		{"bad attribute", "<Context>\n\n<Resource name=x/></Context>", nil, "line 3", 0},
		{"wrong root", "<?xml version=\"1.0\"?>\n<web-app>" + good + "</web-app>", nil, "line 2: root element is <web-app>", 0},
		{"empty", "", nil, "no root element", 0},
		{"only a comment", "<!-- nothing -->", nil, "no root element", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRegistry()
			var fl factoryLog
			r.RegisterResourceFactory("javax.mail.Session", fl.factory)
			names, err := r.BindResources(strings.NewReader(tt.doc))
			if err == nil {
				t.Fatalf("no error; bound %q", names)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not match %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("error %q does not say %q", err, tt.text)
			}
			var re *ResourceError
			if tt.line > 0 && (!errors.As(err, &re) || re.Line != tt.line) {
				t.Errorf("error %v: want a *ResourceError at line %d", err, tt.line)
			}
			if names != nil || len(r.List("")) != 0 {
				t.Errorf("half-bound: returned %q, registry holds %q", names, r.List(""))
			}
			for _, m := range fl.made {
				if !m.closed {
					t.Errorf("object made for %s was not closed", m.res.Name)
				}
			}
		})
	}
}

func TestBindResourcesSyntaxErrorAs(t *testing.T) {
	r := NewRegistry()
	_, err := r.BindResources(strings.NewReader("<Context>\n<Resource name='a' type='b'>\n</Context>"))
	var se *xml.SyntaxError
	if !errors.As(err, &se) || se.Line != 3 {
		t.Fatalf("error = %v; want *xml.SyntaxError at line 3", err)
	}
}

// TestBindResourcesAlreadyBound: a name taken in the registry fails the
// whole document, closes what it made and keeps the existing binding.
func TestBindResourcesAlreadyBound(t *testing.T) {
	r := NewRegistry()
	var fl factoryLog
	r.RegisterResourceFactory("javax.mail.Session", fl.factory)
	must(t, r.Bind("java:mail/MailSession", "existing"))
	var events []Event
	stop, err := r.Watch("mail/Other", func(ev Event) { events = append(events, ev) })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	_, err = r.BindResources(strings.NewReader(`<Context>
<Resource name="mail/Other" type="javax.mail.Session"/>
<Resource name="mail/MailSession" type="javax.mail.Session"/>
</Context>`))
	var re *ResourceError
	if !errors.Is(err, ErrAlreadyBound) || !errors.As(err, &re) || re.Line != 3 || re.Name != "mail/MailSession" {
		t.Fatalf("error = %v; want ErrAlreadyBound at line 3", err)
	}
	if got := r.List(""); !slices.Equal(got, []string{"mail/MailSession"}) {
		t.Errorf("registry holds %q", got)
	}
	if v, _ := r.Lookup("mail/MailSession"); v != "existing" {
		t.Errorf("existing binding replaced by %v", v)
	}
	if len(fl.made) != 2 || !fl.made[0].closed || !fl.made[1].closed {
		t.Errorf("made %d objects; all must be closed", len(fl.made))
	}
	if len(events) != 0 {
		t.Errorf("watcher told of a binding that never happened: %+v", events)
	}

	// Success tells watchers.
	must(t, r.Unbind("mail/MailSession"))
	if _, err := r.BindResources(strings.NewReader(`<Context><Resource name="mail/Other" type="javax.mail.Session"/></Context>`)); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Kind != Bound || events[0].New != fl.made[2] {
		t.Errorf("events = %+v", events)
	}
}

// closeFailer fails to close.
type closeFailer struct{}

func (closeFailer) Close() error { return errors.New("close failed") }

func TestBindResourcesCloseErrorReported(t *testing.T) {
	r := NewRegistry()
	r.RegisterResourceFactory("a", func(Resource) (any, error) { return closeFailer{}, nil })
	r.RegisterResourceFactory("b", func(Resource) (any, error) { return nil, errors.New("b failed") })
	_, err := r.BindResources(strings.NewReader(`<Context><Resource name="x" type="a"/><Resource name="y" type="b"/></Context>`))
	if err == nil || !strings.Contains(err.Error(), "b failed") || !strings.Contains(err.Error(), "close failed") {
		t.Fatalf("error = %v; want the factory's and the close error", err)
	}
}

func TestRegisterResourceFactoryReplaceRemove(t *testing.T) {
	r := NewRegistry()
	r.RegisterResourceFactory("t", func(Resource) (any, error) { return "first", nil })
	r.RegisterResourceFactory("t", func(Resource) (any, error) { return "second", nil })
	if _, err := r.BindResources(strings.NewReader(`<Context><Resource name="a" type="t"/></Context>`)); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Lookup("a"); v != "second" {
		t.Errorf("got %v, want the replacing factory's object", v)
	}
	r.RegisterResourceFactory("t", nil)
	if _, err := r.BindResources(strings.NewReader(`<Context><Resource name="b" type="t"/></Context>`)); !errors.Is(err, ErrUnknownType) {
		t.Errorf("after removal error = %v, want ErrUnknownType", err)
	}
	if _, err := r.BindResources(strings.NewReader(`<Context/>`)); err != nil {
		t.Errorf("a context without resources: %v", err)
	}
}

func TestBindResourcesFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "context.xml")
	if err := os.WriteFile(path, []byte(contextXML), 0o600); err != nil {
		t.Fatal(err)
	}
	r := NewRegistry()
	var fl factoryLog
	r.RegisterResourceFactory("javax.mail.Session", fl.factory)
	_, err := r.BindResourcesFile(path)
	if !errors.Is(err, ErrUnknownType) || !strings.Contains(err.Error(), path+":10:") {
		t.Fatalf("error = %v; want ErrUnknownType naming %s:10", err, path)
	}
	r.RegisterResourceFactory("jakarta.mail.Session", fl.factory)
	names, err := r.BindResourcesFile(path)
	if err != nil || len(names) != 2 {
		t.Fatalf("BindResourcesFile = %q, %v", names, err)
	}
	if _, err := r.BindResourcesFile(filepath.Join(dir, "missing.xml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file error = %v", err)
	}
	if err := os.WriteFile(path, []byte("<Context>\n<Resource"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := r.BindResourcesFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("syntax error %v does not name the file", err)
	}
}

// A password with a bare '&' makes the file malformed XML; the error names
// the line but never repeats the text after the '&'.
func TestBindResourcesSyntaxErrorHidesEntityText(t *testing.T) {
	for _, pw := range []string{"se&cret;x", "se&cret x", "se&cret"} {
		doc := "<Context>\n<Resource name=\"mail/M\" type=\"javax.mail.Session\" password=\"" + pw + "\"/>\n</Context>"
		_, err := NewRegistry().BindResources(strings.NewReader(doc))
		var se *xml.SyntaxError
		if !errors.As(err, &se) || se.Line != 2 {
			t.Fatalf("password %q: err = %v, want an *xml.SyntaxError on line 2", pw, err)
		}
		if strings.Contains(err.Error(), "cret") {
			t.Errorf("password %q: error shows it: %v", pw, err)
		}
	}
}
