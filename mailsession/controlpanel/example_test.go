package controlpanel_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/jmailgo/jmail/jndi"
	"github.com/jmailgo/jmail/mailsession/controlpanel"
)

// Mount the Mail page under the application's admin routes. The
// authorizer is the application's own check of who is an administrator;
// here, a header set by an authenticating proxy stands in for it.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	page, err := controlpanel.New(filepath.Join(dir, "portal-ext.properties"),
		controlpanel.WithRegistry(jndi.NewRegistry()), // default: jndi.Default()
		controlpanel.WithAuthorizer(func(r *http.Request) error {
			if r.Header.Get("X-Admin") != "yes" {
				return errors.New("not an administrator")
			}
			return nil
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer page.Close()

	mux := http.NewServeMux()
	mux.Handle("/admin/mail/", page)

	for _, admin := range []string{"no", "yes"} {
		req := httptest.NewRequest(http.MethodGet, "/admin/mail/", nil)
		req.Header.Set("X-Admin", admin)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(admin, rec.Code)
	}
	// Output:
	// no 403
	// yes 200
}

// Without an authorizer New refuses, unless the page is explicitly
// unprotected (a loopback-only development setup).
func ExampleWithoutAuthorization() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "portal-ext.properties")

	_, err = controlpanel.New(path)
	fmt.Println(errors.Is(err, controlpanel.ErrNoAuthorizer))

	page, err := controlpanel.New(path, controlpanel.WithoutAuthorization(), controlpanel.WithRegistry(jndi.NewRegistry()))
	if err != nil {
		log.Fatal(err)
	}
	defer page.Close()
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	fmt.Println(rec.Code)
	// Output:
	// true
	// 200
}
