#!/usr/bin/env python3
"""Forward mode over the network: the signed test world served by a real
authoritative server (NSD) on a loopback port, queried through
`mailsec --dns-forward 127.0.0.1@PORT --trust-anchor ...`, so validation
runs in libunbound on answers that crossed UDP/TCP."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'common'))
import mstest  # noqa: E402

MAILSEC = sys.argv[1]
WORLD = os.environ["MS_TEST_WORLD"]
NSD = shutil.which("nsd") or "/usr/sbin/nsd"
ZONES = ["test", "example.test", "rsa.example.test", "insecure.example.test",
         "expired.example.test", "badds.example.test"]
check = mstest.Checks()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
         socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t.bind(("127.0.0.1", port))  # free for TCP too
        return port


tmp = tempfile.mkdtemp(prefix="ms-nsd-")
port = free_port()
conf = os.path.join(tmp, "nsd.conf")
with open(conf, "w") as f:
    f.write(f"""server:
  ip-address: 127.0.0.1@{port}
  username: ""
  chroot: ""
  pidfile: "{tmp}/nsd.pid"
  zonelistfile: "{tmp}/zone.list"
  xfrdfile: "{tmp}/xfrd.state"
  logfile: "{tmp}/nsd.log"
  database: ""
remote-control:
  control-enable: no
""")
    for z in ZONES:
        f.write(f'zone:\n  name: "{z}"\n  zonefile: "{WORLD}/zones/{z}.signed"\n')

nsd = subprocess.Popen([NSD, "-d", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
try:
    # wait until NSD answers (bounded)
    ready = False
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            ready = True
            break
        except OSError:
            time.sleep(0.05)
    check("nsd started", ready, open(os.path.join(tmp, "nsd.log")).read() if os.path.exists(os.path.join(tmp, "nsd.log")) else "")

    def q(qtype, name, *extra):
        p = subprocess.run([MAILSEC, "--dns-forward", f"127.0.0.1@{port}",
                            "--trust-anchor", os.path.join(WORLD, "trust-anchor.ds"),
                            "--timeout", "5", "--json", *extra, "dns", qtype, name],
                           capture_output=True, text=True, timeout=60)
        try:
            return json.loads(p.stdout)
        except ValueError:
            return {"rc": p.returncode, "err": p.stderr}

    expect = [
        ("A", "www.example.test", "answer", "secure", None),
        ("A", "www.rsa.example.test", "answer", "secure", None),
        ("A", "nosuch.rsa.example.test", "nxdomain", "secure", None),
        ("A", "www.insecure.example.test", "answer", "insecure", None),
        ("A", "tampered.example.test", "servfail", "bogus", 6),
        ("A", "www.expired.example.test", "servfail", "bogus", 7),
        ("A", "www.badds.example.test", "servfail", "bogus", 9),
        ("TLSA", "_25._tcp.mx.example.test", "answer", "secure", None),
        ("A", "insalias.example.test", "answer", "insecure", None),
    ]
    for qtype, name, outcome, security, ede in expect:
        j = q(qtype, name)
        check(f"{qtype} {name}", j.get("outcome") == outcome and j.get("security") == security
              and j.get("ede") == ede, j)
    j = q("A", "insalias.example.test")
    check("cname secure over the wire", j.get("cname_secure") is True, j)
    # a name the server is not authoritative for: a temporary failure, never a pass
    j = q("A", "example.org")
    check("outside", j.get("security") == "indeterminate" and not j.get("records"), j)
finally:
    nsd.terminate()
    try:
        nsd.wait(timeout=10)
    except subprocess.TimeoutExpired:
        nsd.kill()
    shutil.rmtree(tmp, ignore_errors=True)

check.finish()
