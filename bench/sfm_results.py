"""Merges a Structure-from-Motion benchmark run into bench/results/sfm.json: Splatpod's
`sfm.json` files (bench/sfm.sh ours) beside COLMAP's (bench/sfm.sh colmap, pycolmap) for the
same scenes on the same machine, with the time ratio against COLMAP's faster mode.

Usage: sfm_results.py --machine KEY --device TEXT --commit SHA --ours DIR [--colmap FILE]
       [--out bench/results/sfm.json]
Entries of other machines already in the output file are kept.
"""
import argparse
import json
from pathlib import Path


def ours_entry(d):
    e = d.get("evaluation") or {}
    rot = e.get("rotation_error_deg") or {}
    cen = e.get("center_error") or {}
    rep = (e.get("reprojection") or {}).get("error_px") or {}
    return {
        "images": d["photos"],
        "registered": d["registered"],
        "points3d": d["points"],
        "rotation_error_deg_median": rot.get("median"),
        "rotation_error_deg_max": rot.get("max"),
        "center_error_pct_extent_median": None if cen.get("median") is None else 100 * cen["median"],
        "center_error_pct_extent_max": None if cen.get("max") is None else 100 * cen["max"],
        "reprojection_px_mean": rep.get("mean"),
        "ms_features": d["ms_features"],
        "ms_matching": d["ms_matching"],
        "ms_verification": d.get("ms_verification"),
        "ms_mapping": d["ms_mapping"],
        "ms_bundle_adjustment": d.get("ms_bundle_adjustment"),
        "ms_total": d["ms_total"],
        "unregistered": d.get("unregistered", []),
    }


def colmap_entry(r):
    e = r.get("evaluation") or {}
    rot = e.get("rotation_error_deg") or {}
    cen = e.get("center_error") or {}
    return {
        "images": r["images"],
        "registered": r["registered"],
        "points3d": e.get("points3d"),
        "rotation_error_deg_median": rot.get("median"),
        "rotation_error_deg_max": rot.get("max"),
        "center_error_pct_extent_median": None if cen.get("median") is None else 100 * cen["median"],
        "center_error_pct_extent_max": None if cen.get("max") is None else 100 * cen["max"],
        "reprojection_px_mean": e.get("mean_reprojection_px"),
        "ms_features": r["ms_features"],
        "ms_matching": r["ms_matching"],
        "ms_mapping": r["ms_mapping"],
        "ms_total": r["ms_total"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--machine", required=True, help="e.g. h200 or 2core")
    ap.add_argument("--device", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--colmap")
    ap.add_argument("--note", default="")
    ap.add_argument("--out", default="bench/results/sfm.json")
    a = ap.parse_args()
    out = Path(a.out)
    doc = json.loads(out.read_text()) if out.exists() else {}
    colmap = json.loads(Path(a.colmap).read_text()) if a.colmap else None
    scenes = {}
    for f in sorted(Path(a.ours).glob("sfm-*.json")):
        name = f.stem[len("sfm-"):]
        entry = {"ours": ours_entry(json.loads(f.read_text()))}
        peer = (colmap or {}).get("scenes", {}).get(name)
        if peer:
            modes = {m: colmap_entry(r) for m, r in peer.items()}
            entry["colmap"] = modes
            best = min(modes.values(), key=lambda m: m["ms_total"])
            entry["time_ratio_ours_to_colmap_best"] = entry["ours"]["ms_total"] / best["ms_total"]
            entry["rotation_error_ratio_ours_to_colmap_best"] = (
                entry["ours"]["rotation_error_deg_median"] / best["rotation_error_deg_median"]
            )
        scenes[name] = entry
    doc.setdefault("machines", {})[a.machine] = {
        "device": a.device,
        "commit": a.commit,
        "peer": None if colmap is None else colmap.get("peer"),
        "peer_threads": None if colmap is None else colmap.get("threads"),
        "peer_cpu": None if colmap is None else colmap.get("cpu"),
        "note": a.note,
        "scenes": scenes,
    }
    doc["protocol"] = (
        "Splatpod `splatpod-server sfm` (medium preset: GPU SIFT, max 8192 features, 1600 px; "
        "exhaustive pairs for Strecha, sequential (10) for ngp-fox) vs COLMAP 4.2.1 via pycolmap "
        "(SIFT max 8192 at 1600 px, SIMPLE_RADIAL single camera, exhaustive matching, "
        "incremental and global mapping) on the same photos and machine. Errors after a robust "
        "similarity alignment to the reference cameras (Strecha: laser-registered ground truth; "
        "ngp-fox: COLMAP's poses in transforms.json); centre error as a percentage of the largest "
        "distance between two reference cameras. ratio < 1: Splatpod faster."
    )
    out.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc["machines"][a.machine], indent=1)[:3000])


if __name__ == "__main__":
    main()
