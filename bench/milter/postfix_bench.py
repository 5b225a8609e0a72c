#!/usr/bin/env python3
"""postfix_bench.py DIR WORLD N CONC OURS_SOCK OURS_PIDS PEER_SOCKS PEER_PIDS

The milters behind a real Postfix: a throw-away instance (its own
configuration directory under DIR, `postfix -c DIR/pfx-conf start`, smtpd
on a loopback port, smtpd_milters = the unix sockets), N DKIM-signed
messages submitted over SMTP by CONC client threads, one message per
session.  Measured: messages per second accepted (end-of-DATA replies,
i.e. after the milters' verdicts) and milter CPU per message from
/proc/PID/stat.  The first messages of each round go to a pipe(8) sink and
must carry dkim=pass and dmarc=pass; the rest are discarded after queueing.
Prints the bench lines."""
import os
import pwd
import smtplib
import socket
import subprocess
import sys
import threading
import time

D, WORLD, N, CONC = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
OURS, OURS_PIDS, PEER, PEER_PIDS = sys.argv[5:9]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def cpu(pids):
    t = 0
    for p in pids.split(","):
        f = open(f"/proc/{p}/stat").read()
        fields = f[f.rindex(")") + 2:].split()
        t += int(fields[11]) + int(fields[12])
    return t / os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def messages(n):
    """n messages signed by example.test with the world's RSA key (dkimpy,
    Debian python3-dkim: an independent signer)."""
    import dkim
    key = open(f"{WORLD}/pki/dkim/rsa.pem", "rb").read()
    out = []
    for i in range(n):
        body = "".join(f"line {l:02d} of message {i}: the quick brown fox jumps over\r\n"
                       for l in range(30))
        m = (f"From: Alice <alice@example.test>\r\nTo: bob@example.org\r\n"
             f"Subject: benchmark message {i}\r\nDate: Thu, 03 Dec 2026 12:00:00 +0000\r\n"
             f"Message-ID: <pfx-{i}@example.test>\r\nMIME-Version: 1.0\r\n"
             f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{body}").encode()
        sig = dkim.sign(m, b"rsa", b"example.test", key, canonicalize=(b"relaxed", b"relaxed"),
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        out.append(sig.replace(b"\n", b"\r\n").replace(b"\r\r\n", b"\r\n") + m)
    return out


pw = pwd.getpwnam("postfix")
conf = f"{D}/pfx-conf"
for sub in ("pfx-conf", "pfx-queue", "pfx-data", "out"):
    os.makedirs(f"{D}/{sub}", exist_ok=True)
os.chown(f"{D}/pfx-data", pw.pw_uid, pw.pw_gid)
os.chmod(f"{D}/out", 0o1777)
with open(f"{D}/sink.sh", "w") as f:
    f.write('#!/bin/sh\ncat > "$1/$2.tmp" && mv "$1/$2.tmp" "$1/$2"\n')
port = free_port()


def main_cf(milters):
    return f"""compatibility_level = 3.6
queue_directory = {D}/pfx-queue
data_directory = {D}/pfx-data
maillog_file = {D}/pfx-maillog
maillog_file_prefixes = {D}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx1.example.test
mydomain = example.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = example.org, check.example.org
transport_maps = inline:{{example.org=discard: check.example.org=sink:}}
smtpd_peername_lookup = no
smtpd_milters = {milters}
milter_default_action = tempfail
milter_protocol = 6
alias_maps =
alias_database =
local_recipient_maps =
biff = no
"""


with open(f"{conf}/master.cf", "w") as f:
    f.write(f"""127.0.0.1:{port} inet n - n - 100 smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
sink unix - n n - - pipe user=nobody argv=/bin/sh {D}/sink.sh {D}/out ${{queue_id}}
""")


def send(msgs, rcpt):
    errors = []

    def worker(part):
        for m in part:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
                    s.sendmail("alice@example.test", [rcpt], m)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
    th = [threading.Thread(target=worker, args=(msgs[i::CONC],)) for i in range(CONC)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    return errors


def round_(label, milters, pids, msgs):
    with open(f"{conf}/main.cf", "w") as f:
        f.write(main_cf(milters))
    subprocess.run(["/usr/sbin/postfix", "-c", conf, "stop"], capture_output=True)
    time.sleep(1)
    subprocess.run(["/usr/sbin/postfix", "-c", conf, "start"], check=True, capture_output=True)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    # verdict check: 3 messages delivered to a file
    before = set(os.listdir(f"{D}/out"))
    errs = send(msgs[:3], "bob@check.example.org")
    if errs:
        sys.exit(f"{label}: {errs[0]}")
    for _ in range(600):
        new = [x for x in set(os.listdir(f"{D}/out")) - before if not x.endswith(".tmp")]
        if len(new) >= 3:
            break
        time.sleep(0.1)
    for x in new:
        h = open(f"{D}/out/{x}", "rb").read().split(b"\n\n")[0].replace(b"\n\t", b" ")
        if b"dkim=pass" not in h or b"dmarc=pass" not in h:
            sys.exit(f"{label}: delivered message without dkim=pass and dmarc=pass:\n{h.decode()}")
    send(msgs[3:50], "bob@example.org")  # warm-up
    c0 = cpu(pids)
    t0 = time.monotonic()
    errs = send(msgs, "bob@example.org")
    t1 = time.monotonic()
    c1 = cpu(pids)
    if errs:
        sys.exit(f"{label}: {len(errs)} messages refused, first: {errs[0]}")
    r = {"wall": (t1 - t0) * 1e9 / len(msgs), "cpu": (c1 - c0) * 1e9 / len(msgs)}
    print(f"# postfix + {label}: {len(msgs)} messages, concurrency {CONC}: "
          f"{len(msgs) / (t1 - t0):.0f} msg/s, milter CPU {r['cpu'] / 1e3:.1f} us/msg", flush=True)
    return r


msgs = messages(N)
try:
    ro = round_("mailsec-milter", f"unix:{OURS}", OURS_PIDS, msgs)
    rp = round_("opendkim+opendmarc", " ".join(f"unix:{s}" for s in PEER.split(",")), PEER_PIDS, msgs)
finally:
    subprocess.run(["/usr/sbin/postfix", "-c", conf, "stop"], capture_output=True)
print(f"bench milter-postfix-cpu-per-msg/opendkim+opendmarc ours_ns={ro['cpu']:.0f} "
      f"opendkim+opendmarc_ns={rp['cpu']:.0f} ratio={rp['cpu'] / max(ro['cpu'], 1):.2f}")
print(f"bench milter-postfix-wall-per-msg-c{CONC}/opendkim+opendmarc ours_ns={ro['wall']:.0f} "
      f"opendkim+opendmarc_ns={rp['wall']:.0f} ratio={rp['wall'] / ro['wall']:.2f}")
