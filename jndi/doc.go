// Package jndi is a small, concurrency-safe registry of shared objects looked
// up by name, in the spirit of Java's JNDI as Tomcat and Liferay use it.
//
// A program configures an object once (typically a mail session), binds it
// under a name such as "mail/MailSession", and any part of the program looks
// it up by that name:
//
//	if err := jndi.Bind("mail/MailSession", session); err != nil { ... }
//	s, err := jndi.LookupAs[*mailsession.Session](nil, "mail/MailSession")
//
// # Names
//
// Names are composite: components separated by '/', with empty components
// ignored, so "mail//MailSession/" is "mail/MailSession". The environment
// prefixes Java code uses are understood the way Liferay's look-up tries
// them (the name, then "java:" + name, then "java:comp/env/" + name):
// "mail/MailSession", "java:mail/MailSession" and
// "java:comp/env/mail/MailSession" all denote the same binding, whichever of
// them it was bound under. Names are case-sensitive. A name that is empty,
// consists only of separators or a bare prefix, contains a control character
// or is not valid UTF-8 is rejected with an error matching [ErrInvalidName].
//
// # Registries
//
// A [Registry] is an explicit value; [NewRegistry] makes one. The process has
// one default registry, [Default], on which the package-level functions
// ([Bind], [Rebind], [Unbind], [Lookup], [List], ...) act. It is the only
// global of the library.
//
// Besides plain objects a registry holds lazy factories ([Registry.BindFactory]),
// run on the first look-up and exactly once, tells watchers when a name is
// bound, rebound or unbound ([Registry.Watch]), and binds the <Resource/>
// elements of a Tomcat context.xml or server.xml through factories registered
// per resource type ([Registry.RegisterResourceFactory],
// [Registry.BindResources]).
//
// The package knows nothing about mail: the mail session registers its own
// factories for "javax.mail.Session" and "jakarta.mail.Session".
package jndi
