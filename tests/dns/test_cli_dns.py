#!/usr/bin/env python3
"""The `mailsec dns` CLI contract (docs/cli.md): options, exit codes, JSON keys."""
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
    p = subprocess.run([MAILSEC, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def dns_json(*args):
    rc, out, err = run("--dns-config", CONF, "--json", "dns", *args)
    try:
        return rc, json.loads(out)
    except ValueError:
        return rc, {"_raw": out, "_err": err}


REQUIRED = {"outcome", "security", "ede", "canonical", "records"}

cases = [
    (("A", "www.example.test"), "answer", "secure", None, ["192.0.2.1"]),
    (("A", "tampered.example.test"), "servfail", "bogus", 6, []),
    (("A", "www.expired.example.test"), "servfail", "bogus", 7, []),
    (("A", "www.badds.example.test"), "servfail", "bogus", 9, []),
    (("A", "www.insecure.example.test"), "answer", "insecure", None, ["192.0.2.10"]),
    (("A", "nosuch.example.test"), "nxdomain", "secure", None, []),
    (("AAAA", "v4only.example.test"), "nodata", "secure", None, []),
    (("MX", "example.test"), "answer", "secure", None, ["10 mx.example.test."]),
    (("TLSA", "_25._tcp.mx.example.test"), "answer", "secure", None,
     ["3 1 1 0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6"]),
]
for args, outcome, security, ede, records in cases:
    rc, j = dns_json(*args)
    name = " ".join(args)
    check(name + " exit", rc == 0, f"rc={rc}")
    check(name + " keys", REQUIRED <= set(j), f"keys={sorted(j)}")
    check(name + " outcome", j.get("outcome") == outcome, j.get("outcome"))
    check(name + " security", j.get("security") == security, j.get("security"))
    check(name + " ede", j.get("ede") == ede, j.get("ede"))
    check(name + " records", j.get("records") == records, j.get("records"))

rc, j = dns_json("A", "insalias.example.test")
check("cname canonical", j.get("canonical") == "www.insecure.example.test", j.get("canonical"))
check("cname chain secure", j.get("cname_secure") is True, j.get("cname_secure"))

rc, j = dns_json("A", "bücher.example.test")
check("idn", j.get("name") == "xn--bcher-kva.example.test" and j.get("security") == "secure", j)

rc, j = dns_json("ADDR", "mixed.example.test")
check("addr mixed", j.get("security") == "insecure" and len(j.get("records", [])) == 2, j)

rc, j = dns_json("MX", "nullmx.example.test")
check("null mx", j.get("null_mx") is True, j)

# --now before the signatures' inception: the validator sees it
rc, out, err = run("--dns-config", CONF, "--now", "1672531200", "--json", "dns", "A", "www.example.test")
j = json.loads(out) if rc == 0 else {}
check("--now", j.get("security") == "bogus" and j.get("ede") == 8, out + err)

# human output names the same facts
rc, out, err = run("--dns-config", CONF, "dns", "A", "tampered.example.test")
check("human bogus", rc == 0 and "bogus" in out and "DNSSEC Bogus" in out, out)

# usage errors exit 2 with a message on stderr
for args in (["dns"], ["dns", "A"], ["dns", "NOTATYPE", "x.test"], ["dns", "A", "a..b"],
             ["nosuchcommand"], ["--now", "yesterday", "dns", "A", "x.test"]):
    rc, out, err = run("--dns-config", CONF, *args)
    check("usage " + " ".join(args), rc == 2 and err.strip() != "", f"rc={rc} err={err!r}")

# a --dns-config file that does not exist
rc, out, err = run("--dns-config", "/nonexistent.conf", "dns", "A", "www.example.test")
check("missing config", rc == 2 and "nonexistent" in err, f"rc={rc} err={err!r}")

# metrics file in Prometheus text format
mfile = os.path.join(os.environ.get("MS_BUILD_ROOT", "."), "cli-dns-metrics.prom")
rc, out, err = run("--dns-config", CONF, "--metrics", mfile, "dns", "A", "www.example.test")
text = open(mfile).read() if os.path.exists(mfile) else ""
check("metrics", 'dns_lookups_total{type="A",outcome="answer",security="secure"} 1' in text, text)

# --verbose: logfmt lines on stderr
rc, out, err = run("--dns-config", CONF, "--verbose", "dns", "A", "www.example.test")
check("verbose logfmt", "subsystem=dns msg=lookup type=A name=www.example.test" in err, err)

check.finish()
