package jndi

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
)

// Resource is one <Resource .../> element of a Tomcat context.xml or
// server.xml, as handed to the [ResourceFactory] registered for its Type.
//
//	<Resource name="mail/MailSession" auth="Container" type="javax.mail.Session"
//	          mail.smtp.host="localhost" password="secret"/>
//
// Attrs may hold secrets (password): Resource's String and GoString methods
// print the attribute names only, never their values.
type Resource struct {
	Name string // the name attribute, as written ("mail/MailSession")
	Type string // the type attribute ("javax.mail.Session")
	// Attrs holds the attributes that are not Tomcat's own: for a mail
	// session, the JavaMail properties (mail.smtp.host, ...) and password.
	Attrs map[string]string
	// Tomcat holds Tomcat's own attributes, told apart from Attrs: auth,
	// scope, singleton, description, factory, closeMethod, lookupName.
	Tomcat map[string]string
	Line   int // line of the element in its file
}

// tomcatAttrs are the attributes Tomcat itself interprets on <Resource>.
var tomcatAttrs = map[string]bool{
	"auth": true, "scope": true, "singleton": true, "description": true,
	"factory": true, "closeMethod": true, "lookupName": true,
}

// String describes r without attribute values, so secrets stay out of logs.
func (r Resource) String() string {
	return fmt.Sprintf("Resource{Name:%q Type:%q Line:%d Attrs:%v Tomcat:%v}",
		r.Name, r.Type, r.Line, slices.Sorted(maps.Keys(r.Attrs)), r.Tomcat)
}

// GoString is String, so that %#v does not print secrets either.
func (r Resource) GoString() string { return "jndi." + r.String() }

// ResourceFactory makes the object bound for a [Resource]. If the object
// implements io.Closer it is closed when it has to be discarded because
// another resource of the same document failed.
type ResourceFactory func(Resource) (any, error)

// Errors about resource documents; a *[ResourceError] wraps them.
var (
	// ErrUnknownType: no factory is registered for the resource's type.
	ErrUnknownType = errors.New("no factory registered for the resource type")
	// ErrInvalidResource: the element lacks name or type, repeats an
	// attribute or repeats another resource's name.
	ErrInvalidResource = errors.New("invalid resource")
)

// ResourceError reports a <Resource> element that could not be bound.
type ResourceError struct {
	File       string // the file, if read by BindResourcesFile
	Line       int    // line of the element
	Name, Type string // its name and type attributes, as written
	Err        error
}

// Error names the file, line, name and type of the element.
func (e *ResourceError) Error() string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.File != "" {
		where = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	return fmt.Sprintf("jndi: %s: <Resource name=%q type=%q>: %v", where, e.Name, e.Type, e.Err)
}

// Unwrap returns the underlying error.
func (e *ResourceError) Unwrap() error { return e.Err }

// RegisterResourceFactory registers f to make the objects of resources
// whose type attribute is typ (for example "javax.mail.Session"),
// replacing any factory registered for typ before. A nil f removes the
// registration.
func (r *Registry) RegisterResourceFactory(typ string, f ResourceFactory) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f == nil {
		delete(r.factories, typ)
		return
	}
	if r.factories == nil {
		r.factories = make(map[string]ResourceFactory)
	}
	r.factories[typ] = f
}

// BindResourcesFile is [Registry.BindResources] on the file at path; its
// errors name the file.
func (r *Registry) BindResourcesFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("jndi: %w", err)
	}
	defer f.Close()
	return r.bindResources(f, path)
}

// BindResources reads a Tomcat context.xml (root <Context>) or server.xml
// (root <Server>) and binds every <Resource/> element of a <Context> or of
// <GlobalNamingResources> under its name, through the factory registered
// for its type. It returns the canonical names bound, in document order.
//
// Tomcat binds a context's resources under "java:comp/env/" + name; here
// the name is found by all three forms ("mail/MailSession",
// "java:mail/MailSession", "java:comp/env/mail/MailSession").
//
// It binds all or nothing: every object is made first, then all are bound
// at once. Malformed XML (an error wrapping *xml.SyntaxError, with its
// line), a missing name or type, an invalid or repeated name, an unknown
// type ([ErrUnknownType]), a failing factory or a name already bound
// ([ErrAlreadyBound]) is an error naming the element's line; then nothing
// is bound and the objects already made that implement io.Closer are
// closed. Other elements (ResourceLink, Environment, ...) and resources
// outside a <Context> or <GlobalNamingResources> are ignored, and Tomcat's
// factory attribute does not choose the factory: the type does. Every
// resource is made once (Tomcat's singleton="false" is not
// honoured: the attribute is passed on in Resource.Tomcat).
func (r *Registry) BindResources(rd io.Reader) ([]string, error) {
	return r.bindResources(rd, "")
}

