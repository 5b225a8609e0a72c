#!/usr/bin/env python3
"""dkim_interop.py - dkimpy (python3-dkim) as the peer of the DKIM interop
tests.

  dkim_interop.py sign KEY.pem DOMAIN SELECTOR ALGO HCANON BCANON [length] < MSG
      prints the DKIM-Signature field dkimpy makes, then the message
  dkim_interop.py verify RECORDS [minkey] < MSG
      verifies every signature with dkimpy; RECORDS holds "NAME TXT" lines
      served by dnsfunc; prints pass/fail per signature, exits 0 if all pass
"""
import base64
import sys

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


def sign(args):
    keyfile, domain, selector, algo, hcanon, bcanon = args[:6]
    length = len(args) > 6 and args[6] == "length"
    msg = sys.stdin.buffer.read()
    pem = open(keyfile, "rb").read()
    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        # dkimpy takes Ed25519 keys as the base64 of the 32-byte seed
        raw = key.private_bytes(serialization.Encoding.Raw,
                                serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        keydata = base64.b64encode(raw)
    else:
        keydata = pem
    sig = dkim.sign(msg, selector.encode(), domain.encode(), keydata,
                    canonicalize=(hcanon.encode(), bcanon.encode()),
                    signature_algorithm=algo.encode(), length=length)
    sys.stdout.buffer.write(sig + msg)


def verify(args):
    records = {}
    for line in open(args[0], "rb"):
        line = line.rstrip(b"\r\n")
        if line:
            name, txt = line.split(b" ", 1)
            records[name.rstrip(b".").lower() + b"."] = txt
    minkey = int(args[1]) if len(args) > 1 else 1024

    def dnsfunc(name, timeout=5):
        return records.get(name.lower())

    msg = sys.stdin.buffer.read()
    d = dkim.DKIM(msg, minkey=minkey)
    n = sum(1 for h in d.headers if h[0].lower() == b"dkim-signature")
    ok = n > 0
    for i in range(n):
        try:
            r = d.verify(idx=i, dnsfunc=dnsfunc)
        except dkim.DKIMException as e:
            print("error", e)
            r = False
        print("pass" if r else "fail")
        ok = ok and r
    return 0 if ok else 1


if __name__ == "__main__":
    if sys.argv[1] == "sign":
        sign(sys.argv[2:])
        sys.exit(0)
    sys.exit(verify(sys.argv[2:]))
