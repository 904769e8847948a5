#!/usr/bin/env python3
"""Verify the DKIM signatures of a message with dkimpy (python3-dkim).

Usage: dkimverify.py NAME=RECORD [NAME=RECORD ...] < message

Each NAME=RECORD is a TXT record the test resolver serves, for example
sel._domainkey.example.com=v=DKIM1; k=rsa; p=MIIB...; every other name is
unknown. Every DKIM-Signature of the message must verify. Prints one line
per signature and exits 0 when all verify, 1 when one does not, 2 on a
usage error.
"""
import sys

import dkim


def main():
    records = {}
    for arg in sys.argv[1:]:
        name, sep, record = arg.partition("=")
        if not sep:
            print("usage: dkimverify.py NAME=RECORD ... < message", file=sys.stderr)
            return 2
        records[name.lower().rstrip(".")] = record.encode()

    def resolver(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        return records.get(name.lower().rstrip("."))

    msg = sys.stdin.buffer.read()
    d = dkim.DKIM(msg, minkey=2048)
    head = msg.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    n = sum(1 for line in head.split(b"\n")
            if line.lower().startswith(b"dkim-signature:"))
    if n == 0:
        print("no DKIM-Signature")
        return 1
    ok = True
    for i in range(n):
        try:
            good = d.verify(idx=i, dnsfunc=resolver)
        except dkim.DKIMException as e:
            good = False
            print("signature %d: error: %s" % (i, e))
        print("signature %d: %s" % (i, "pass" if good else "FAIL"))
        ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
