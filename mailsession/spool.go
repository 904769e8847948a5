package mailsession

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// spoolMemory is how much of a message a spool holds in memory before it
// moves the message to a temporary file.
const spoolMemory = 1 << 20

// errSpool marks a failure to hold a message for signing (no space in
// the temporary directory): local and worth retrying later.
var errSpool = errors.New("spooling the message for DKIM signing")

// spool holds a message for a second pass (DKIM signs the whole message
// before its first byte may go out): in memory while it is small, in a
// temporary file (os.TempDir, removed by Close) beyond spoolMemory, so a
// large message never sits in memory.
type spool struct {
	mem  bytes.Buffer
	file *os.File
	fw   *bufio.Writer // on file: the composer writes lines, not blocks
	size int64
}

// Write implements io.Writer.
func (sp *spool) Write(p []byte) (int, error) {
	if sp.file == nil && sp.mem.Len()+len(p) > spoolMemory {
		f, err := os.CreateTemp("", "jmail-spool-*.eml")
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errSpool, err)
		}
		// Unlinked at once where the system allows it: nothing is left
		// behind if the process dies.
		os.Remove(f.Name())
		sp.file = f
		sp.fw = bufio.NewWriterSize(f, 64<<10)
		if _, err := sp.fw.Write(sp.mem.Bytes()); err != nil {
			return 0, fmt.Errorf("%w: %w", errSpool, err)
		}
		sp.mem = bytes.Buffer{}
	}
	var n int
	var err error
	if sp.file != nil {
		n, err = sp.fw.Write(p)
		if err != nil {
			err = fmt.Errorf("%w: %w", errSpool, err)
		}
	} else {
		n, err = sp.mem.Write(p)
	}
	sp.size += int64(n)
	return n, err
}

// Flush ends the writing: what is buffered goes to the file.
func (sp *spool) Flush() error {
	if sp.fw == nil {
		return nil
	}
	if err := sp.fw.Flush(); err != nil {
		return fmt.Errorf("%w: %w", errSpool, err)
	}
	return nil
}

// Reader returns a reader of the whole message from its first byte, once
// Flush has returned; each call starts again.
func (sp *spool) Reader() io.Reader {
	if sp.file != nil {
		return io.NewSectionReader(sp.file, 0, sp.size)
	}
	return bytes.NewReader(sp.mem.Bytes())
}

// Close removes the temporary file, if any.
func (sp *spool) Close() error {
	if sp.file == nil {
		return nil
	}
	name := sp.file.Name()
	err := sp.file.Close()
	if rerr := os.Remove(name); rerr != nil && !errors.Is(rerr, os.ErrNotExist) && err == nil {
		err = rerr
	}
	sp.file = nil
	return err
}

// ctxWriter ends a long copy when ctx ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (cw ctxWriter) Write(p []byte) (int, error) {
	if err := cw.ctx.Err(); err != nil {
		return 0, &ctxEndError{err: err, cause: context.Cause(cw.ctx)}
	}
	return cw.w.Write(p)
}
