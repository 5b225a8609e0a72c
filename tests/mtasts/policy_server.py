#!/usr/bin/env python3
"""Loopback HTTPS MTA-STS policy host for the libmtasts tests.

Usage: policy_server.py PKIDIR [CERT]
CERT (default "policy") names the certificate and key files in PKIDIR.
Binds 127.0.0.1 on a port the kernel picks, prints it on the first line of
stdout, then serves until killed.  Routes on the Host header, so one listener
plays every policy domain of the tests (see HOSTS below).
Adapted from the shared tls-peers recipe."""
import http.server, os, ssl, sys, time

def pol(mx, mode="enforce", max_age=86400, eol=b"\r\n"):
    lines = [b"version: STSv1", b"mode: " + mode.encode()]
    lines += [b"mx: " + m.encode() for m in mx]
    lines.append(b"max_age: " + str(max_age).encode())
    return eol.join(lines) + eol

GOOD = {
    "mta-sts.example.test": (pol(["mx.example.test"]), "text/plain"),
    "mta-sts.stsplain.example.test": (pol(["mx1.stsplain.example.test", "*.backup.stsplain.example.test"]),
                                      "text/plain; charset=utf-8"),
    "mta-sts.alias.stsplain.example.test": (pol(["mx1.stsplain.example.test"]), "text/plain"),
    "mta-sts.testing.stsplain.example.test": (pol(["mx1.stsplain.example.test"], mode="testing"), "text/plain"),
    "mta-sts.none.stsplain.example.test": (b"version: STSv1\nmode: none\nmax_age: 86400\n", "text/plain"),
    "mta-sts.lf.test": (pol(["mx.lf.test"], mode="testing", eol=b"\n")[:-1], "text/plain"),
    "mta-sts.charset.test": (pol(["mx.charset.test"]), "Text/Plain ; charset=\"utf-8\""),
    "mta-sts.html.test": (pol(["mx.html.test"]), "text/html"),
    "mta-sts.invalid.test": (b"version: STSv1\nmode: enforce\nmax_age: 86400\n", "text/plain"),
    "mta-sts.wrongname.test": (pol(["mx.wrongname.test"]), "text/plain"),
}

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in extra: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower()
        if self.path != "/.well-known/mta-sts.txt":
            return self.send(404, b"nope")
        if host in GOOD:
            body, ctype = GOOD[host]
            return self.send(200, body, ctype)
        if host == "mta-sts.redirect.test":
            return self.send(301, b"", extra=[("Location", "https://mta-sts.example.test/.well-known/mta-sts.txt")])
        if host == "mta-sts.big.test":            # declared length over 64 KiB
            return self.send(200, b"x" * 70000)
        if host == "mta-sts.chunked.test":        # no length, 512 KiB chunked
            self.send_response(200); self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
            chunk = b"x" * 8192
            try:
                for _ in range(64):
                    self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass                              # the client hung up, as it should
            return
        if host == "mta-sts.slow.test":           # a body that trickles in
            body = pol(["mx.slow.test"])
            self.send_response(200); self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body))); self.end_headers()
            try:
                for b in body:
                    self.wfile.write(bytes([b])); self.wfile.flush(); time.sleep(0.5)
            except OSError:
                pass
            return
        return self.send(404, b"unknown host")

pki = sys.argv[1]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
cert = sys.argv[2] if len(sys.argv) > 2 else "policy"
ctx.load_cert_chain(os.path.join(pki, cert + ".pem"), os.path.join(pki, cert + ".key"))
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
