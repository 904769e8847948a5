//go:build integration

package mailsession_test

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// postfixConn is one SMTP connection as Postfix's own log tells it.
type postfixConn struct {
	pid   string
	mails int // MAIL commands accepted on it
}

var (
	clientLine     = regexp.MustCompile(`smtpd\[(\d+)\]: [0-9A-F]+: client=.*sasl_username=(\S+)`)
	disconnectLine = regexp.MustCompile(`smtpd\[(\d+)\]: disconnect from .* mail=(\d+)`)
)

// maillogSize is where the log ends now: what follows belongs to the test.
func (e itEnv) maillogSize(t testing.TB) int64 {
	t.Helper()
	return logSize(t, postfixLog(e))
}

// postfixConns reads Postfix's log from offset and returns the connections
// on which user submitted mail, waiting until each has ended (the session
// was closed, so each QUIT is on its way to the log) and carried want
// messages in all.
func (e itEnv) postfixConns(t testing.TB, offset int64, user string, want int) []postfixConn {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, err := os.ReadFile(postfixLog(e))
		if err != nil {
			t.Fatal(err)
		}
		ours := map[string]bool{} // smtpd pids that carried the user's mail
		var conns []postfixConn
		total := 0
		for line := range strings.Lines(string(data[offset:])) {
			if m := clientLine.FindStringSubmatch(line); m != nil && m[2] == user {
				ours[m[1]] = true
			}
			if m := disconnectLine.FindStringSubmatch(line); m != nil && ours[m[1]] {
				n, _ := strconv.Atoi(m[2])
				conns = append(conns, postfixConn{m[1], n})
				total += n
				delete(ours, m[1]) // the process may serve someone else next
			}
		}
		if total >= want && len(ours) == 0 {
			return conns
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postfix's log shows %d of %d messages from %s on ended connections %v (still open: %v)", total, want, user, conns, ours)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestIntegrationConnectionReuse proves from Postfix's own log that the
// session reuses its SMTP connections: sequential sends share one, and 16
// goroutines share no more connections than mail.smtp.connectionpoolsize.
func TestIntegrationConnectionReuse(t *testing.T) {
	e := stack(t)
	for _, c := range []struct {
		name                      string
		poolSize, goroutines, per int
	}{
		{"sequential-pool-1", 1, 1, 30},
		{"16-goroutines-pool-4", 4, 16, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := testContext(t, 2*time.Minute)
			user := e.user("erin")
			e.emptyMailbox(t, user)
			p := javaMailProps(t, e.postfix(e["JMAIL_IT_STRICT_HOST"], startTLS, user), nil, user.addr)
			p.Set("mail.smtp.connectionpoolsize", strconv.Itoa(c.poolSize))
			s := sessionFrom(t, false, p)
			offset := e.maillogSize(t)

			var wg sync.WaitGroup
			for g := range c.goroutines {
				wg.Go(func() {
					for i := range c.per {
						subject := uniq(fmt.Sprintf("%s-%d-%d", t.Name(), g, i))
						if err := s.SendRaw(ctx, user.addr, []string{user.addr}, bytes.NewReader(rawMessage(user.addr, user.addr, subject))); err != nil {
							t.Errorf("SendRaw: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			want := c.goroutines * c.per
			conns := e.postfixConns(t, offset, user.addr, want)
			total := 0
			for _, pc := range conns {
				total += pc.mails
			}
			if total != want {
				t.Errorf("Postfix accepted %d messages, want %d", total, want)
			}
			if len(conns) > c.poolSize {
				t.Errorf("%d messages used %d Postfix connections %v, want at most %d (mail.smtp.connectionpoolsize)", want, len(conns), conns, c.poolSize)
			}
			t.Logf("%d messages over %d connections: %v", want, len(conns), conns)
			e.waitDelivered(t, user, want, time.Minute)
		})
	}
}
