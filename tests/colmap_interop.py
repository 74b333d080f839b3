#!/usr/bin/env python3
"""Reads a COLMAP sparse model with pycolmap (COLMAP's own reader) and prints it as JSON, so the
Rust tests (tests/sfm_interop.rs) can check that COLMAP reads exactly what Splatpod wrote.

Usage: colmap_interop.py MODEL_DIR [--write-binary DIR] [--write-text DIR]
The options also write the model back with pycolmap, for Splatpod to read COLMAP's output.
"""

import argparse
import json
import os
import sys

import pycolmap


def model_as_dict(rec):
    cameras = []
    for camera_id in sorted(rec.cameras):
        camera = rec.cameras[camera_id]
        cameras.append(
            {
                "id": camera_id,
                "model": camera.model.name,
                "width": camera.width,
                "height": camera.height,
                "params": [float(p) for p in camera.params],
            }
        )
    images = []
    for image_id in sorted(rec.images):
        image = rec.images[image_id]
        pose = image.cam_from_world()
        x, y, z, w = (float(v) for v in pose.rotation.quat)
        images.append(
            {
                "id": image_id,
                "name": image.name,
                "camera_id": image.camera_id,
                "qvec": [w, x, y, z],
                "tvec": [float(v) for v in pose.translation],
                "num_points2D": image.num_points2D(),
                "points2D": [
                    [float(p.xy[0]), float(p.xy[1]), p.point3D_id if p.has_point3D() else -1]
                    for p in image.points2D
                ],
            }
        )
    points3d = []
    for point3d_id in sorted(rec.points3D):
        point = rec.points3D[point3d_id]
        points3d.append(
            {
                "id": point3d_id,
                "xyz": [float(v) for v in point.xyz],
                "color": [int(v) for v in point.color],
                "error": float(point.error),
                "track_length": point.track.length(),
                "track": [[el.image_id, el.point2D_idx] for el in point.track.elements],
            }
        )
    return {
        "num_cameras": rec.num_cameras(),
        "num_images": rec.num_images(),
        "num_points3D": rec.num_points3D(),
        "cameras": cameras,
        "images": images,
        "points3D": points3d,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir")
    parser.add_argument("--write-binary", metavar="DIR")
    parser.add_argument("--write-text", metavar="DIR")
    args = parser.parse_args()

    rec = pycolmap.Reconstruction(args.model_dir)
    if args.write_binary:
        os.makedirs(args.write_binary, exist_ok=True)
        rec.write_binary(args.write_binary)
    if args.write_text:
        os.makedirs(args.write_text, exist_ok=True)
        rec.write_text(args.write_text)
    json.dump(model_as_dict(rec), sys.stdout)


if __name__ == "__main__":
    main()
