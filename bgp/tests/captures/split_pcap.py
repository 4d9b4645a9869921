#!/usr/bin/env python3
"""Splits the BGP streams of a pcap (from capture.sh) into one file per BGP message.

Reassembles each TCP direction by sequence number (retransmissions dropped), cuts the byte
stream at the BGP header lengths, and writes OUT/<from>-to-<to>-<transport>[-N]/<NNN>-<type>.bin plus a
MANIFEST line per file. Reads the pcap itself (no tshark needed).
"""
import os
import socket
import struct
import sys

NAMES = {
    "10.12.0.1": "bird", "2001:db8:12::1": "bird", "10.13.0.1": "bird", "2001:db8:13::1": "bird",
    "10.12.0.2": "gobgp", "2001:db8:12::2": "gobgp",
    "10.13.0.3": "frr", "2001:db8:13::3": "frr",
}
TYPES = {1: "open", 2: "update", 3: "notification", 4: "keepalive", 5: "route-refresh"}


def packets(pcap):
    """Yields (src, sport, dst, dport, seq, payload) of TCP segments with data, from a
    classic pcap of link type LINUX_SLL (113), LINUX_SLL2 (276) or Ethernet (1)."""
    with open(pcap, "rb") as f:
        data = f.read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if linktype == 113:
            proto, ip = struct.unpack(">H", frame[14:16])[0], frame[16:]
        elif linktype == 276:
            proto, ip = struct.unpack(">H", frame[0:2])[0], frame[20:]
        elif linktype == 1:
            proto, ip = struct.unpack(">H", frame[12:14])[0], frame[14:]
        else:
            raise SystemExit(f"unsupported pcap link type {linktype}")
        if proto == 0x0800 and ip[9] == 6:
            ihl = (ip[0] & 0x0F) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            src, dst = socket.inet_ntop(socket.AF_INET, ip[12:16]), socket.inet_ntop(socket.AF_INET, ip[16:20])
            tcp = ip[ihl:total]
        elif proto == 0x86DD and ip[6] == 6:
            plen = struct.unpack(">H", ip[4:6])[0]
            src, dst = socket.inet_ntop(socket.AF_INET6, ip[8:24]), socket.inet_ntop(socket.AF_INET6, ip[24:40])
            tcp = ip[40:40 + plen]
        else:
            continue
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            yield src, str(sport), dst, str(dport), seq, payload


def main(pcap, out):
    streams = {}
    for src, sport, dst, dport, seq, payload in packets(pcap):
        segs = streams.setdefault((src, sport, dst, dport), {})
        segs.setdefault(seq, payload)
    os.makedirs(out, exist_ok=True)
    manifest = []
    used = {}
    for (src, sport, dst, dport), segs in streams.items():
        data = b""
        expected = None
        for seq in sorted(segs):
            chunk = segs[seq]
            if expected is not None and seq < expected:
                chunk = chunk[expected - seq:]  # overlap from a retransmission
            data += chunk
            expected = seq + len(segs[seq]) if expected is None else max(expected, seq + len(segs[seq]))
        transport = "ipv6" if ":" in src else "ipv4"
        base = f"{NAMES.get(src, src)}-to-{NAMES.get(dst, dst)}-{transport}"
        used[base] = used.get(base, 0) + 1
        name = base if used[base] == 1 else f"{base}-{used[base]}"
        os.makedirs(os.path.join(out, name), exist_ok=True)
        i = 0
        n = 0
        keepalives = 0
        while i + 19 <= len(data):
            length = int.from_bytes(data[i + 16:i + 18], "big")
            if length < 19 or i + length > len(data):
                break
            kind = TYPES.get(data[i + 18], f"type{data[i + 18]}")
            if kind == "keepalive" and keepalives:
                i += length  # one KEEPALIVE per stream is enough
                continue
            keepalives += kind == "keepalive"
            path = os.path.join(name, f"{n:03}-{kind}.bin")
            with open(os.path.join(out, path), "wb") as f:
                f.write(data[i:i + length])
            manifest.append(f"{path}\t{src}:{sport} -> {dst}:{dport}\t{length} octets")
            i += length
            n += 1
    with open(os.path.join(out, "MANIFEST"), "w") as f:
        f.write("\n".join(sorted(manifest)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
