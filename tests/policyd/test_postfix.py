#!/usr/bin/env python3
"""test_postfix.py MAILSEC_POLICYD - mailsec-policyd behind a real Postfix
(Debian's), end to end on loopback.  Needs root (Postfix's master, port 25,
a mount namespace); exits 77 (meson: SKIP, never a pass) otherwise.

The pieces, all started here in a temporary directory:
  - unbound (Debian's daemon) on 127.0.2.53:53 serving the signed test world
    (MS_TEST_WORLD/auth.conf) as a validating resolver: answers carry AD;
  - the demo SMTP peers (tests/world/peers) on their 127.0.1.x addresses at
    port 25, and the demo MTA-STS policy host;
  - mailsec-policyd on a unix socket over the same world;
  - a Postfix instance with its own config directory (`postfix -c DIR
    start`, as tests/requiretls/test_loopback.c does) whose smtp(8) client
    asks `smtp_tls_policy_maps = socketmap:unix:...:postfix` and resolves
    MX, A and TLSA itself (smtp_dns_support_level = dnssec) through
    unbound: Postfix's resolver is libc's, which reads /etc/resolv.conf, so
    Postfix is started in a private mount namespace (unshare -m) where a
    resolv.conf naming 127.0.2.53 with "options trust-ad" is bind-mounted
    over /etc/resolv.conf.  The machine's own resolver is never used.
Four messages go in over SMTP; the test waits for Postfix's verdicts:
  good.test (DANE)                 -> delivered, verified, policy dane-only
  stsgap.test (MTA-STS enforce)    -> delivered to mx1 over verified TLS
  tlsafail.policyd.test (bogus TLSA) -> deferred (policy TEMP), never sent
  badtlsa.test (TLSA of another key) -> deferred, the certificate refused
Then the daemon is killed: the next message is deferred, not sent.
"""
import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
from mstest import Checks  # noqa: E402

POLICYD = os.path.abspath(sys.argv[1])
WORLD = os.environ["MS_TEST_WORLD"]
SRC = os.environ["MS_SOURCE_ROOT"]
RESOLVER = "127.0.2.53"

if os.geteuid() != 0:
    print("needs root (Postfix's master, port 25, a mount namespace)")
    sys.exit(77)
for tool in ("/usr/sbin/postfix", "/usr/sbin/unbound", "/usr/bin/unshare"):
    if not os.path.exists(tool):
        print(f"{tool} missing (scripts/install-deps.sh installs it)")
        sys.exit(1)

