package jndi

import "io"

// defaultRegistry is the process-wide registry: the library's one global.
var defaultRegistry = NewRegistry()

// Default returns the process-wide registry that the package-level
// functions act on. LookupAs(nil, name) looks names up in it too.
func Default() *Registry { return defaultRegistry }

// Bind binds obj under name in the default registry; see [Registry.Bind].
func Bind(name string, obj any) error { return defaultRegistry.Bind(name, obj) }

// Rebind binds obj under name in the default registry, replacing any
// binding; see [Registry.Rebind].
func Rebind(name string, obj any) error { return defaultRegistry.Rebind(name, obj) }

// Swap binds obj under name in the default registry and returns the object
// it replaced; see [Registry.Swap].
func Swap(name string, obj any) (old any, err error) { return defaultRegistry.Swap(name, obj) }

// Unbind removes name from the default registry; see [Registry.Unbind].
func Unbind(name string) error { return defaultRegistry.Unbind(name) }

// Lookup returns the object bound under name in the default registry; see
// [Registry.Lookup].
func Lookup(name string) (any, error) { return defaultRegistry.Lookup(name) }

// List returns the names bound under prefix in the default registry; see
// [Registry.List].
func List(prefix string) []string { return defaultRegistry.List(prefix) }

// BindFactory binds a lazy object in the default registry; see
// [Registry.BindFactory].
func BindFactory(name string, f func() (any, error)) error {
	return defaultRegistry.BindFactory(name, f)
}

// Watch watches name in the default registry; see [Registry.Watch].
func Watch(name string, fn func(Event)) (stop func(), err error) {
	return defaultRegistry.Watch(name, fn)
}

// RegisterResourceFactory registers f for resources of type typ in the
// default registry; see [Registry.RegisterResourceFactory].
func RegisterResourceFactory(typ string, f ResourceFactory) {
	defaultRegistry.RegisterResourceFactory(typ, f)
}

// BindResources binds the resources of a Tomcat context.xml or server.xml
// in the default registry; see [Registry.BindResources].
func BindResources(rd io.Reader) ([]string, error) { return defaultRegistry.BindResources(rd) }

// BindResourcesFile binds the resources of the Tomcat context.xml or
// server.xml at path in the default registry; see
// [Registry.BindResourcesFile].
func BindResourcesFile(path string) ([]string, error) {
	return defaultRegistry.BindResourcesFile(path)
}
