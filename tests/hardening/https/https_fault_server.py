#!/usr/bin/python3
"""Hostile HTTPS policy hosts for the MTA-STS fetch hardening test.

Usage: https_fault_server.py WORKDIR
Makes a throw-away PKI in WORKDIR with the openssl tool (a CA, a server
certificate for every mta-sts.<case>.hard.test name, one for another name,
one that has expired), starts the listeners on 127.0.0.1 ports the kernel
picks, prints "ca=PATH", one "NAME=PORT" line per listener and "ready", then
serves until killed.  Every request appends a line "CASE 0 N" (N: its
number on the connection) to WORKDIR/log as it arrives, and every
connection a line "CASE BYTES_SENT REQUESTS" when it ends, so the test can
see that a redirect was never followed.

Listeners:
  main      TLS with the right certificate; the case is the Host header
  stall     accepts TCP and never answers (the ClientHello is never read)
  stallhello  reads the ClientHello, never answers
  wrongname TLS with a certificate for mail.other.invalid (same CA)
  expired   TLS with an expired certificate for the right names
Cases on "main" (Host mta-sts.CASE.hard.test):
  ok          a valid policy (the control)
  drip        Content-Length, then one body byte every 0.3 s
  driphead    the status line and headers one byte every 0.3 s
  reset       half the declared body, then a TCP RST
  closeshort  half the declared body, then a clean TLS close
  huge10      HTTP/1.0, no Content-Length, 10 MiB of policy-like lines
  hugecl      HTTP/1.1 with Content-Length: 10 MiB
  hugechunk   HTTP/1.1 chunked, 10 MiB
  loop        302 to itself
  loop301     301 to mta-sts.ok.hard.test (a valid policy lives there)
  http10      HTTP/1.0, no Content-Length, whole policy, clean TLS close
  http10trunc HTTP/1.0, no Content-Length, policy cut short, TCP close
              without close_notify (a truncation attack)
  hugeheaders    10 MiB of header fields before a valid policy
  hugeheaderline one header line of 10 MiB before a valid policy
"""
import os, socket, ssl, struct, subprocess, sys, threading, time

work = os.path.abspath(sys.argv[1])
os.makedirs(work, exist_ok=True)
CASES = ["ok", "drip", "driphead", "reset", "closeshort", "huge10", "hugecl",
         "hugechunk", "loop", "loop301", "http10", "http10trunc", "hugeheaders",
         "hugeheaderline"]
NAMES = [f"mta-sts.{c}.hard.test" for c in CASES]
POLICY = (b"version: STSv1\r\nmode: enforce\r\nmx: mx1.hard.test\r\n"
          b"mx: *.backup.hard.test\r\nmax_age: 86400\r\n")
MiB = 1 << 20


