package controlpanel

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jmailgo/jmail/properties"
)

// The secure checkboxes and the POP3/IMAP choice map to Liferay's protocol
// keys and back.
func TestSettingsRoundTripThroughLiferayKeys(t *testing.T) {
	for _, s := range []settings{
		{StoreKind: "pop3", StoreHost: "pop.example.com", StorePort: "110", StoreUser: "u", StorePassword: "p",
			SMTPHost: "smtp.example.com", SMTPPort: "587", SMTPStartTLS: true, SMTPUser: "u", SMTPPassword: "p",
			Advanced: "mail.smtp.timeout=1000\nmail.debug=true", JNDIName: "mail/MailSession"},
		{StoreKind: "pop3", StoreSecure: true, StoreHost: "pop.example.com", SMTPHost: "smtp.example.com", SMTPSecure: true, JNDIName: "mail/A"},
		{StoreKind: "imap", StoreHost: "imap.example.com", SMTPHost: "smtp.example.com", JNDIName: "mail/B"},
		{StoreKind: "imap", StoreSecure: true, StoreHost: "imap.example.com", SMTPHost: "smtp.example.com", JNDIName: "mail/C"},
	} {
		p := s.apply(properties.New())
		if got := settingsFrom(p.Get); !reflect.DeepEqual(got, s) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, s)
		}
	}
	p := settings{StoreKind: "imap", StoreSecure: true, StoreHost: "h", SMTPHost: "h", SMTPSecure: true, SMTPUser: "u"}.apply(properties.New())
	for k, want := range map[string]string{KeyStoreProtocol: "imaps", KeyTransportProtocol: "smtps", KeySMTPAuth: "true", KeyMail: "true"} {
		if v, _ := p.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
}

// No incoming server removes the store's keys instead of writing a store
// protocol that would mean localhost.
func TestEmptyIncomingServerRemovesStoreKeys(t *testing.T) {
	old := properties.New()
	old.Set(KeyStoreProtocol, "pop3")
	old.Set(KeyPOP3Host, "pop.example.com")
	old.Set(KeyPOP3Password, "x")
	p := settings{StoreKind: "pop3", SMTPHost: "smtp.example.com", JNDIName: DefaultJNDIName}.apply(old)
	for _, k := range []string{KeyStoreProtocol, KeyPOP3Host, KeyPOP3Password} {
		if _, ok := p.Get(k); ok {
			t.Errorf("%s kept", k)
		}
	}
}

func TestParseAdvanced(t *testing.T) {
	text := "# comment \\\nmail.smtp.host=a\n\n  mail.smtp.localhost = b\\\n    c\\\n    d\nmail.smtp.port:25\nbad.key=1\n! another comment\nmail.x=\\u00e9\\u00G1"
	entries, problems := parseAdvanced(text)
	want := []advancedEntry{{2, "mail.smtp.host", "a"}, {4, "mail.smtp.localhost", "bcd"}, {7, "mail.smtp.port", "25"}}
	if !reflect.DeepEqual(entries, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", entries, want)
	}
	if len(problems) != 2 || !strings.HasPrefix(problems[0], "Line 8: ") || !strings.HasPrefix(problems[1], "Line 10: malformed") {
		t.Errorf("problems: %q", problems)
	}
	if _, problems := parseAdvanced(strings.Repeat("mail.a=b\n", maxAdvancedLines+1)); len(problems) != 1 {
		t.Errorf("an oversized box is accepted: %q", problems)
	}
}

func TestWriteFileAtomicFollowsSymlinkAndKeepsMode(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.properties")
	if err := os.WriteFile(real, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(real, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "portal-ext.properties")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(link, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(real)
	fi, _ := os.Stat(real)
	if string(b) != "new\n" || fi.Mode().Perm() != 0o640 {
		t.Errorf("target: %q mode %v", b, fi.Mode().Perm())
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// A link to a file that does not exist yet (an operator's layout prepared
// before the first save) is kept too: the save creates its target.
func TestWriteFileAtomicDanglingSymlink(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "portal-ext.properties")
	if err := os.Symlink(filepath.Join("data", "portal-ext.properties"), link); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(link, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced by a file: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "data", "portal-ext.properties")); err != nil || string(b) != "new\n" {
		t.Errorf("the link's target: %q, %v", b, err)
	}
	if fi, err := os.Stat(link); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("a file created by the save: mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

func TestRawSecretKey(t *testing.T) {
	for text, want := range map[string]bool{
		`mail.smtp.password=a\uZZ`: true, `  mail.imap.password : x\u1`: true, `mail.smtp.auth.token \uQ`: true,
		`=\uZZ`: false, `mail.smtp.host=\uZZ`: false, `# mail.smtp.password=\uZZ`: false, "": false,
	} {
		if _, got := rawSecretKey(text); got != want {
			t.Errorf("rawSecretKey(%q) = %v, want %v", text, got, want)
		}
	}
}