func (r *Registry) bindResources(rd io.Reader, file string) ([]string, error) {
	res, err := parseResources(rd, file)
	if err != nil {
		return nil, err
	}
	resErr := func(rs Resource, err error) error {
		return &ResourceError{File: file, Line: rs.Line, Name: rs.Name, Type: rs.Type, Err: err}
	}

	// Check names and types before making anything.
	keys := make([]string, len(res))
	lines := make(map[string]int, len(res))
	r.mu.Lock()
	factories := maps.Clone(r.factories)
	r.mu.Unlock()
	for i, rs := range res {
		key, reason := normalize(rs.Name)
		if reason != "" {
			return nil, resErr(rs, fmt.Errorf("%w: %s", ErrInvalidName, reason))
		}
		if prev, dup := lines[key]; dup {
			return nil, resErr(rs, fmt.Errorf("%w: name %q repeats the resource at line %d", ErrInvalidResource, key, prev))
		}
		lines[key] = rs.Line
		keys[i] = key
		if factories[rs.Type] == nil {
			return nil, resErr(rs, ErrUnknownType)
		}
	}

	// Make every object.
	objs := make([]any, 0, len(res))
	for _, rs := range res {
		obj, err := factories[rs.Type](rs)
		if err == nil && obj == nil {
			err = errFactoryNil
		}
		if err != nil {
			return nil, errors.Join(resErr(rs, fmt.Errorf("factory: %w", err)), closeAll(objs))
		}
		objs = append(objs, obj)
	}

	// Bind them all at once.
	r.mu.Lock()
	bound := r.snapshot()
	for i, key := range keys {
		if _, taken := bound[key]; taken {
			r.mu.Unlock()
			return nil, errors.Join(resErr(res[i], ErrAlreadyBound), closeAll(objs))
		}
	}
	r.updateLocked(func(m map[string]*entry) {
		for i, key := range keys {
			m[key] = &entry{obj: objs[i]}
		}
	})
	var ws []*watcher
	for i, key := range keys {
		ws = append(ws, r.enqueueLocked(Event{Name: key, Kind: Bound, New: objs[i]})...)
	}
	r.mu.Unlock()
	deliver(ws)
	return keys, nil
}

// closeAll closes the objects that implement io.Closer, last made first.
func closeAll(objs []any) error {
	var errs []error
	for _, obj := range slices.Backward(objs) {
		if c, ok := obj.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("jndi: closing discarded %T: %w", obj, err))
			}
		}
	}
	return errors.Join(errs...)
}

// parseResources returns the <Resource> elements of a <Context> or a
// <GlobalNamingResources> in a Tomcat context.xml or server.xml.
func parseResources(rd io.Reader, file string) ([]Resource, error) {
	prefix := "jndi: "
	if file != "" {
		prefix += file + ": "
	}
	d := xml.NewDecoder(rd)
	var (
		stack []string
		out   []Resource
		root  bool
	)
	for {
		line, _ := d.InputPos() // the start of the next token
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s%w", prefix, redactSyntaxError(err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(stack) == 0 {
				if root {
					return nil, fmt.Errorf("%sline %d: second root element <%s>", prefix, line, name)
				}
				if name != "Context" && name != "Server" {
					return nil, fmt.Errorf("%sline %d: root element is <%s>, want <Context> (context.xml) or <Server> (server.xml)", prefix, line, name)
				}
				root = true
			}
			if name == "Resource" && len(stack) > 0 {
				if parent := stack[len(stack)-1]; parent == "Context" || parent == "GlobalNamingResources" {
					rs, err := newResource(t, line)
					if err != nil {
						return nil, &ResourceError{File: file, Line: line, Name: rs.Name, Type: rs.Type, Err: err}
					}
					out = append(out, rs)
				}
			}
			stack = append(stack, name)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if !root {
		return nil, fmt.Errorf("%sno root element, want <Context> or <Server>", prefix)
	}
	return out, nil
}

// newResource makes a Resource of a <Resource> element.
func newResource(el xml.StartElement, line int) (Resource, error) {
	rs := Resource{Attrs: map[string]string{}, Tomcat: map[string]string{}, Line: line}
	seen := make(map[string]bool, len(el.Attr))
	for _, a := range el.Attr {
		if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" && a.Name.Space == "" {
			continue // namespace declaration
		}
		k := a.Name.Local
		if seen[k] {
			return rs, fmt.Errorf("%w: attribute %q repeated", ErrInvalidResource, k)
		}
		seen[k] = true
		switch {
		case k == "name":
			rs.Name = a.Value
		case k == "type":
			rs.Type = a.Value
		case tomcatAttrs[k]:
			rs.Tomcat[k] = a.Value
		default:
			rs.Attrs[k] = a.Value
		}
	}
	var missing []string
	if strings.TrimSpace(rs.Name) == "" {
		missing = append(missing, "name")
	}
	if strings.TrimSpace(rs.Type) == "" {
		missing = append(missing, "type")
	}
	if len(missing) > 0 {
		return rs, fmt.Errorf("%w: missing attribute %s", ErrInvalidResource, strings.Join(missing, " and "))
	}
	return rs, nil
}

// redactSyntaxError drops the text that encoding/xml quotes after a bare
// '&' ("invalid character entity &cret;"): in a Tomcat resource that text
// is usually part of a password attribute.
func redactSyntaxError(err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) && strings.HasPrefix(se.Msg, "invalid character entity") {
		return &xml.SyntaxError{Line: se.Line, Msg: "invalid character entity (write & as &amp; in attribute values)"}
	}
	return err
}
