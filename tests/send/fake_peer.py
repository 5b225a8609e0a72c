"""A scripted, hostile SMTP peer for test_send.py (stdlib only): it does
what a well-behaved server never does, to show that `mailsec send` never
acts on it.  Modes:
  inject    after "220" to STARTTLS, pipelines plaintext replies in the same
            write (the STARTTLS command-injection class, RFC 3207 s4.2)
  longline  an EHLO reply line of 1500 bytes (over the 1000-byte bound)
  hugereply an EHLO reply of 80 lines of 900 bytes (over the 64 KiB bound)
  badtls    answers STARTTLS with 220, then sends garbage instead of a TLS
            ServerHello and closes; a plaintext session is served normally
  silent    accepts the connection and never greets (deadline test)
  tls       a well-behaved server whose STARTTLS serves the chain given to
            start(..., cert=(chainfile, keyfile)): for certificates the
            demo peers do not hold (a leaf that is not a TLS server's)
Messages received (raw DATA bytes, still dot-stuffed) go to .mails, command
verbs to .commands."""
import socket
import ssl
import threading


class FakePeer:
    def __init__(self, addr, mode, cert=None):
        self.mode = mode
        self.tls = None
        if cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*cert)
        self.mails = []
        self.commands = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(10)
                try:
                    self.session(conn)
                except OSError:
                    pass

    def session(self, conn):
        f = conn.makefile("rb")
        if self.mode == "silent":
            f.readline()  # until the client gives up (or 10 s)
            return
        conn.sendall(b"220 fake.test ESMTP\r\n")
        while True:
            line = f.readline(4096)
            if not line:
                return
            verb = line.strip().split(b" ")[0].upper().decode("ascii", "replace")
            self.commands.append(verb)
            if verb == "EHLO":
                if self.mode == "hugereply":
                    conn.sendall(b"".join(b"250-X%04d" % i + b"y" * 890 + b"\r\n"
                                          for i in range(80)) + b"250 STARTTLS\r\n")
                elif self.mode == "longline":
                    conn.sendall(b"250-" + b"x" * 1500 + b"\r\n250 STARTTLS\r\n")
                else:
                    conn.sendall(b"250-fake.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
            elif verb == "STARTTLS":
                if self.mode == "inject":
                    conn.sendall(b"220 go ahead\r\n250-injected\r\n250 REQUIRETLS\r\n")
                    continue
                conn.sendall(b"220 go ahead\r\n")
                if self.mode == "tls" and self.tls:
                    try:
                        conn = self.tls.wrap_socket(conn, server_side=True)
                    except (OSError, ssl.SSLError):
                        return  # the client refused the certificate
                    f = conn.makefile("rb")
                    continue
                conn.sendall(b"this is not a TLS handshake\r\n")
                return
            elif verb in ("MAIL", "RCPT"):
                conn.sendall(b"250 ok\r\n")
            elif verb == "DATA":
                conn.sendall(b"354 go on\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n") and data != b".\r\n":
                    chunk = f.readline(4096)
                    if not chunk:
                        return
                    data += chunk
                self.mails.append(data[:-3])
                conn.sendall(b"250 2.0.0 taken\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"502 5.5.1 no\r\n")

    def stop(self):
        self.running = False
        self.thread.join(5)
        self.sock.close()


def start(addr, mode, cert=None):
    return FakePeer(addr, mode, cert)
