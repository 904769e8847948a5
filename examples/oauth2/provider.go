package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// provider is where a mail provider's OAuth2 endpoints and mail servers
// are: configuration, not code. The tenant ("common", "organizations" or
// a directory's ID or domain) is Microsoft's.
type provider struct {
	Name               string
	AuthURL, TokenURL  string
	DelegatedScopes    []string // with a refresh token, for the user's own mailbox
	AppScopes          []string // with client credentials (app-only); none: not offered
	SMTPHost, IMAPHost string
	SMTPPort, IMAPPort int
	POP3Host           string
	POP3Port           int
	// POP3TwoLine: the provider needs XOAUTH2 over POP3 in two lines
	// (AUTH XOAUTH2, then the response after "+"), as Liferay sets it.
	POP3TwoLine bool
}

// microsoft is Microsoft 365 (Exchange Online). App-only access needs the
// application's service principal registered in Exchange and given
// mailbox permissions; delegated access needs the user's consent to the
// scopes (offline_access brings the refresh token).
func microsoft(tenant string) (provider, error) {
	if tenant == "" {
		return provider{}, errors.New("microsoft: -tenant is required (a directory ID or domain, or organizations)")
	}
	if strings.ContainsAny(tenant, "/?#") || url.PathEscape(tenant) != tenant {
		return provider{}, fmt.Errorf("microsoft: tenant %q is not an ID or a domain", tenant)
	}
	base := "https://login.microsoftonline.com/" + tenant + "/oauth2/v2.0/"
	return provider{
		Name:    "microsoft",
		AuthURL: base + "authorize", TokenURL: base + "token",
		DelegatedScopes: []string{
			"https://outlook.office.com/SMTP.Send",
			"https://outlook.office.com/IMAP.AccessAsUser.All",
			"https://outlook.office.com/POP.AccessAsUser.All",
			"offline_access",
		},
		AppScopes: []string{"https://outlook.office365.com/.default"},
		SMTPHost:  "smtp.office365.com", SMTPPort: 587,
		IMAPHost: "outlook.office365.com", IMAPPort: 993,
		POP3Host: "outlook.office365.com", POP3Port: 995,
		POP3TwoLine: true,
	}, nil
}

// google is Gmail and Google Workspace: delegated access with a refresh
// token; Google has no client-credentials grant for Gmail (a Workspace
// service account with domain-wide delegation signs a JWT instead, see
// golang.org/x/oauth2/google).
func google() provider {
	return provider{
		Name:    "google",
		AuthURL: "https://accounts.google.com/o/oauth2/auth", TokenURL: "https://oauth2.googleapis.com/token",
		DelegatedScopes: []string{"https://mail.google.com/"},
		SMTPHost:        "smtp.gmail.com", SMTPPort: 587,
		IMAPHost: "imap.gmail.com", IMAPPort: 993,
		POP3Host: "pop.gmail.com", POP3Port: 995,
	}
}

// lookupProvider returns the provider named on the command line.
func lookupProvider(name, tenant string) (provider, error) {
	switch name {
	case "microsoft":
		return microsoft(tenant)
	case "google":
		return google(), nil
	}
	return provider{}, fmt.Errorf("unknown provider %q (microsoft, google, or demo)", name)
}
