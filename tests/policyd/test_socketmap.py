#!/usr/bin/env python3
"""test_socketmap.py MAILSEC_POLICYD - mailsec-policyd's socketmap protocol
over its unix and TCP listeners, against the offline signed test world
(MS_TEST_WORLD) and the loopback MTA-STS policy host (tests/mtasts):

  - the answers: DANE (dane-only), MTA-STS enforce (secure match=...), TEMP
    on a bogus TLSA RRset and on a bogus MX (never NOTFOUND), NOTFOUND for
    no policy and for "[host]:port" keys, "domain:port" keys, PERM for
    another map name, pipelined requests on one connection;
  - netstring limits: an oversized or malformed netstring drops the
    connection without an answer;
  - a client that sends half a netstring and stalls is cut off after
    read_timeout_ms, while other clients are answered;
  - 1,000 idle connections are held while a new one is answered;
  - max_connections: the next client waits until one closes;
  - the SQLite MTA-STS cache shared by two daemon processes; the proactive
    refresh; the logfmt log and the Prometheus text file;
  - the answer memo: OK and NOTFOUND reused, TEMP never (looked up again).
"""
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from mstest import Checks  # noqa: E402

POLICYD = sys.argv[1]
WORLD = os.environ["MS_TEST_WORLD"]
check = Checks()
TMP = tempfile.mkdtemp(prefix="policyd-test-")
STOPS = []  # (daemon, exit status) of every stop


def start_policy_host():
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "mtasts", "policy_server.py"),
                          os.path.join(WORLD, "pki", "mtasts")], stdout=subprocess.PIPE, text=True)
    return p, int(p.stdout.readline())


