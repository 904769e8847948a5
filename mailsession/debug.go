package mailsession

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
)

// traceConn logs the protocol conversation line by line to an slog.Logger at
// debug level ("C:" client, "S:" server), knowing the direction of each
// byte (go-smtp's DebugWriter mixes both and logs AUTH verbatim). Secrets are
// redacted: the arguments of AUTH/AUTHENTICATE, PASS, LOGIN and every client
// line of a SASL exchange; a DATA body is summarised by its size.
type traceConn struct {
	net.Conn
	log   *slog.Logger
	attrs []any
	imap  bool // commands start with a tag

	mu      sync.Mutex
	in, out bytes.Buffer
	inSASL  bool  // between an AUTH command and its final reply
	inData  bool  // between 354 and the lone dot
	chunk   int64 // BDAT bytes still to come
	body    int64
}

func newTraceConn(c net.Conn, l *slog.Logger, ep *endpoint) *traceConn {
	return &traceConn{Conn: c, log: l, attrs: []any{"proto", ep.Protocol, "server", ep.Addr()}, imap: strings.HasPrefix(ep.Protocol, "imap")}
}

func (t *traceConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 {
		t.mu.Lock()
		t.in.Write(p[:n])
		t.flush(&t.in, false)
		t.mu.Unlock()
	}
	return n, err
}

func (t *traceConn) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.out.Write(p)
	t.flush(&t.out, true)
	t.mu.Unlock()
	return t.Conn.Write(p)
}

func (t *traceConn) flush(buf *bytes.Buffer, client bool) {
	for {
		if client && t.chunk > 0 {
			n := min(t.chunk, int64(buf.Len()))
			buf.Next(int(n))
			t.chunk -= n
			t.body += n
			if t.chunk > 0 {
				return
			}
			t.emit("C:", "<message body, "+strconv.FormatInt(t.body, 10)+" bytes>")
			t.body = 0
			continue
		}
		i := bytes.IndexByte(buf.Bytes(), '\n')
		if i < 0 {
			if client && t.inData && buf.Len() > 4096 {
				t.body += int64(buf.Len())
				buf.Reset()
			}
			return
		}
		line := strings.TrimRight(string(buf.Next(i+1)), "\r\n")
		if client {
			t.clientLine(line)
		} else {
			t.serverLine(line)
		}
	}
}

func (t *traceConn) clientLine(line string) {
	if t.inData {
		if line == "." {
			t.inData = false
			t.emit("C:", "<message body, "+strconv.FormatInt(t.body, 10)+" bytes>")
			t.emit("C:", ".")
			t.body = 0
		} else {
			t.body += int64(len(line) + 2)
		}
		return
	}
	if t.inSASL {
		t.emit("C:", "<redacted>")
		return
	}
	fields := strings.Fields(line)
	upper := make([]string, len(fields))
	for i, f := range fields {
		upper[i] = strings.ToUpper(f)
	}
	verbAt := 0
	if t.imap {
		verbAt = 1 // an IMAP command starts with a tag
	}
	if len(upper) > verbAt {
		switch upper[verbAt] {
		case "AUTH", "AUTHENTICATE":
			t.inSASL = true
			if len(fields) > verbAt+2 {
				line = strings.Join(fields[:verbAt+2], " ") + " <redacted>"
			}
		case "BDAT":
			if !t.imap && len(fields) > 1 {
				if n, err := strconv.ParseInt(fields[1], 10, 64); err == nil && n > 0 {
					t.chunk = n
				}
			}
		case "PASS", "LOGIN", "APOP":
			if len(fields) > verbAt+1 {
				line = strings.Join(fields[:verbAt+1], " ") + " <redacted>"
			}
		}
	}
	t.emit("C:", line)
}

func (t *traceConn) serverLine(line string) {
	if t.inSASL {
		// A continuation (SMTP 334, POP3/IMAP "+") keeps the exchange going.
		if !strings.HasPrefix(line, "334") && !strings.HasPrefix(line, "+ ") && line != "+" {
			t.inSASL = false
		}
	}
	if strings.HasPrefix(line, "354") {
		t.inData = true
	}
	t.emit("S:", line)
}

func (t *traceConn) emit(dir, line string) {
	t.log.Log(context.Background(), slog.LevelDebug, dir+" "+line, t.attrs...)
}

// traceAtInfo wraps a handler so that the debug-level protocol trace is
// emitted at info level: mail.debug=true then shows the trace with a default
// logger, as JavaMail's mail.debug prints it, without lowering the level of
// anything else.
type traceAtInfo struct{ slog.Handler }

func (h traceAtInfo) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, max(l, slog.LevelInfo))
}

func (h traceAtInfo) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelInfo {
		r.Level = slog.LevelInfo
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceAtInfo) WithAttrs(as []slog.Attr) slog.Handler {
	return traceAtInfo{h.Handler.WithAttrs(as)}
}

func (h traceAtInfo) WithGroup(name string) slog.Handler {
	return traceAtInfo{h.Handler.WithGroup(name)}
}
