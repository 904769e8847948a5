package mailsession

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/jmailgo/jmail/mailsession/mailtest"
)

// BenchmarkStoreFetch50MB fetches a 50 MB message through the public Store
// over IMAP and POP3, side by side with imapclient's Collect (the library's
// way to read a body whole). B/op includes the embedded server's share.
func BenchmarkStoreFetch50MB(b *testing.B) {
	var msg bytes.Buffer
	msg.WriteString("Subject: big\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for msg.Len() < 50<<20 {
		msg.WriteString(line)
	}
	srv := mailtest.NewServer(b)
	if err := srv.Deliver(mailtest.DefaultUser, msg.Bytes()); err != nil {
		b.Fatal(err)
	}
	for _, proto := range storeProtos {
		b.Run("Store/"+proto, func(b *testing.B) {
			s := storeSession(b, srv, mailtest.Plain, proto)
			st, err := s.OpenStore(ctxT(b))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Abort()
			list, err := st.List(ctxT(b))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(msg.Len()))
			b.ReportAllocs()
			for b.Loop() {
				rc, err := st.Fetch(ctxT(b), list[0].UID)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, rc); err != nil || n != int64(msg.Len()) {
					b.Fatal(n, err)
				}
				rc.Close()
			}
		})
	}
	b.Run("imapclient-Collect", func(b *testing.B) {
		c, err := imapclient.DialInsecure(srv.Addr(srv.Ports().IMAP), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(mailtest.DefaultUser, mailtest.DefaultPassword).Wait(); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(msg.Len()))
		b.ReportAllocs()
		for b.Loop() {
			bufs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
			if err != nil || len(bufs) != 1 {
				b.Fatal(err)
			}
		}
	})
}
