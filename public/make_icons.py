"""Writes the PWA icons (public/icons/*.png) with the standard library alone.

A night-blue field with three soft, overlapping Gaussian 'splats'. The maskable variant keeps the
splats inside the central 80 % safe zone. Run once when the design changes; the PNGs are committed.
"""
import math
import struct
import zlib
from pathlib import Path

SPLATS = [  # centre x, centre y, sigma (fractions of the size), colour
    (0.40, 0.45, 0.16, (255, 140, 66)),
    (0.60, 0.42, 0.13, (86, 204, 242)),
    (0.50, 0.63, 0.14, (187, 107, 217)),
]
BG = (16, 24, 48)


def pixel(x, y, size, scale):
    r, g, b = (float(c) for c in BG)
    for cx, cy, s, col in SPLATS:
        cx = 0.5 + (cx - 0.5) * scale
        cy = 0.5 + (cy - 0.5) * scale
        s = s * scale
        dx, dy = x / size - cx, y / size - cy
        a = 0.92 * math.exp(-(dx * dx + dy * dy) / (2 * s * s))
        r, g, b = (r * (1 - a) + col[0] * a, g * (1 - a) + col[1] * a, b * (1 - a) + col[2] * a)
    return bytes((int(r), int(g), int(b)))


def png(size, scale):
    rows = b"".join(b"\0" + b"".join(pixel(x, y, size, scale) for x in range(size)) for y in range(size))
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


out = Path(__file__).resolve().parent / "icons"
out.mkdir(parents=True, exist_ok=True)
for size in (192, 512):
    (out / f"icon-{size}.png").write_bytes(png(size, 1.0))
    (out / f"icon-maskable-{size}.png").write_bytes(png(size, 0.75))
print("icons written to", out)
