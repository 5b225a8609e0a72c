#!/usr/bin/env python3
"""test_store_down.py MAILSEC_POLICYD PG_SERVER_SH - mailsec-policyd with its
MTA-STS cache in PostgreSQL (issue 19), over the offline signed test world:

  - cache = postgresql://... on a throwaway server (pg_server.sh, loopback);
  - with the server stopped and the policy host of stsgap.test (which
    publishes _mta-sts) stalled, the socketmap answer is TEMP (defer), not
    NOTFOUND as if no policy had ever been seen; asked again it is TEMP
    again (a TEMP is never memoised);
  - a domain whose every MX has usable DANE (good.test) is not held;
  - with the server back, the same query is answered from the real state
    (the failed fetch backs off: NOTFOUND), the daemon reconnected by itself.
"""
import os
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from mstest import Checks  # noqa: E402

POLICYD, PG = sys.argv[1], sys.argv[2]
WORLD = os.environ["MS_TEST_WORLD"]
check = Checks()
TMP = tempfile.mkdtemp(prefix="policyd-pg-")
PGDIR = tempfile.mkdtemp(prefix="mspg.", dir="/tmp")


def pg(cmd):
    return subprocess.run([PG, cmd, PGDIR], check=True, capture_output=True,
                          text=True).stdout.strip()


def netstring(s):
    b = s.encode()
    return b"%d:%s," % (len(b), b)


def ask(port, key):
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(netstring(f"postfix {key}"))
        buf = b""
        while True:
            if b":" in buf:
                n, rest = buf.split(b":", 1)
                if len(rest) >= int(n) + 1:
                    return rest[:int(n)].decode()
            chunk = s.recv(4096)
            if not chunk:
                return None
            buf += chunk


uri = pg("start")
stall = socket.socket()          # a policy host that never answers
stall.bind(("127.0.0.1", 0))
stall.listen(16)
conf = os.path.join(TMP, "policyd.conf")
with open(conf, "w") as f:
    for k, v in {
        "listen_unix": os.path.join(TMP, "policyd.sock"), "listen_tcp": "127.0.0.1:0",
        "map_name": "postfix", "dns_config": os.path.join(WORLD, "auth.conf"),
        "cache": uri, "ca_file": os.path.join(WORLD, "pki", "mtasts", "ca.pem"),
        "connect_to": f"::127.0.0.1:{stall.getsockname()[1]}", "fetch_timeout_ms": "1500",
        "log_file": os.path.join(TMP, "policyd.log"), "log_level": "info", "workers": "2",
    }.items():
        f.write(f"{k} = {v}\n")
d = subprocess.Popen([POLICYD, "-c", conf, "--print-port"], stdout=subprocess.PIPE, text=True)
try:
    port = int(d.stdout.readline())
    pg("halt")
    a = ask(port, "stsgap.test")
    check("store down, policy host stalled: TEMP", a is not None and a.startswith("TEMP ")
          and "MTA-STS" in a, a)
    a = ask(port, "stsgap.test")
    check("TEMP again, never memoised", a is not None and a.startswith("TEMP "), a)
    a = ask(port, "good.test")
    # good.test publishes MTA-STS too, but DANE authenticates every host
    # (RFC 8461 s2: DANE in preference): no reason to hold it
    check("a domain with DANE everywhere is not held", a == "OK dane-only", a)
    pg("resume")
    a = ask(port, "stsgap.test")
    check("store back: answered from the real state", a == "NOTFOUND ", a)
    with open(os.path.join(TMP, "policyd.log")) as f:
        log = f.read()
    check("the unreachable store is logged", "store unreachable" in log or
          "policy unknown" in log, log[-2000:])
finally:
    d.terminate()
    d.wait(timeout=30)
    pg("stop")
check.finish()
