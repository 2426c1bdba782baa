"""Stick-figure rendering: files are written, sides are coloured, bad input is refused."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from hanet_refine.layouts import get_layout
from hanet_refine.render import draw_skeleton, render_frames

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _coco_pose(t: int = 4) -> np.ndarray:
    """A standing COCO-17 figure in metres (y up, facing +z), swaying along x over time."""
    base = {
        "nose": (0, 1.6, 0.1),
        "left_eye": (0.03, 1.63, 0.08),
        "right_eye": (-0.03, 1.63, 0.08),
        "left_ear": (0.07, 1.6, 0),
        "right_ear": (-0.07, 1.6, 0),
        "left_shoulder": (0.18, 1.4, 0),
        "right_shoulder": (-0.18, 1.4, 0),
        "left_elbow": (0.2, 1.1, 0),
        "right_elbow": (-0.2, 1.1, 0),
        "left_wrist": (0.21, 0.85, 0.05),
        "right_wrist": (-0.21, 0.85, 0.05),
        "left_hip": (0.1, 0.9, 0),
        "right_hip": (-0.1, 0.9, 0),
        "left_knee": (0.1, 0.5, 0.02),
        "right_knee": (-0.1, 0.5, 0.02),
        "left_ankle": (0.1, 0.08, 0),
        "right_ankle": (-0.1, 0.08, 0),
    }
    pose = np.array([base[n] for n in get_layout("coco17").joints], dtype=float)
    return pose[None] + np.linspace(0, 0.3, t)[:, None, None] * np.array([1.0, 0, 0])


def _read_png(path):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    return data


def test_render_3d_views_writes_png(tmp_path):
    seq = _coco_pose()
    out = render_frames(seq, "coco17", [0, 2, -1], tmp_path / "walk.png", view=["front", "side", "top"])
    assert out == tmp_path / "walk.png"
    assert len(_read_png(out)) > 1000


def test_render_overlay_2d_with_images_and_missing_points(tmp_path):
    seq = _coco_pose()[..., :2] * -300 + 600  # pixels, y down
    noisy = seq + np.random.default_rng(0).normal(0, 5, seq.shape)
    noisy[1, 3:9] = np.nan  # missing keypoints are skipped, not drawn at 0
    images = [np.full((720, 1280, 3), 200, np.uint8)] * 2
    out = render_frames(
        {"noisy": noisy, "refined": seq}, "coco17", [0, 1], tmp_path / "cmp.png", image=images
    )
    assert len(_read_png(out)) > 1000


def test_draw_skeleton_colours_sides_and_skips_nan():
    layout = get_layout("coco17")
    pose = _coco_pose(1)[0]
    pose[layout.index("right_wrist")] = np.nan
    fig = Figure()
    ax = fig.add_subplot()
    draw_skeleton(ax, pose, layout, left_color="#0000ff", right_color="#ff0000", color="#00ff00")
    segments = {
        tuple(np.round(np.asarray(line.get_xydata()).ravel(), 6)): to_hex(line.get_color())
        for line in ax.get_lines()
    }

    def colour(a: str, b: str) -> str | None:
        pa, pb = pose[layout.index(a), :2], pose[layout.index(b), :2]  # front view: (x, y)
        return segments.get(tuple(np.round(np.r_[pa, pb], 6)))

    assert colour("left_knee", "left_ankle") == "#0000ff"
    assert colour("right_knee", "right_ankle") == "#ff0000"
    assert colour("left_shoulder", "right_shoulder") == "#00ff00"
    # One bone per edge, minus the bone to the missing right wrist.
    assert len(ax.get_lines()) == len(layout.edges) - 1


def test_draw_skeleton_image_coords_inverts_y_once():
    fig = Figure()
    ax = fig.add_subplot()
    pose = _coco_pose(1)[0, :, :2]
    draw_skeleton(ax, pose, "coco17", image_coords=True)
    draw_skeleton(ax, pose, "coco17", image_coords=True)
    assert ax.yaxis_inverted()


def test_bad_input(tmp_path):
    seq = _coco_pose()
    with pytest.raises(ValueError, match="unknown layout 'coco18'"):
        render_frames(seq, "coco18", [0], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"must have shape \(T, 25, 2 or 3\)"):
        render_frames(seq, "body25", [0], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"frames \[9\] out of range"):
        render_frames(seq, "coco17", [0, 9], tmp_path / "x.png")
    with pytest.raises(ValueError, match="view must be one of"):
        render_frames(seq, "coco17", [0], tmp_path / "x.png", view="back")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        render_frames(seq, "coco17", [0], tmp_path / "no" / "x.png")
    with pytest.raises(ValueError, match="2 images for 1 frames"):
        render_frames(seq[..., :2], "coco17", [0], tmp_path / "x.png", image=[np.zeros((4, 4))] * 2)
    with pytest.raises(ValueError, match=r"\(17, 2\) or \(17, 3\)"):
        draw_skeleton(Figure().add_subplot(), seq[0, :5], "coco17")
    assert not (tmp_path / "x.png").exists()


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib" fail
    with pytest.raises(ImportError, match=r'pip install "hanet-refine\[plot\]"'):
        render_frames(_coco_pose(), "coco17", [0], tmp_path / "x.png")
