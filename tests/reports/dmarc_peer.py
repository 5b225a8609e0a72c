#!/usr/bin/env python3
"""Loopback SMTP peer of the DMARC report tests: plaintext aiosmtpd on
ADDR:PORT that stores every message as DIR/msg-N.eml and appends one line
per message to DIR/peer.log.  READY is written once it listens; SIGTERM
stops it.

    dmarc_peer.py ADDR PORT DIR READY
"""
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller

ADDR, PORT, DIR, READY = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


class Handler:
    n = 0

    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        with open(os.path.join(DIR, f"msg-{Handler.n}.eml"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(os.path.join(DIR, "peer.log"), "a") as f:
            f.write(f"from={envelope.mail_from} rcpt={','.join(envelope.rcpt_tos)} "
                    f"bytes={len(envelope.content or b'')}\n")
        return "250 2.0.0 report received"


def main():
    c = Controller(Handler(), hostname=ADDR, port=PORT)
    c.start()
    with open(READY + ".tmp", "w") as f:
        f.write("ready\n")
    os.rename(READY + ".tmp", READY)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    stop.wait()
    c.stop()


if __name__ == "__main__":
    main()
