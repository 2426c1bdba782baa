"""The main job: refine real MediaPipe keypoints with the packaged pretrained weights.

Runs offline: the keypoints (examples/data/demo_mediapipe33.npz, MediaPipe Pose on the
sports2d demo video) and the weights ship with the project.

    python examples/quickstart.py [--plot out.png]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from hanet_refine import refine
from hanet_refine.layouts import convert
from hanet_refine.metrics import mean_acceleration

DATA = Path(__file__).parent / "data" / "demo_mediapipe33.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plot", default=None, help="write a before/after trajectory plot (needs matplotlib)")
    args = parser.parse_args()

    with np.load(DATA, allow_pickle=False) as data:
        # Frames 3-168: one person (MediaPipe switches to another person at frame 169).
        landmarks, visibility, fps = data["landmarks"][3:169], data["visibility"][3:169], float(data["fps"])
    # MediaPipe's 33 landmarks to COCO-17 by joint name; visibility serves as the confidence.
    points = convert(landmarks, "mediapipe33", "coco17")
    conf = convert(visibility[..., None], "mediapipe33", "coco17")[..., 0]
    keypoints = np.concatenate([points, conf[..., None]], axis=-1)  # (T, 17, 3)

    started = time.perf_counter()
    refined = refine(keypoints, kind="2d", fps=fps)
    seconds = time.perf_counter() - started

    seen = np.isfinite(points).all(-1) & (conf >= 0.3)
    moved = np.linalg.norm(refined[..., :2] - points, axis=-1)[seen]
    print(f"refined {len(points)} frames of {points.shape[1]} COCO-17 keypoints in {seconds:.2f} s "
          f"(first call includes loading the model)")
    print(f"jitter (mean acceleration, px/frame^2): input {mean_acceleration(points, mask=seen):.2f} "
          f"-> refined {mean_acceleration(refined[..., :2]):.2f}")
    print(f"refined points moved from the observed ones by {np.median(moved):.1f} px (median), "
          f"{np.percentile(moved, 95):.1f} px (95th percentile)")
    if args.plot:
        from hanet_refine.render import plot_trajectories

        plot_trajectories({"MediaPipe": points, "hanet_refine": refined[..., :2]}, "coco17",
                          ["left_wrist", "right_wrist", "left_ankle", "right_ankle"], args.plot, fps=fps)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