check = Checks()
TMP = tempfile.mkdtemp(prefix="policyd-postfix-")
os.chmod(TMP, 0o755)  # Postfix's daemons run as postfix
procs = []


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def port_busy(addr, port):
    s = socket.socket()
    try:
        s.bind((addr, port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    print(f"timed out waiting for {what}")
    return False


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def start_unbound():
    conf = os.path.join(TMP, "unbound.conf")
    with open(os.path.join(WORLD, "auth.conf")) as f:
        world = f.read()
    write(conf, f"""server:
    interface: {RESOLVER}
    port: 53
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{TMP}"
    pidfile: "{TMP}/unbound.pid"
    logfile: "{TMP}/unbound.log"
    access-control: 127.0.0.0/8 allow
    do-ip6: no
""" + world)
    p = subprocess.Popen(["/usr/sbin/unbound", "-d", "-c", conf])
    procs.append(p)

    def answers():
        # a DNS query over TCP for good.test MX, just to see it listen
        try:
            q = b"\x12\x34\x01\x20\x00\x01\x00\x00\x00\x00\x00\x00\x04good\x04test\x00\x00\x0f\x00\x01"
            with socket.create_connection((RESOLVER, 53), timeout=1) as s:
                s.sendall(len(q).to_bytes(2, "big") + q)
                r = s.recv(4096)
            return len(r) > 4 and r[2:4] == b"\x12\x34" and (r[5] & 0x20)  # AD set
        except OSError:
            return False
    return wait_for(answers, 20, "unbound to answer with AD")


def start_peers(https_port):
    w = os.path.join(TMP, "peers")
    os.makedirs(w)
    os.symlink(os.path.join(WORLD, "pki"), os.path.join(w, "pki"))
    r = subprocess.run(["sh", os.path.join(SRC, "tests/world/peers/start-peers.sh"), w, "25",
                        str(https_port)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        print(r.stderr)
        return None
    pid = int(r.stdout.split()[-1])
    return w, pid


def start_policyd(https_port):
    d = os.path.join(TMP, "policyd")
    os.makedirs(d)
    os.chmod(d, 0o755)
    sock = os.path.join(d, "policyd.sock")
    log = os.path.join(d, "policyd.log")
    conf = os.path.join(d, "policyd.conf")
    write(conf, f"""listen_unix = {sock}
unix_mode = 0666
map_name = postfix
dns_config = {WORLD}/auth.conf
cache = {d}/mtasts.sqlite
ca_file = {WORLD}/pki/demo/ca.pem
connect_to = mta-sts.stsgap.test:443:127.0.1.10:{https_port}
log_file = {log}
log_level = debug
""")
    p = subprocess.Popen([POLICYD, "-c", conf])
    procs.append(p)
    ok = wait_for(lambda: os.path.exists(sock), 20, "policyd socket")
    return sock, log, ok


def start_postfix(sock):
    conf = os.path.join(TMP, "pfx-conf")
    queue = os.path.join(TMP, "pfx-queue")
    data = os.path.join(TMP, "pfx-data")
    os.makedirs(conf)
    os.makedirs(queue)
    os.makedirs(data, mode=0o700)
    shutil.chown(data, "postfix", "postfix")
    smtpd_port = free_port()
    maillog = os.path.join(TMP, "pfx-maillog")
    write(os.path.join(conf, "main.cf"), f"""compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
maillog_file = {maillog}
maillog_file_prefixes = {TMP}
mail_owner = postfix
setgid_group = postdrop
myhostname = sender.policyd.test
mydomain = policyd.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtp_host_lookup = dns
smtp_dns_support_level = dnssec
smtp_tls_security_level = may
smtp_tls_policy_maps = socketmap:unix:{sock}:postfix
smtp_tls_CAfile = {WORLD}/pki/demo/ca.pem
smtp_tls_loglevel = 1
smtp_connect_timeout = 10s
""")
    write(os.path.join(conf, "master.cf"), f"""127.0.0.1:{smtpd_port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
""")
    rc = os.path.join(TMP, "resolv.conf")
    write(rc, f"nameserver {RESOLVER}\noptions trust-ad\n")
    # a private mount namespace: Postfix (and every daemon its master
    # starts) sees this resolv.conf, nothing else on the machine does
    r = subprocess.run(["/usr/bin/unshare", "-m", "sh", "-c",
                        'mount --bind "$1" /etc/resolv.conf && exec /usr/sbin/postfix -c "$2" start',
                        "sh", rc, conf], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        print("postfix start:", r.stdout, r.stderr)
        return None
    def listening():
        try:
            socket.create_connection(("127.0.0.1", smtpd_port), timeout=1).close()
            return True
        except OSError:
            return False
    ok = wait_for(listening, 20, "postfix smtpd")
    return (conf, smtpd_port, maillog) if ok else None


def status_of(maillog, rcpt):
    """The last status= Postfix logged for a recipient, with its line."""
    last = ("", "")
    for line in read(maillog).splitlines():
        if f"to=<{rcpt}>" in line and "status=" in line:
            last = (line.split("status=", 1)[1].split()[0], line)
    return last


postfix = None
peers = None
try:
    busy = [a for a in ("127.0.1.1", "127.0.1.3", "127.0.1.4") if port_busy(a, 25)]
    check("port 25 free on the demo peers' addresses", not busy, busy)
    check("port 53 free on the test resolver's address", not port_busy(RESOLVER, 53))
    if check.failed:
        raise SystemExit
    https_port = free_port()
    check("unbound serves the test world with AD", start_unbound())
    peers = start_peers(https_port)
    check("demo peers listen on port 25", peers is not None)
    sock, plog, ok = start_policyd(https_port)
    check("mailsec-policyd listens", ok)
    postfix = start_postfix(sock)
    check("postfix started in its namespace", postfix is not None)
    if check.failed:
        raise SystemExit
    conf, smtpd_port, maillog = postfix

    rcpts = ["user@good.test", "user@stsgap.test", "user@tlsafail.policyd.test",
             "user@badtlsa.test"]
    with smtplib.SMTP("127.0.0.1", smtpd_port, timeout=30) as s:
        for r in rcpts:
            s.sendmail("sender@policyd.test", [r],
                       f"From: sender@policyd.test\r\nTo: {r}\r\nSubject: policyd e2e\r\n\r\nhello\r\n")

    def settled():
        st = [status_of(maillog, r)[0] for r in rcpts]
        return st[0] == "sent" and st[1] == "sent" and st[2] and st[3]
    wait_for(settled, 90, "Postfix's delivery attempts")
    log = read(maillog)
    peerlog = read(os.path.join(peers[0], "peers.log")) if peers else ""

    st, line = status_of(maillog, "user@good.test")
    check("DANE domain: Postfix delivered", st == "sent" and "relay=mx1.good.test[127.0.1.1]:25" in line,
          line or log[-3000:])
    check("DANE domain: verified TLS (DANE via Postfix's own TLSA lookup)",
          "Verified TLS connection established to mx1.good.test[127.0.1.1]:25" in log, log[-3000:])
    check("DANE domain: the peer got it over TLS",
          "host=mx1.good.test from=sender@policyd.test rcpt=user@good.test tls=True" in peerlog,
          peerlog)

    st, line = status_of(maillog, "user@stsgap.test")
    check("MTA-STS domain: Postfix delivered to the policy's MX",
          st == "sent" and "relay=mx1.stsgap.test[127.0.1.4]:25" in line, line or log[-3000:])
    check("MTA-STS domain: verified TLS (PKIX, match=mx1.stsgap.test)",
          "Verified TLS connection established to mx1.stsgap.test[127.0.1.4]:25" in log, log[-3000:])

    st, line = status_of(maillog, "user@tlsafail.policyd.test")
    check("failed TLSA lookup: Postfix defers", st == "deferred", line or log[-3000:])
    check("failed TLSA lookup: nothing reached any peer", "rcpt=user@tlsafail.policyd.test" not in peerlog,
          peerlog)

    st, line = status_of(maillog, "user@badtlsa.test")
    check("wrong certificate: Postfix defers", st == "deferred", line or log[-3000:])
    check("wrong certificate: refused by DANE",
          "Server certificate not verified" in line and
          "verification failed for mx.badtlsa.test[127.0.1.3]:25: num=65:no matching DANE TLSA records"
          in log, line)
    check("wrong certificate: the peer got no message", "rcpt=user@badtlsa.test" not in peerlog,
          peerlog)

    plogtext = read(plog)
    for dom, ans in (("good.test", "OK dane-only"), ("stsgap.test", "OK secure match=mx1.stsgap.test"),
                     ("tlsafail.policyd.test", "TEMP mx.tlsafail.policyd.test"),
                     ("badtlsa.test", "OK dane-only")):
        check(f"policyd answered {dom}: {ans}",
              any(f"domain={dom} " in ln and f'answer="{ans}' in ln for ln in plogtext.splitlines()),
              plogtext[-2000:])

    # ---- the daemon killed: Postfix defers, never falls back to "may" ------
    policyd_proc = procs[-1]
    policyd_proc.kill()
    policyd_proc.wait()
    with smtplib.SMTP("127.0.0.1", smtpd_port, timeout=30) as s:
        s.sendmail("sender@policyd.test", ["after-kill@good.test"],
                   "From: sender@policyd.test\r\nSubject: policyd gone\r\n\r\nhello\r\n")
    wait_for(lambda: status_of(maillog, "after-kill@good.test")[0], 60, "the attempt without policyd")
    st, line = status_of(maillog, "after-kill@good.test")
    check("policyd killed: Postfix defers (policy table lookup error)", st == "deferred", line)
    peerlog = read(os.path.join(peers[0], "peers.log"))
    check("policyd killed: nothing sent", "rcpt=after-kill@good.test" not in peerlog, peerlog)
except SystemExit:
    pass
finally:
    if postfix:
        subprocess.run(["/usr/sbin/postfix", "-c", postfix[0], "stop"], capture_output=True)
    elif os.path.isdir(os.path.join(TMP, "pfx-conf")):
        subprocess.run(["/usr/sbin/postfix", "-c", os.path.join(TMP, "pfx-conf"), "stop"],
                       capture_output=True)
    if peers:
        try:
            os.kill(peers[1], 15)
        except ProcessLookupError:
            pass
    for p in procs:
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    if os.environ.get("POLICYD_KEEP_TMP"):
        print("kept", TMP)
    else:
        shutil.rmtree(TMP, ignore_errors=True)
check.finish()
