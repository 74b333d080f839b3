"""Peer figures for bench/results/features.json: COLMAP's SIFT (pycolmap, CPU) on the Strecha
pairs, matched exactly as Splatpod matches (descriptors quantised to u8 as min(255, round(512 v)),
exact squared-L2 nearest two, Lowe ratio 0.8, mutual check), scored by the fraction of matches
within 2 px of the ground-truth epipolar line.

Images are converted to 8-bit luma and resized so the longer side is --max-side (bilinear with
antialiasing), as Splatpod's decoder does. COLMAP keypoints already put pixel centres at +0.5,
the convention of the Strecha K matrices. Prints one JSON object. Needs: pycolmap, pillow, numpy.
Usage: colmap_match.py --datasets ../shared/datasets --pairs strecha-fountain-P11:4:5,...
"""
import argparse
import json
from pathlib import Path

import numpy as np
import pycolmap
from PIL import Image


def camera(path):
    v = [float(t) for t in Path(path).read_text().split()]
    k = np.array(v[0:9]).reshape(3, 3)
    r = np.array(v[12:21]).reshape(3, 3)
    c = np.array(v[21:24])
    return k, r, c, v[24]


def fundamental(a, b, scale):
    s = np.diag([scale, scale, 1.0])
    ka, kb = s @ a[0], s @ b[0]
    r = b[1].T @ a[1]
    t = b[1].T @ (a[2] - b[2])
    tx = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    return np.linalg.inv(kb).T @ tx @ r @ np.linalg.inv(ka)


def features(extractor, path, max_side):
    img = Image.open(path).convert("L")
    scale = min(1.0, max_side / max(img.size))
    if scale < 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
    kp, desc = extractor.extract(np.ascontiguousarray(np.asarray(img, dtype=np.uint8)))
    q = np.clip(np.round(desc * 512.0), 0, 255).astype(np.int64)
    return kp[:, :2].astype(np.float64), q, scale


def nearest_two(a, b):
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    order = np.argsort(d, axis=1, kind="stable")[:, :2]
    best = d[np.arange(len(a)), order[:, 0]]
    second = d[np.arange(len(a)), order[:, 1]] if b.shape[0] > 1 else np.full(len(a), np.inf)
    return order[:, 0], best, second


def match(a, b, ratio=0.8):
    i_ab, best, second = nearest_two(a, b)
    i_ba, _, _ = nearest_two(b, a)
    keep = (best < ratio * ratio * second) & (i_ba[i_ab] == np.arange(len(a)))
    return np.nonzero(keep)[0], i_ab[keep]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", required=True)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--max-side", type=int, default=768)
    ap.add_argument("--max-features", type=int, default=4000)
    args = ap.parse_args()
    options = pycolmap.FeatureExtractionOptions()
    options.sift.max_num_features = args.max_features
    extractor = pycolmap.Sift(options, pycolmap.Device.cpu)
    out = {"peer": f"COLMAP SIFT via pycolmap {pycolmap.__version__} (CPU, defaults, max {args.max_features} features)", "pairs": {}}
    for spec in args.pairs.split(","):
        scene, i, j = spec.split(":")
        root = Path(args.datasets) / scene
        name = lambda k: f"{int(k):04d}.jpg"
        pa, da, scale = features(extractor, root / "images" / name(i), args.max_side)
        pb, db, _ = features(extractor, root / "images" / name(j), args.max_side)
        f = fundamental(camera(root / "gt_cameras" / f"{name(i)}.camera"), camera(root / "gt_cameras" / f"{name(j)}.camera"), scale)
        qa, qb = match(da, db)
        x = np.c_[pa[qa], np.ones(len(qa))]
        y = np.c_[pb[qb], np.ones(len(qb))]
        lines = x @ f.T
        dist = np.abs((y * lines).sum(1)) / np.hypot(lines[:, 0], lines[:, 1])
        out["pairs"][spec] = {"matches": int(len(qa)), "within_2px": float((dist <= 2.0).mean()) if len(qa) else 0.0}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
