"""Peer figures for `splatpod-server sfm`: COLMAP's whole SfM pipeline (pycolmap, CPU) on the
Strecha scenes, timed per stage and scored against the ground-truth cameras with the protocol of
Splatpod's `src/sfm/evaluate.rs`.

Per scene and mode, from a fresh database in --work:
- `extract_features`: SIFT, at most --max-features per image, images downscaled so the longer
  side is at most --max-side (COLMAP's own reader), camera model SIMPLE_RADIAL, one camera shared
  by all images (CameraMode.SINGLE), all threads (num_threads = -1);
- `match_exhaustive`: COLMAP's default SIFT matching and two-view geometric verification;
- `incremental_mapping` (IncrementalPipelineOptions) or `global_mapping` (GLOMAP inside COLMAP 4,
  GlobalPipelineOptions), defaults, all threads.
`ms_*` are the wall-clock times of these three calls; `ms_total` is the wall time from the first
call's start to the last call's end. Extraction and matching are redone for every mode, so each
mode's figures are a whole pipeline run (as the reference figures in shared/peers/README.md).

Evaluation (of the model with the most registered images; ties by 3D points):
- images are matched by name to `gt_cameras/NAME.camera` (`0000.jpg` -> `0000.jpg.camera`);
  ground truth: camera-to-world rotation R and centre C (x ~ K [R^T | -R^T C] X);
- alignment x_gt = s R_a x_est + t fitted to the camera centres (Umeyama 1991, reflection
  corrected), made robust exactly as Splatpod's `robust_similarity`: least median of squares
  over every triple of cameras (all cameras' fit included as a candidate), robust sigma =
  1.4826 (1 + 5/(n - 3)) sqrt(median), inliers within 2.5 sigma, refit on the inliers twice.
  With every camera registered and none wrong this is the all-camera fit on its inliers;
- rotation error: angle of R_gt (R_a R_est)^T in degrees, R_est the estimated camera-to-world
  rotation (cam_from_world rotation transposed);
- centre error: |s R_a c_est + t - c_gt| / extent, extent = largest distance between two
  ground-truth centres (all reference images);
- `mean_reprojection_px`: pycolmap's `Reconstruction.compute_mean_reprojection_error()` (mean
  over points of each point's mean track error); `reprojection_px`: over every observation,
  |project(point) - xy| with the image's camera (distortion included), as Splatpod counts it;
  observations behind their camera are counted apart.

Prints one JSON object. Needs: pycolmap, numpy.
Usage: sfm_colmap.py --datasets ../shared/datasets \
    --scenes strecha-fountain-P11,strecha-Herz-Jesus-P8,strecha-entry-P10 \
    --modes incremental,global [--max-side 1600 --max-features 8192] [--work /tmp/colmap-work]
"""
import argparse
import itertools
import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import pycolmap


# ----------------------------------------------------------------------------- ground truth

def read_gt(scene_dir):
    """{image name: (R camera-to-world, C)} from gt_cameras/*.camera."""
    out = {}
    for path in sorted((Path(scene_dir) / "gt_cameras").glob("*.camera")):
        v = [float(t) for t in path.read_text().split()]
        r = np.array(v[12:21]).reshape(3, 3)
        c = np.array(v[21:24])
        out[path.name[: -len(".camera")]] = (r, c)
    return out


# ----------------------------------------------------------------------------- alignment

def _spread_in_two_directions(p):
    d = p - p.mean(0)
    ev = np.sort(np.linalg.eigvalsh(d.T @ d))[::-1]
    return ev[0] > 0.0 and ev[1] > 1e-10 * ev[0]