class Daemon:
    def __init__(self, name, **over):
        self.dir = os.path.join(TMP, name)
        os.makedirs(self.dir)
        self.sock = os.path.join(self.dir, "policyd.sock")
        self.log = os.path.join(self.dir, "policyd.log")
        self.prom = os.path.join(self.dir, "policyd.prom")
        conf = {
            "listen_unix": self.sock, "listen_tcp": "127.0.0.1:0", "map_name": "postfix",
            "dns_config": os.path.join(WORLD, "auth.conf"),
            "cache": os.path.join(self.dir, "mtasts.sqlite"),
            "ca_file": os.path.join(WORLD, "pki", "mtasts", "ca.pem"),
            "connect_to": "::127.0.0.1:1", "read_timeout_ms": "1000", "idle_timeout_ms": "0",
            "max_connections": "1100", "log_file": self.log, "log_level": "info",
            "metrics_file": self.prom, "metrics_interval": "1", "workers": "2",
        }
        conf.update(over)
        self.conf = os.path.join(self.dir, "policyd.conf")
        with open(self.conf, "w") as f:
            f.write("# written by test_socketmap.py\n")
            for k, v in conf.items():
                f.write(f"{k} = {v}\n")
        self.p = subprocess.Popen([POLICYD, "-c", self.conf, "--print-port"],
                                  stdout=subprocess.PIPE, text=True)
        self.port = int(self.p.stdout.readline())

    def stop(self):
        self.p.terminate()
        rc = self.p.wait(timeout=30)
        STOPS.append((os.path.basename(self.dir), rc))
        return rc

    def unix(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(self.sock)
        return s

    def tcp(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=30)

    def logtext(self):
        with open(self.log) as f:
            return f.read()


def netstring(s):
    b = s.encode()
    return b"%d:%s," % (len(b), b)


def read_answer(s):
    """One netstring answer, or None when the daemon closed the connection."""
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


def ask(s, key, name="postfix"):
    s.sendall(netstring(f"{name} {key}"))
    return read_answer(s)


def closed_without_answer(s, timeout=10):
    s.settimeout(timeout)
    try:
        return s.recv(100) == b""
    except (ConnectionResetError, socket.timeout):
        return False


# The 1,000 idle connections need file descriptors in this process too.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < 4096:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))

host, host_port = start_policy_host()
d = Daemon("main", connect_to=f"::127.0.0.1:{host_port}")
try:
    # ---- answers over both listeners -------------------------------------
    for kind, conn in (("unix", d.unix), ("tcp", d.tcp)):
        s = conn()
        a = ask(s, "good.test")
        check(f"{kind}: DANE domain -> OK dane-only", a == "OK dane-only", a)
        a = ask(s, "stsplain.example.test")
        check(f"{kind}: MTA-STS enforce -> secure match",
              a == "OK secure match=mx1.stsplain.example.test:.backup.stsplain.example.test"
                   " servername=hostname", a)
        a = ask(s, "tlsafail.policyd.test")
        check(f"{kind}: bogus TLSA -> TEMP naming the host",
              a is not None and a.startswith("TEMP mx.tlsafail.policyd.test: "), a)
        a = ask(s, "bogus.test")
        check(f"{kind}: bogus MX -> TEMP", a is not None and a.startswith("TEMP MX lookup"), a)
        a = ask(s, "nostarttls.test")
        check(f"{kind}: no DANE, no MTA-STS -> NOTFOUND", a == "NOTFOUND ", a)
        s.close()

    s = d.tcp()
    a = ask(s, "[127.0.0.1]:2525")
    check("[host]:port key -> NOTFOUND", a == "NOTFOUND ", a)
    a = ask(s, "Good.Test.:2525")
    check("domain:port key -> the domain's answer", a == "OK dane-only", a)
    a = ask(s, "good.test", name="other")
    check("another map name -> PERM", a == "PERM unknown map name", a)
    a = ask(s, "good test")
    check("a key with a space -> PERM", a == "PERM malformed key", a)
    # two requests in one write: two answers, in order
    s.sendall(netstring("postfix good.test") + netstring("postfix nostarttls.test"))
    a1, a2 = read_answer(s), read_answer(s)
    check("pipelined requests answered in order", (a1, a2) == ("OK dane-only", "NOTFOUND "),
          (a1, a2))
    s.close()

    # ---- netstring limits --------------------------------------------------
    s = d.tcp()
    s.sendall(b"99999:postfix ")
    check("oversized netstring: dropped before its data", closed_without_answer(s))
    s.close()
    s = d.tcp()
    s.sendall(b"abc:")
    check("malformed netstring: dropped", closed_without_answer(s))
    s.close()
    s = d.tcp()
    s.sendall(b"4:abcd;")
    check("netstring without its comma: dropped", closed_without_answer(s))
    s.close()

    # ---- a stalled client is cut off, others are served meanwhile ----------
    stalled = d.unix()
    t0 = time.monotonic()
    stalled.sendall(b"25:postfix go")  # half a netstring
    other = d.tcp()
    a = ask(other, "good.test")
    check("served while another client stalls", a == "OK dane-only", a)
    cut = closed_without_answer(stalled, timeout=15)
    elapsed = time.monotonic() - t0
    check("stalled client cut off after read_timeout_ms (1 s)", cut and 0.9 <= elapsed < 10,
          f"closed={cut} after {elapsed:.2f}s")
    stalled.close()
    a = ask(other, "nostarttls.test")
    check("the other client's connection stays open", a == "NOTFOUND ", a)
    other.close()

    # ---- 1,000 idle connections, then a new one is answered ----------------
    idle = []
    try:
        for i in range(1000):
            idle.append(d.unix() if i % 2 else d.tcp())
        time.sleep(1.5)  # longer than read_timeout_ms: idle is not "stalled"
        s = d.tcp()
        t0 = time.monotonic()
        a = ask(s, "good.test")
        check("1,000 idle connections held, a new one answered", a == "OK dane-only", a)
        check("... promptly", time.monotonic() - t0 < 5, time.monotonic() - t0)
        s.close()
        a1, a2 = ask(idle[0], "good.test"), ask(idle[999], "nostarttls.test")
        check("idle connections still answer", (a1, a2) == ("OK dane-only", "NOTFOUND "),
              (a1, a2))
    finally:
        for s in idle:
            s.close()

    # ---- log and metrics ---------------------------------------------------
    time.sleep(1.5)
    log = d.logtext()
    check("logfmt: the read timeout is logged",
          'subsystem=policyd msg="connection closed" reason=read_timeout' in log, log[-2000:])
    with open(d.prom) as f:
        prom = f.read()
    check("metrics: answers counted by kind",
          'policyd_requests_total{answer="ok"}' in prom and
          'policyd_requests_total{answer="temp"}' in prom, prom[:2000])
    check("metrics: timeouts counted",
          'policyd_connections_closed_total{reason="read_timeout"} 1' in prom, prom[:2000])
    check("metrics: request latency histogram", "policyd_request_seconds_bucket" in prom, prom[:500])
    check("SIGTERM: clean stop", d.stop() == 0)
    check("SIGTERM: unix socket removed", not os.path.exists(d.sock))

    # ---- max_connections: the next client waits until one closes -----------
    b = Daemon("bounded", max_connections="2")
    c1, c2 = b.tcp(), b.tcp()
    check("bounded: first two answered", (ask(c1, "good.test"), ask(c2, "good.test")) ==
          ("OK dane-only", "OK dane-only"))
    c3 = b.tcp()  # the kernel's backlog takes it; the daemon does not accept
    c3.sendall(netstring("postfix good.test"))
    c3.settimeout(1.0)
    try:
        early = c3.recv(100)
    except socket.timeout:
        early = None
    check("bounded: a third client is not served while two are open", early is None, early)
    c1.close()
    c3.settimeout(10)
    a = read_answer(c3)
    check("bounded: served once one closes", a == "OK dane-only", a)
    for c in (c2, c3):
        c.close()
    check("bounded: the limit is logged", "max_connections (2) reached" in b.logtext())
    b.stop()

    # ---- the SQLite cache shared by two daemons; the proactive refresh ------
    cache = os.path.join(TMP, "shared.sqlite")
    one = Daemon("one", cache=cache, connect_to=f"::127.0.0.1:{host_port}",
                 refresh_interval="1")
    two = Daemon("two", cache=cache, connect_to="::127.0.0.1:1", refresh="no")
    fresh = Daemon("fresh", connect_to="::127.0.0.1:1", refresh="no")
    try:
        want = ("OK secure match=mx1.stsplain.example.test:.backup.stsplain.example.test"
                " servername=hostname")
        a = ask(one.tcp(), "stsplain.example.test")
        check("shared cache: the first daemon fetches", a == want, a)
        a = ask(two.tcp(), "stsplain.example.test")
        check("shared cache: the second daemon (no policy host) answers from it", a == want, a)
        a = ask(fresh.tcp(), "stsplain.example.test")
        check("... while a daemon with its own empty cache cannot fetch: no policy",
              a == "NOTFOUND ", a)
        # every second; a round may have run before the policy was cached
        # (refreshed=0), so wait for the one that found it
        deadline = time.monotonic() + 40
        while (time.monotonic() < deadline and
               'msg="MTA-STS cache refreshed" refreshed=1' not in one.logtext()):
            time.sleep(0.2)
        log = one.logtext()
        check("proactive refresh: the cached policy refreshed",
              'msg="MTA-STS cache refreshed" refreshed=1 failed=0' in log, log[-1500:])
    finally:
        for x in (one, two, fresh):
            x.stop()

    # ---- the answer memo: OK/NOTFOUND reused, TEMP looked up again ---------
    m = Daemon("memo", log_level="debug")
    try:
        s = m.tcp()
        answers = [ask(s, k) for k in ("good.test", "Good.Test.", "tlsafail.policyd.test",
                                       "tlsafail.policyd.test", "nostarttls.test",
                                       "nostarttls.test")]
        s.close()
        check("memo: the same answers", answers[0] == answers[1] == "OK dane-only" and
              answers[2].startswith("TEMP ") and answers[3].startswith("TEMP ") and
              answers[4] == answers[5] == "NOTFOUND ", answers)
        log = m.logtext()
        looked = {k: log.count(f"msg=answered domain={k} ") for k in
                  ("good.test", "tlsafail.policyd.test", "nostarttls.test")}
        check("memo: OK and NOTFOUND looked up once, TEMP every time",
              looked == {"good.test": 1, "tlsafail.policyd.test": 2, "nostarttls.test": 1},
              looked)
    finally:
        m.stop()
    n = Daemon("nomemo", log_level="debug", answer_cache_ttl="0")
    try:
        s = n.tcp()
        ask(s, "good.test")
        ask(s, "good.test")
        s.close()
        c = n.logtext().count("msg=answered domain=good.test ")
        check("answer_cache_ttl = 0: every request looked up", c == 2, c)
    finally:
        n.stop()

    # ---- configuration errors ----------------------------------------------
    bad = os.path.join(TMP, "bad.conf")
    with open(bad, "w") as f:
        f.write("listen_tcp = 127.0.0.1:0\nmax_connections = lots\n")
    r = subprocess.run([POLICYD, "-c", bad, "-t"], capture_output=True, text=True)
    check("bad config: exit 2 naming the line", r.returncode == 2 and "line 2" in r.stderr,
          r.stderr)
    r = subprocess.run([POLICYD, "-c", "/dev/null", "-t"], capture_output=True, text=True)
    check("no listener: exit 2", r.returncode == 2 and "no listener" in r.stderr, r.stderr)
    r = subprocess.run([POLICYD, "--version"], capture_output=True, text=True)
    check("--version", r.returncode == 0 and r.stdout.startswith("mailsec-policyd "), r.stdout)
    check("every daemon stopped cleanly on SIGTERM (exit 0; under ASan: no leak)",
          len(STOPS) == 7 and all(rc == 0 for _, rc in STOPS), STOPS)
finally:
    if d.p.poll() is None:
        d.stop()
    host.kill()
    host.wait()
    subprocess.run(["rm", "-rf", TMP])
check.finish()
