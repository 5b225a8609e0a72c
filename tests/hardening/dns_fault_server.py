#!/usr/bin/env python3
"""A scripted DNS responder for fault injection (tests only).

    dns_fault_server.py PORTFILE

Listens on 127.0.0.1 (UDP and TCP, a free port written to PORTFILE) and
misbehaves according to the first label of the query name:

  ok        a well-formed A answer 192.0.2.1 (control case)
  servfail  RCODE 2
  refused   RCODE 5
  drop      never answers
  slow      answers correctly after 4 seconds
  garbage   random bytes
  short     a 5-byte packet
  badid     a correct answer with the wrong message ID
  trunc     UDP: TC=1 and no records; TCP: closes the connection
  count     header claims 5 answers, packet holds 1
  loop      an answer whose owner name is a compression pointer to itself
  rdlen     an A record whose RDLENGTH runs past the end of the packet
  bigtxt    (TCP) a 60 KiB TXT answer in many strings; UDP gets TC=1
Runs until killed.
"""
import os
import random
import socket
import struct
import sys
import threading
import time


def parse_query(data):
    if len(data) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", data[:6])
    off, labels = 12, []
    while off < len(data):
        n = data[off]
        if n == 0:
            off += 1
            break
        labels.append(data[off + 1:off + 1 + n].decode("ascii", "replace").lower())
        off += 1 + n
    qtype = struct.unpack("!H", data[off:off + 2])[0] if off + 4 <= len(data) else 1
    return qid, labels, data[12:off + 4], qtype


def header(qid, rcode=0, an=0, tc=0, qd=1):
    flags = 0x8000 | 0x0400 | 0x0100 | 0x0080 | (tc << 9) | rcode  # QR AA RD RA
    return struct.pack("!HHHHHH", qid, flags, qd, an, 0, 0)


def a_record(rdata=b"\xc0\x00\x02\x01", rdlen=None):
    rdlen = len(rdata) if rdlen is None else rdlen
    return b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, rdlen) + rdata


def respond(data, tcp):
    q = parse_query(data)
    if q is None:
        return None
    qid, labels, question, qtype = q
    kind = labels[0] if labels else "ok"
    if kind == "drop":
        return None
    if kind == "slow":
        time.sleep(4)
        kind = "ok"
    if kind == "ok":
        if qtype != 1:
            return header(qid) + question
        return header(qid, an=1) + question + a_record()
    if kind == "servfail":
        return header(qid, rcode=2) + question
    if kind == "refused":
        return header(qid, rcode=5) + question
    if kind == "garbage":
        return bytes(random.getrandbits(8) for _ in range(200))
    if kind == "short":
        return struct.pack("!HBBB", qid, 0x81, 0x80, 0)
    if kind == "badid":
        return header((qid + 1) & 0xFFFF, an=1) + question + a_record()
    if kind == "trunc":
        if tcp:
            return b""  # close
        return header(qid, tc=1) + question
    if kind == "count":
        return header(qid, an=5) + question + a_record()
    if kind == "loop":
        off = 12 + len(question)
        return header(qid, an=1) + question + struct.pack("!H", 0xC000 | off) + \
            struct.pack("!HHIH", 1, 1, 300, 4) + b"\xc0\x00\x02\x01"
    if kind == "rdlen":
        return header(qid, an=1) + question + a_record(rdlen=400)
    if kind == "bigtxt":
        if not tcp:
            return header(qid, tc=1) + question
        strings = b"".join(b"\xff" + b"x" * 255 for _ in range(235))
        rr = b"\xc0\x0c" + struct.pack("!HHIH", 16, 1, 300, len(strings)) + strings
        return header(qid, an=1) + question + rr
    return header(qid, rcode=3) + question


def udp_loop(sock):
    while True:
        data, addr = sock.recvfrom(4096)
        threading.Thread(target=lambda d=data, a=addr: udp_reply(sock, d, a), daemon=True).start()


def udp_reply(sock, data, addr):
    r = respond(data, False)
    if r:
        sock.sendto(r, addr)


def tcp_conn(conn):
    try:
        conn.settimeout(10)
        while True:
            hdr = conn.recv(2)
            if len(hdr) < 2:
                return
            n = struct.unpack("!H", hdr)[0]
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    return
                data += chunk
            r = respond(data, True)
            if r is None:
                continue
            if r == b"":
                return
            conn.sendall(struct.pack("!H", len(r)) + r)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(64)
    threading.Thread(target=udp_loop, args=(udp,), daemon=True).start()
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, sys.argv[1])
    while True:
        conn, _ = tcp.accept()
        threading.Thread(target=tcp_conn, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