def sh(*args):
    subprocess.run(args, check=True, cwd=work, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_pki():
    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
       "-subj", "/CN=mailsec hardening CA", "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign")

    def leaf(name, sans, extra=()):
        sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + sans[0])
        with open(os.path.join(work, name + ".ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                    "subjectAltName=" + ",".join("DNS:" + s for s in sans) + "\n")
        sh("openssl", "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
           "-CAcreateserial", "-out", name + ".pem", "-extfile", name + ".ext", *extra)

    leaf("good", NAMES, ("-days", "3650"))
    leaf("other", ["mail.other.invalid"], ("-days", "3650"))
    # not_after in the past: -not_before/-not_after need OpenSSL 3.4; a
    # negative -days works with the x509 tool of 3.0 too
    leaf("expired", NAMES, ("-days", "-1"))


make_pki()
logf = open(os.path.join(work, "log"), "a", buffering=1)
loglock = threading.Lock()


def log(case, sent, requests):
    with loglock:
        logf.write(f"{case} {sent} {requests}\n")


def ctx_for(name):
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c.load_cert_chain(os.path.join(work, name + ".pem"), os.path.join(work, name + ".key"))
    return c


def read_request(s):
    data = b""
    while b"\r\n\r\n" not in data:
        d = s.recv(4096)
        if not d:
            return None
        data += d
        if len(data) > 65536:
            return None
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    hdrs = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return head[0], hdrs


def rst_close(s):
    raw = s
    try:
        raw = s.unwrap() if False else s
    except OSError:
        pass
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # close the file descriptor without a TLS close_notify
    fd = raw.detach() if isinstance(raw, ssl.SSLSocket) else raw.detach()
    socket.socket(fileno=fd).close()


def serve_main(s):
    case, sent, requests = "?", 0, 0

    def send(b):
        nonlocal sent
        s.sendall(b)
        sent += len(b)
    try:
        while True:
            req = read_request(s)
            if req is None:
                break
            requests += 1
            line, hdrs = req
            host = hdrs.get("host", "").split(":")[0].lower()
            case = host[len("mta-sts."):-len(".hard.test")] if host.endswith(".hard.test") else host
            log(case, 0, requests)      # each request, as it arrives
            if case == "ok":
                send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                     % len(POLICY) + POLICY)
                continue
            if case == "drip":
                send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                     % len(POLICY))
                for b in POLICY:
                    send(bytes([b]))
                    time.sleep(0.3)
                break
            if case == "driphead":
                for b in (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d"
                          b"\r\n\r\n" % len(POLICY) + POLICY):
                    send(bytes([b]))
                    time.sleep(0.3)
                break
            if case in ("reset", "closeshort"):
                send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                     % len(POLICY) + POLICY[:len(POLICY) // 2])
                time.sleep(0.2)
                if case == "reset":
                    log(case, sent, requests)
                    rst_close(s)
                    return
                break
            if case in ("huge10", "hugecl", "hugechunk"):
                line = b"mx: mx-padding-padding-padding.hard.test\r\n"   # 42 bytes
                chunk = line * (65536 // len(line))
                total = 10 * MiB
                if case == "huge10":
                    send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
                elif case == "hugecl":
                    send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
                         % total)
                else:
                    send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
                left = total
                while left > 0:
                    n = min(left, len(chunk))
                    if case == "hugechunk":
                        send(b"%x\r\n" % n + chunk[:n] + b"\r\n")
                    else:
                        send(chunk[:n])
                    left -= n
                if case == "hugechunk":
                    send(b"0\r\n\r\n")
                break
            if case in ("hugeheaders", "hugeheaderline"):
                # 10 MiB of header fields, or one 10 MiB header line
                send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
                if case == "hugeheaders":
                    block = b"X-Pad: " + b"p" * 90 + b"\r\n"
                    block = block * (65536 // len(block))
                else:
                    send(b"X-Pad: ")
                    block = b"p" * 65536
                for _ in range(10 * MiB // len(block)):
                    send(block)
                send(b"\r\nContent-Length: %d\r\n\r\n" % len(POLICY) + POLICY)
                break
            if case == "loop":
                send(b"HTTP/1.1 302 Found\r\nLocation: https://mta-sts.loop.hard.test/.well-known/"
                     b"mta-sts.txt\r\nContent-Length: 0\r\n\r\n")
                continue
            if case == "loop301":
                send(b"HTTP/1.1 301 Moved\r\nLocation: https://mta-sts.ok.hard.test/.well-known/"
                     b"mta-sts.txt\r\nContent-Length: 0\r\n\r\n")
                continue
            if case == "http10":
                send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + POLICY)
                try:
                    s.unwrap()      # close_notify: a clean end of the body
                except OSError:
                    pass
                break
            if case == "http10trunc":
                # cut inside the mx list: what is left still parses as a
                # policy, with one MX fewer
                cut = POLICY.index(b"mx: *.backup")
                body = POLICY[:cut]
                send(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)
                time.sleep(0.1)
                log(case, sent, requests)
                fd = s.detach()        # no close_notify
                socket.socket(fileno=fd).close()
                return
            send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    except OSError:
        pass
    log(case, sent, requests)
    try:
        s.close()
    except OSError:
        pass


def serve_tls(lsock, ctx, handler):
    while True:
        c, _ = lsock.accept()

        def run(c=c):
            try:
                c.settimeout(60)
                s = ctx.wrap_socket(c, server_side=True)
            except (OSError, ssl.SSLError):
                c.close()
                return
            handler(s)
        threading.Thread(target=run, daemon=True).start()


def serve_cert_only(s):
    # the client should hang up during the handshake; if it does not,
    # answer like "ok" so that a missing check shows as a policy
    serve_main(s)


def serve_stall(lsock, read_hello):
    held = []
    while True:
        c, _ = lsock.accept()
        held.append(c)                 # keep it open, never answer
        if read_hello:
            try:
                c.settimeout(5)
                c.recv(65536)
            except OSError:
                pass


def listener():
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", 0))
    l.listen(64)
    return l


ports = {}
for name, target in (("main", lambda l: serve_tls(l, ctx_for("good"), serve_main)),
                     ("wrongname", lambda l: serve_tls(l, ctx_for("other"), serve_cert_only)),
                     ("expired", lambda l: serve_tls(l, ctx_for("expired"), serve_cert_only)),
                     ("stall", lambda l: serve_stall(l, False)),
                     ("stallhello", lambda l: serve_stall(l, True))):
    l = listener()
    ports[name] = l.getsockname()[1]
    threading.Thread(target=target, args=(l,), daemon=True).start()

print("ca=" + os.path.join(work, "ca.pem"))
for k, v in ports.items():
    print(f"{k}={v}")
print("ready", flush=True)
while True:
    time.sleep(3600)