def umeyama(a, b):
    """(s, R, t) minimising sum |s R a_i + t - b_i|^2; None if degenerate."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) != len(b) or len(a) < 3:
        return None
    ma, mb = a.mean(0), b.mean(0)
    da, db = a - ma, b - mb
    var_a = (da * da).sum()
    if not (var_a > 0 and (db * db).sum() > 0):
        return None
    if not (_spread_in_two_directions(a) and _spread_in_two_directions(b)):
        return None
    cov = db.T @ da
    u, sv, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[np.argmin(sv)] = -1.0
    rot = u @ np.diag(d) @ vt
    scale = float(sv @ d) / var_a
    if not (scale > 0 and np.isfinite(scale)):
        return None
    return scale, rot, mb - scale * rot @ ma


def apply(sim, x):
    s, r, t = sim
    return s * (np.asarray(x) @ r.T) + t


def robust_similarity(a, b, max_triples=20000):
    """LMedS over camera triples, then 2.5-sigma inliers and two refits (see module doc)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    n = len(a)
    best_sim = umeyama(a, b)
    if best_sim is None:
        return None
    if n <= 3:
        return best_sim, np.ones(n, bool)
    res2 = lambda sim: ((apply(sim, a) - b) ** 2).sum(1)
    med = lambda r: np.partition(r, n // 2)[n // 2]  # upper median, as Splatpod
    best = med(res2(best_sim))
    if n * (n - 1) * (n - 2) // 6 <= max_triples:
        triples = itertools.combinations(range(n), 3)
    else:
        rng = np.random.default_rng(0x5EED5A1E)
        triples = (tuple(rng.integers(0, n, 3)) for _ in range(max_triples))
    for tri in triples:
        if len(set(tri)) < 3:
            continue
        idx = list(tri)
        sim = umeyama(a[idx], b[idx])
        if sim is None:
            continue
        m = med(res2(sim))
        if m < best:
            best, best_sim = m, sim
    spread = np.linalg.norm(b - b.mean(0), axis=1).max()
    sigma = 1.4826 * (1.0 + 5.0 / (n - 3)) * np.sqrt(best)
    threshold = max(2.5 * sigma, 1e-9 * spread)
    sim = best_sim
    for _ in range(2):
        keep = np.sqrt(res2(sim)) <= threshold
        refit = umeyama(a[keep], b[keep])
        if refit is None:
            break
        sim = refit
    return sim, np.sqrt(res2(sim)) <= threshold


def rotation_angle_deg(r):
    sin = np.linalg.norm([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]]) / 2.0
    cos = (np.trace(r) - 1.0) / 2.0
    return float(np.degrees(np.arctan2(sin, cos)))


def stats(values):
    if len(values) == 0:
        return None
    v = np.asarray(values, float)
    return {"median": float(np.median(v)), "mean": float(v.mean()), "max": float(v.max())}


# ----------------------------------------------------------------------------- evaluation

def reprojection(rec):
    errors, behind = [], 0
    for image_id in rec.reg_image_ids():
        image = rec.image(image_id)
        cam = rec.camera(image.camera_id)
        pose = image.cam_from_world().matrix()
        xy, xyz = [], []
        for p in image.points2D:
            if p.has_point3D():
                xy.append(p.xy)
                xyz.append(rec.point3D(p.point3D_id).xyz)
        if not xy:
            continue
        xc = np.asarray(xyz) @ pose[:, :3].T + pose[:, 3]
        front = xc[:, 2] > 0
        behind += int((~front).sum())
        if front.any():
            proj = cam.img_from_cam(np.ascontiguousarray(xc[front]), check_cheirality=False)
            errors.append(np.linalg.norm(proj - np.asarray(xy)[front], axis=1))
    all_err = np.concatenate(errors) if errors else np.zeros(0)
    return {"error": stats(all_err), "observations": int(len(all_err)), "behind_camera": behind}


def evaluate(rec, gt):
    names = sorted(gt)
    centres = np.array([gt[k][1] for k in names])
    extent = max(np.linalg.norm(p - q) for p, q in itertools.combinations(centres, 2))
    est = {}
    for image_id in rec.reg_image_ids():
        image = rec.image(image_id)
        est[image.name] = (image.cam_from_world().rotation.matrix().T,
                           np.asarray(image.projection_center()).reshape(3))
    matched = sorted(k for k in est if k in gt)
    out = {
        "reference_count": len(gt),
        "matched_count": len(matched),
        "missing": sorted(set(gt) - set(est)),
        "unreferenced": sorted(set(est) - set(gt)),
        "scene_extent": float(extent),
        "points3d": int(rec.num_points3D()),
        "mean_reprojection_px": float(rec.compute_mean_reprojection_error()),
        "reprojection_px": reprojection(rec),
    }
    fit = robust_similarity([est[k][1] for k in matched], [gt[k][1] for k in matched]) \
        if len(matched) >= 3 else None
    if fit is None:
        out["error"] = "fewer than 3 matched images or degenerate camera centres: no alignment"
        return out
    sim, inliers = fit
    s, ra, t = sim
    per_image = []
    for k, inl in zip(matched, inliers):
        r_est, c_est = est[k]
        r_gt, c_gt = gt[k]
        per_image.append({
            "name": k,
            "rotation_deg": rotation_angle_deg(r_gt @ (ra @ r_est).T),
            "center_error": float(np.linalg.norm(apply(sim, c_est) - c_gt) / extent),
            "inlier": bool(inl),
        })
    out.update({
        "alignment": {"scale": float(s), "rotation": ra.tolist(), "translation": t.tolist()},
        "alignment_inliers": int(inliers.sum()),
        "rotation_error_deg": stats([p["rotation_deg"] for p in per_image]),
        "center_error": stats([p["center_error"] for p in per_image]),
        "images": per_image,
    })
    return out


