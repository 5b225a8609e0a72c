#!/usr/bin/env python3
"""The `mailsec spf`, `mailsec iprev` and `mailsec dmarc` CLI contract:
first stdout line is the result keyword, --json keys, exit codes, on the
signed test world."""
import json
import os
import subprocess
import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))
import mstest  # noqa: E402

MAILSEC = sys.argv[1]
CONF = os.path.join(os.environ["MS_TEST_WORLD"], "auth.conf")
check = mstest.Checks()


def run(*args):
    p = subprocess.run([MAILSEC, "--dns-config", CONF, *args], capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def as_json(*args):
    rc, out, err = run("--json", *args)
    try:
        return rc, json.loads(out)
    except ValueError:
        return rc, {"_raw": out, "_err": err}


# spf: first line is exactly the keyword
for ip, sender, want in [("192.0.2.5", "a@spf-ip.example.test", "pass"),
                         ("203.0.113.5", "a@spf-ip.example.test", "fail"),
                         ("192.0.2.66", "a@spf-bogus.example.test", "temperror"),
                         ("192.0.2.5", "a@mx.example.test", "none")]:
    rc, out, err = run("spf", "--ip", ip, "--sender", sender, "--helo", "h.example.test")
    first = out.split("\n", 1)[0]
    check(f"spf {sender} {ip}", rc == 0 and first == want, f"rc={rc} first={first!r} {err}")

rc, j = as_json("spf", "--ip", "192.0.2.5", "--sender", "a@spf-incins.example.test",
                "--helo", "h.example.test")
keys = {"result", "mechanism", "explanation", "dns_lookups", "void_lookups", "dnssec"}
check("spf json keys", rc == 0 and keys <= set(j), str(j))
check("spf json values", j.get("result") == "pass" and j.get("dnssec") == "insecure"
      and j.get("dns_lookups") == 2 and j.get("mechanism") == "include:spf-ip.example.test", str(j))
rc, j = as_json("spf", "--ip", "192.0.2.5", "--sender", "a@spf-inc.example.test",
                "--helo", "h.example.test")
check("spf json secure", j.get("dnssec") == "secure" and j.get("result") == "pass", str(j))
rc, out, err = run("spf", "--ip", "not-an-ip", "--sender", "a@b.test", "--helo", "h")
check("spf bad ip is usage error", rc == 2 and out == "", f"rc={rc}")
rc, out, err = run("spf", "--sender", "a@b.test")
check("spf missing --ip is usage error", rc == 2, f"rc={rc}")

# iprev
rc, out, err = run("iprev", "192.0.2.1")
check("iprev pass", rc == 0 and out.split("\n", 1)[0] == "pass", out + err)
rc, j = as_json("iprev", "192.0.2.99")
check("iprev no PTR", rc == 0 and j.get("result") == "permerror", str(j))
rc, out, err = run("iprev", "bogus")
check("iprev bad ip", rc == 2, f"rc={rc}")

# dmarc
rc, j = as_json("dmarc", "--from-header", "Alice <a@example.test>",
                "--spf", "fail:example.test", "--dkim", "pass:example.test")
keys = {"result", "policy", "disposition", "domain", "org_domain"}
check("dmarc json keys", rc == 0 and keys <= set(j), str(j))
check("dmarc pass", j.get("result") == "pass" and j.get("disposition") == "none", str(j))
rc, j = as_json("dmarc", "--from-header", "a@example.test", "--spf", "pass:evil.test")
check("dmarc fail reject", j.get("result") == "fail" and j.get("policy") == "reject"
      and j.get("disposition") == "reject" and j.get("org_domain") == "example.test", str(j))
rc, out, err = run("dmarc", "--from-header", "a@sub.example.test", "--spf", "none:x.test")
check("dmarc sp first line", rc == 0 and out.split("\n", 1)[0] == "fail", out)
rc, j = as_json("dmarc", "--from-header", "a@evil.test <b@example.test>", "--spf", "pass:x.test")
check("dmarc malformed From", rc == 0 and j.get("result") == "permerror"
      and j.get("disposition") == "reject", str(j))
rc, j = as_json("dmarc", "--from-header", "a@example.test", "--from-header", "a@example.test",
                "--spf", "pass:example.test")
check("dmarc two From headers", j.get("from_outcome") == "multiple-headers", str(j))
rc, out, err = run("dmarc", "--spf", "pass:x.test")
check("dmarc missing From is usage error", rc == 2, f"rc={rc}")
rc, out, err = run("dmarc", "--from-header", "a@x.test", "--spf", "maybe:x.test")
check("dmarc bad --spf is usage error", rc == 2, f"rc={rc}")

# RFC 7208 s4.3: a malformed HELO domain (272 octets) is "none", exit 0; the
# problem line names the length and does not stop mid-name.
longname = ".".join(["a" * 49] * 5) + "." + "b" * 22
assert len(longname) == 272
rc, out, err = run("spf", "--ip", "192.0.2.5", "--helo", longname, "--sender", "")
first = out.splitlines()[0] if out else ""
check("spf 272-octet HELO is none", rc == 0 and first == "none", f"rc={rc} first={first!r} {err}")
check("spf long-name problem says the length", "272 octets" in out and "...'" in out, out)
rc, out, err = run("spf", "--ip", "192.0.2.5", "--helo", "h.example.test",
                   "--sender", "joe@" + longname)
first = out.splitlines()[0] if out else ""
check("spf 272-octet MAIL FROM domain is none", rc == 0 and first == "none",
      f"rc={rc} first={first!r} {err}")

check.finish()
