#!/usr/bin/env python3
"""Exit 0 when two PNGs written by `viper generate` hold the same pixels (their IDAT data: the same encoder wrote both),
whatever their text chunks say; 1 otherwise. Used by tools/device/run.sh to compare a placed run with a one-device run."""
import struct
import sys
import zlib


def pixels(path):
    data = open(path, "rb").read()
    at, idat = 8, b""
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            idat += data[at + 8:at + 8 + length]
        at += 12 + length
    return zlib.decompress(idat)


a, b = pixels(sys.argv[1]), pixels(sys.argv[2])
print(f"{sys.argv[1]} and {sys.argv[2]}: {'the same pixels' if a == b else 'different pixels'} ({len(a)} bytes)")
sys.exit(0 if a == b else 1)
