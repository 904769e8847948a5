package mailtest

import "strings"

// HardMessage returns a small RFC 5322 message with the lines mail code most
// often gets wrong: lines starting with '.', a lone "." line, a ".." line and
// a 10,000-character line. A client that fails to dot-stuff or unstuff, or
// that splits or folds long lines, does not read it back byte for byte.
//
// Real MTAs such as Postfix fold the long line when they relay; deliver it
// with [Server.Deliver] (or the MTA's local delivery tool) to test a reader.
func HardMessage(from, to, subject string) []byte {
	var b strings.Builder
	b.WriteString("From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n\r\n")
	b.WriteString(".leading dot\r\n.\r\n..\r\n")
	b.WriteString(strings.Repeat("0123456789", 1000) + "\r\n")
	b.WriteString("...three\r\nlast line\r\n")
	return []byte(b.String())
}
