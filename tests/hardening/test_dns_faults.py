#!/usr/bin/env python3
"""DNS fault injection end to end: libdnssec-stub (through `mailsec dns`)
forwarding to a scripted responder on loopback that drops, delays,
truncates and corrupts answers.  Every fault must end as a temporary
failure (servfail or timeout, security indeterminate, no records) within the
configured deadline; never an answer, never a hang.  A zone under a trust
anchor the responder cannot satisfy must come out bogus, never secure."""
import json
import os
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))
import mstest  # noqa: E402

MAILSEC = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_S = 2
check = mstest.Checks()


tmp = tempfile.mkdtemp(prefix="ms-dnsfault-")
portfile = os.path.join(tmp, "port")
server = subprocess.Popen([sys.executable, os.path.join(HERE, "dns_fault_server.py"), portfile])
try:
    for _ in range(200):
        if os.path.exists(portfile):
            break
        time.sleep(0.02)
    port = int(open(portfile).read())
    conf = os.path.join(tmp, "unbound.conf")
    with open(conf, "w") as f:
        f.write(f"""server:
    do-not-query-localhost: no
    module-config: "validator iterator"
    use-syslog: no
    # a DS nobody can satisfy: everything below is bogus, never secure
    trust-anchor: "anchored.faults.example. DS 12345 13 2 {'ab' * 32}"
forward-zone:
    name: "."
    forward-addr: 127.0.0.1@{port}
""")

    def q(qtype, name):
        t0 = time.monotonic()
        p = subprocess.run([MAILSEC, "--dns-config", conf, "--timeout", str(TIMEOUT_S),
                            "--json", "dns", qtype, name],
                           capture_output=True, text=True, timeout=60)
        secs = time.monotonic() - t0
        try:
            return json.loads(p.stdout), secs
        except ValueError:
            return {"rc": p.returncode, "stderr": p.stderr}, secs

    # a hang past the deadline is a defect; the bound leaves room for a loaded
    # machine but is far below libunbound's own retry schedule
    bound = TIMEOUT_S + 3

    j, s = q("A", "ok.faults.example")
    check("control answer", j.get("outcome") == "answer" and j.get("security") == "insecure"
          and j.get("records") == ["192.0.2.1"], j)

    failures = {
        "servfail": "servfail", "refused": "servfail", "trunc": "servfail",
        "count": "servfail", "loop": "servfail", "rdlen": "servfail",
        "drop": "timeout", "slow": "timeout", "garbage": "timeout",
        "short": "timeout", "badid": "timeout",
    }
    for kind, outcome in failures.items():
        j, s = q("A", f"{kind}.faults.example")
        check(kind, j.get("outcome") == outcome and j.get("security") == "indeterminate"
              and j.get("records") == [] and isinstance(j.get("ede"), int), j)
        check(kind + " bounded", s < bound, f"{s:.1f} s")

    # a 60 KiB answer over TCP after a truncated UDP reply is a real answer
    j, s = q("TXT", "bigtxt.faults.example")
    recs = j.get("records", [])
    check("big TXT over TCP", j.get("outcome") == "answer" and len(recs) == 1
          and recs[0].count('"') == 2 * 235, str(j)[:200])

    # under an anchor the responder cannot satisfy: bogus, no data
    j, s = q("A", "ok.anchored.faults.example")
    check("anchored bogus", j.get("security") == "bogus" and j.get("outcome") == "servfail"
          and j.get("records") == [] and j.get("ede") is not None, j)

    # `mailsec auth --deadline MS` is the one deadline of the inbound call
    # (ms_auth_opts.deadline_ms): the MAIL FROM domain never answers, so SPF
    # is still pending at the deadline and comes out temperror, long before
    # the 30 s lookup timeout and the 20 s default deadline
    msg = os.path.join(tmp, "m.eml")
    with open(msg, "w") as f:
        f.write("From: a@ok.faults.example\r\nSubject: x\r\n\r\nhi\r\n")
    t0 = time.monotonic()
    p = subprocess.run([MAILSEC, "--dns-config", conf, "--timeout", "30", "--json", "auth",
                        "--ip", "192.0.2.1", "--helo", "ok.faults.example",
                        "--sender", "a@drop.faults.example", "--deadline", "500", msg],
                       capture_output=True, text=True, timeout=60)
    secs = time.monotonic() - t0
    try:
        j = json.loads(p.stdout)
    except ValueError:
        j = {"rc": p.returncode, "stderr": p.stderr}
    check("auth --deadline: spf temperror", p.returncode == 0
          and j.get("spf", {}).get("result") == "temperror"
          and "spf=temperror" in j.get("authentication_results", ""), j)
    check("auth --deadline bounded", secs < 5, f"{secs:.1f} s")
    p = subprocess.run([MAILSEC, "--dns-config", conf, "auth", "--ip", "192.0.2.1", "--helo",
                        "h", "--sender", "a@b", "--deadline", "0", msg],
                       capture_output=True, text=True, timeout=60)
    check("auth --deadline 0 is a usage error", p.returncode == 2, p.stderr)
finally:
    server.kill()
    server.wait()

check.finish()
