#!/usr/bin/env python3
"""A small 3DGS PLY (a ring of coloured splats, 2,000 of them) on standard output, as the scene
of the project that the Lighthouse report shares; standard library only.

    python3 scene.py > scene.ply
"""
import math
import random
import struct
import sys

N = 2000
PROPS = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
         "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]

rng = random.Random(7)
out = sys.stdout.buffer
header = ["ply", "format binary_little_endian 1.0", f"element vertex {N}"]
header += [f"property float {p}" for p in PROPS]
header.append("end_header")
out.write(("\n".join(header) + "\n").encode())
for i in range(N):
    a = 2 * math.pi * i / N
    r = 1.0 + 0.1 * rng.random()
    x, y, z = r * math.cos(a), 0.2 * rng.uniform(-1, 1), r * math.sin(a)
    # SH DC of a hue around the ring, opacity logit 2, scale log(0.03).
    dc = [(0.5 + 0.5 * math.cos(a + k * 2.1) - 0.5) / 0.28209479 for k in range(3)]
    out.write(struct.pack("<14f", x, y, z, *dc, 2.0, *(3 * [math.log(0.03)]), 1, 0, 0, 0))
