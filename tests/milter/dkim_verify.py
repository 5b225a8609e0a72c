#!/usr/bin/env python3
"""dkim_verify.py MESSAGE VARS MIN_SIGS - verify every DKIM-Signature of
MESSAGE with dkimpy (Debian python3-dkim), an implementation independent of
mailsec.  The key records are the test world's (the DKIM_* lines of VARS,
the values make-world.sh publishes at rsa._domainkey and ed._domainkey).
Exit 0 only if at least MIN_SIGS signatures are present and all verify."""
import sys

import dkim


def main():
    msg = open(sys.argv[1], "rb").read()
    want = int(sys.argv[3])
    v = {}
    for line in open(sys.argv[2]):
        if "=" in line:
            k, _, val = line.strip().partition("=")
            v[k] = val
    records = {
        b"rsa._domainkey.example.test.": "v=DKIM1; k=rsa; p=" + v["DKIM_RSA_P1"] + v["DKIM_RSA_P2"],
        b"ed._domainkey.example.test.": "v=DKIM1; k=ed25519; p=" + v["DKIM_ED_P"],
    }

    def dnsfunc(name, timeout=5):
        if not name.endswith(b"."):
            name += b"."
        return records.get(name.lower(), "").encode()

    # the delivered file has LF line ends; DKIM is computed over CRLF
    msg = msg.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    d = dkim.DKIM(msg)
    n = sum(1 for h in d.headers if h[0].lower() == b"dkim-signature")
    if n < want:
        print("only %d signatures" % n)
        return 1
    bad = 0
    for i in range(n):
        ok = d.verify(idx=i, dnsfunc=dnsfunc)
        print("signature %d: %s %s" % (i, "pass" if ok else "FAIL",
                                       d.signature_fields.get(b"a", b"").decode()))
        bad += 0 if ok else 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
