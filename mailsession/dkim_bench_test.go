package mailsession

import (
	"context"
	"crypto"
	"strconv"
	"testing"
)

// BenchmarkDKIM sends a 1 KB and a 10 MB message (a text body, and an
// attachment for the large one) to a discarding go-smtp server, unsigned
// and signed with RSA-2048 and Ed25519, side by side in one run:
//
//	go test -run '^$' -bench DKIM -benchmem ./mailsession/
func BenchmarkDKIM(b *testing.B) {
	port := discardServer(b)
	for _, size := range []struct {
		name string
		n    int64
	}{{"1KB", 1 << 10}, {"10MB", 10 << 20}} {
		for _, signer := range []struct {
			name string
			key  crypto.Signer
		}{{"unsigned", nil}, {"rsa2048", testRSAKey()}, {"ed25519", testEd25519Key()}} {
			b.Run(size.name+"/"+signer.name, func(b *testing.B) {
				opts := []Option{WithHost("127.0.0.1", port), WithLogger(quietLogger())}
				if signer.key != nil {
					opts = append(opts, WithDKIM(testDKIMDomain, testDKIMSelector, signer.key))
				}
				s, err := New(opts...)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				ctx := context.Background()
				b.SetBytes(size.n)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					m := &Message{From: benchFrom, To: []string{benchTo}, Subject: "bench " + strconv.Itoa(i)}
					if size.n <= 1<<10 {
						m.Text = string(benchText[:size.n])
					} else {
						m.Text = "see attachment"
						m.Attachments = []Attachment{{Filename: "big.bin", Data: &patternReader{n: size.n}}}
					}
					if err := s.Send(ctx, m); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// benchText is a kilobyte of prose-like text in lines of 64 characters.
var benchText = func() []byte {
	line := []byte("The quick brown fox jumps over the lazy dog, again and again..\r\n")
	var b []byte
	for len(b) < 1<<10 {
		b = append(b, line...)
	}
	return b
}()

// BenchmarkAttachment100MBSigned is BenchmarkAttachment100MB with an
// Ed25519 signature: the message is spooled to a temporary file for the
// second pass.
func BenchmarkAttachment100MBSigned(b *testing.B) {
	const size = 100 << 20
	port := discardServer(b)
	s, err := New(WithHost("127.0.0.1", port), WithLogger(quietLogger()), WithDKIM(testDKIMDomain, testDKIMSelector, testEd25519Key()))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := s.Send(ctx, &Message{
			From: benchFrom, To: []string{benchTo}, Subject: "big", Text: "see attachment",
			Attachments: []Attachment{{Filename: "big-" + strconv.Itoa(i) + ".bin", Data: &patternReader{n: size}}},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
