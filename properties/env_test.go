package properties

import (
	"slices"
	"testing"
)

func TestDecodeEnvName(t *testing.T) {
	tests := []struct {
		name, key string
		ok        bool
	}{
		{"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_HOST", "mail.session.mail.smtp.host", true},
		{"LIFERAY_SETUP_PERIOD_WIZARD_PERIOD_ENABLED", "setup.wizard.enabled", true},
		{"LIFERAY_COMPANY_PERIOD_DEFAULT_PERIOD_TIME_PERIOD_ZONE", "company.default.time.zone", true},
		{"LIFERAY_JDBC_PERIOD_DEFAULT_PERIOD_URL", "jdbc.default.url", true},
		{"LIFERAY_MAIL_46_SESSION", "mail.session", true},
		{"LIFERAY_A_UPPERCASEB_C", "aBc", true},
		{"LIFERAY_X_DASH_Y_UNDERLINE_Z", "x-y_z", true},
		// Liferay's own test vectors (EnvPropertiesUtilTest), after the
		// lower-casing loadEnvOverrides applies.
		{"LIFERAY_ABC_COLON_D_COMMA__CARET_E_OPENBRACKET_F_CLOSEBRACKET__LOWERCASEG__UNDERLINE__UPPERCASEH_", "abc:d,^e[f]g_H", true},
		{"LIFERAY_ABC_58_D_44__94_E_91_F_93_", "abc:d,^e[f]", true},
		{"LIFERAY_ABC_XYZ_D_-1__DEF__GH", "abc_xyz_d_-1__def__gh", true},
		{"LIFERAY_ABC_DEF", "abc_def", true},
		{"LIFERAY_A__B", "a__b", true},
		{"LIFERAY_TRAILING_", "trailing_", true},
		{"LIFERAY_EMOJI_128512_", "emoji😀", true},
		{"LIFERAY_UNDEFINED_888_", "undefined_888_", true}, // U+0378 is unassigned
		{"LIFERAY_TOOBIG_1114112_", "toobig_1114112_", true},
		{"LIFERAY_", "", true},
		{"LIFERAY_CONTAINER_STATUS_ENABLED", "", false},
		{"LIFERAY_DOCKER_HOTFIX", "", false},
		{"LIFERAY_INCLUDE_DASH_AND_DASH_OVERRIDE", "", false},
		{"MAIL_PERIOD_HOST", "", false},
		{"liferay_x", "", false},
	}
	for _, tt := range tests {
		key, ok := DecodeEnvName(tt.name)
		if key != tt.key || ok != tt.ok {
			t.Errorf("DecodeEnvName(%q) = %q, %v; want %q, %v", tt.name, key, ok, tt.key, tt.ok)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin",
		"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_HOST=smtp.example.com",
		"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_PASSWORD=a=b",
		"LIFERAY_DOCKER_HOTFIX=x.zip",
		"NOEQUALS",
		"LIFERAY_MAIL_PERIOD_SESSION_PERIOD_MAIL_PERIOD_SMTP_PERIOD_HOST=later.example.com",
	}
	p := props("mail.session.mail.smtp.host", "file.example.com", "mail.session.mail.smtp.port", "25")
	p.Merge(EnvOverrides(environ))
	want := [][2]string{
		{"mail.session.mail.smtp.host", "later.example.com"},
		{"mail.session.mail.smtp.port", "25"},
		{"mail.session.mail.smtp.password", "a=b"},
	}
	var got [][2]string
	for k, v := range p.All() {
		got = append(got, [2]string{k, v})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
