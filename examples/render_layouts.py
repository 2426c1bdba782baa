"""Draw every keypoint layout we derive from the mocap, on one real walking clip.

Regenerates docs/figures/layout_<name>.png (front and side views of a few frames), used to
check the mapping by eye: the face on the front of the head, feet pointing forward, the
actor's left (blue) on the viewer's right in the front view (the actor walks towards +z,
towards the viewer).

Usage (from the repository root):
    python examples/render_layouts.py [--mocap-dir DIR] [--out docs/figures]

The archive folder defaults to $HANET_MOCAP_DIR or ../shared/data/bandai-namco-motion.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hanet_refine.render import render_frames
from hanet_refine.train.bvh import archive_paths, iter_archive
from hanet_refine.train.kinematics import forward_kinematics
from hanet_refine.train.mocap_layouts import to_layout

CLIP = "dataset-1_walk_normal_001"
FRAMES = [20, 30, 40, 50]  # about one gait cycle
LAYOUTS = ("coco17", "body25", "h36m17", "smpl24", "halpe26", "mediapipe33")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mocap-dir", default=None, help="folder with the bandai-namco-motion-*.tar.xz archives"
    )
    parser.add_argument("--out", default="docs/figures", help="output folder")
    args = parser.parse_args()
    archive = next(p for p in archive_paths(args.mocap_dir) if "motion-1" in p.name)
    _, bvh = next(iter_archive(archive, [CLIP]))
    positions, rotations = forward_kinematics(bvh)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for layout in LAYOUTS:
        points = to_layout(positions, rotations, bvh.joint_names, layout)
        path = render_frames(
            points,
            layout,
            FRAMES,
            out / f"layout_{layout}.png",
            view=["front", "side"],
            title=f"{layout} from {CLIP} (blue = left, red = right)",
            panel_size=2.6,
            dpi=90,
        )
        print(f"{path}  {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