# ----------------------------------------------------------------------------- pipeline

def run(scene_dir, mode, work, max_side, max_features, device):
    image_dir = Path(scene_dir) / "images"
    names = sorted(p.name for p in image_dir.glob("*.jpg"))
    work = Path(work) / f"{Path(scene_dir).name}-{mode}"
    shutil.rmtree(work, ignore_errors=True)
    (work / "sparse").mkdir(parents=True)
    db = work / "database.db"

    reader = pycolmap.ImageReaderOptions()
    reader.camera_model = "SIMPLE_RADIAL"
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = -1
    extraction.max_image_size = max_side
    extraction.sift.max_num_features = max_features
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = -1

    t0 = time.perf_counter()
    pycolmap.extract_features(db, image_dir, image_names=names, camera_mode=pycolmap.CameraMode.SINGLE,
                              reader_options=reader, extraction_options=extraction, device=device)
    t1 = time.perf_counter()
    pycolmap.match_exhaustive(db, matching_options=matching, device=device)
    t2 = time.perf_counter()
    if mode == "incremental":
        options = pycolmap.IncrementalPipelineOptions()
        options.num_threads = -1
        models = pycolmap.incremental_mapping(db, image_dir, work / "sparse", options=options)
    elif mode == "global":
        if not hasattr(pycolmap, "global_mapping"):
            return {"error": f"pycolmap {pycolmap.__version__} has no global_mapping"}
        options = pycolmap.GlobalPipelineOptions()
        options.num_threads = -1
        models = pycolmap.global_mapping(db, image_dir, work / "sparse", options=options)
    else:
        raise SystemExit(f"unknown mode {mode!r} (incremental, global)")
    t3 = time.perf_counter()

    out = {
        "ms_features": round((t1 - t0) * 1e3, 1),
        "ms_matching": round((t2 - t1) * 1e3, 1),
        "ms_mapping": round((t3 - t2) * 1e3, 1),
        "ms_total": round((t3 - t0) * 1e3, 1),
        "images": len(names),
        "models": len(models),
    }
    if not models:
        out.update(registered=0, error="no model reconstructed")
        return out
    rec = max(models.values(), key=lambda r: (r.num_reg_images(), r.num_points3D()))
    out["registered"] = int(rec.num_reg_images())
    cams = [rec.camera(i) for i in rec.cameras]
    out["cameras"] = [{"model": c.model.name, "params": [float(x) for x in c.params]} for c in cams]
    out["evaluation"] = evaluate(rec, read_gt(scene_dir))
    return out


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", required=True)
    ap.add_argument("--scenes", default="strecha-fountain-P11,strecha-Herz-Jesus-P8,strecha-entry-P10")
    ap.add_argument("--modes", default="incremental,global")
    ap.add_argument("--max-side", type=int, default=1600)
    ap.add_argument("--max-features", type=int, default=8192)
    ap.add_argument("--work", default="/tmp/colmap-work")
    ap.add_argument("--device", default="cpu", choices=["cpu", "auto", "cuda"],
                    help="for extraction and matching (the PyPI wheel is CPU-only)")
    ap.add_argument("--verbose", action="store_true", help="keep COLMAP's log on stderr")
    args = ap.parse_args()
    if not args.verbose:
        pycolmap.logging.minloglevel = 2  # warnings and errors only
    device = getattr(pycolmap.Device, args.device)
    out = {
        "peer": f"COLMAP {pycolmap.__version__} via pycolmap (SIFT max {args.max_features} at "
                f"{args.max_side} px, SIMPLE_RADIAL single camera, exhaustive matching)",
        "colmap_version": pycolmap.__version__,
        "colmap_build": getattr(pycolmap, "COLMAP_build", ""),
        "threads": os.cpu_count(),
        "cpu": cpu_model(),
        "device": args.device,
        "max_side": args.max_side,
        "max_features": args.max_features,
        "scenes": {},
    }
    for scene in args.scenes.split(","):
        out["scenes"][scene] = {}
        for mode in args.modes.split(","):
            try:
                result = run(Path(args.datasets) / scene, mode, args.work,
                             args.max_side, args.max_features, device)
            except Exception as e:  # report, keep going with the other runs
                result = {"error": f"{type(e).__name__}: {e}"}
            out["scenes"][scene][mode] = result
    print(json.dumps(out))


if __name__ == "__main__":
    main()
