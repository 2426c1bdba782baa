"""Stick-figure drawings of keypoints: one skeleton on an axes, or a PNG grid of frames.

Needs matplotlib (``pip install "hanet-refine[plot]"``); it is imported only when a function
here is called, and only its object-oriented API is used (no pyplot, no GUI backend), so this
works on headless machines and in threads.

Colours: the actor's left side is blue, the right side red, the centre grey (for a second or
third overlaid sequence, cyan/orange/green and purple/pink/brown). 3D points are drawn in
orthographic views of a y-up world, never mirrored: ``"front"`` looks along -z (x to the right,
so a person facing +z has their left on the viewer's right), ``"side"`` looks along +x (z to the
right), ``"top"`` looks down (x to the right, +z towards the bottom). NaN keypoints (missing)
and the bones touching them are skipped.

Example:
    >>> from hanet_refine.render import render_frames
    >>> render_frames({"noisy": noisy, "refined": refined}, "coco17", [0, 10, 20],
    ...               "compare.png", image_coords=True)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .layouts import Layout, get_layout

__all__ = ["VIEWS", "draw_skeleton", "plot_trajectories", "render_frames"]

#: Orthographic views of y-up 3D points: (horizontal, vertical) as (axis, sign) pairs.
VIEWS: dict[str, tuple[tuple[int, float], tuple[int, float]]] = {
    "front": ((0, 1.0), (1, 1.0)),  # x right, y up (seen from +z)
    "side": ((2, 1.0), (1, 1.0)),  # z right, y up (seen from -x)
    "top": ((0, 1.0), (2, -1.0)),  # x right, z down the page (seen from +y)
}

# (centre, left, right) colours for the 1st, 2nd, 3rd... overlaid sequence.
_PALETTE = (
    ("#555555", "#1f77b4", "#d62728"),
    ("#2ca02c", "#17becf", "#ff7f0e"),
    ("#8c564b", "#9467bd", "#e377c2"),
    ("#bcbd22", "#aec7e8", "#ff9896"),
)


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError('drawing keypoints needs matplotlib: pip install "hanet-refine[plot]"') from exc
    return matplotlib


def _side(name: str) -> int:
    """0 centre, 1 left, 2 right."""
    if name.startswith("left_") or name.endswith("_left"):
        return 1
    if name.startswith("right_") or name.endswith("_right"):
        return 2
    return 0


def _edge_side(a: int, b: int) -> int:
    if a == b:
        return a
    if 0 in (a, b):
        return max(a, b)  # centre-to-side bone takes the side's colour
    return 0  # left-to-right bone (e.g. shoulder to shoulder)


def _check_view(view: str) -> None:
    if view not in VIEWS:
        raise ValueError(f"view must be one of {list(VIEWS)}, got {view!r}")


def _project(points: np.ndarray, view: str) -> np.ndarray:
    """``(..., 3)`` -> ``(..., 2)`` orthographic view coordinates."""
    (h, hs), (v, vs) = VIEWS[view]
    return np.stack([hs * points[..., h], vs * points[..., v]], axis=-1)


def _check_points(points: Any, layout: Layout, what: str = "points") -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape != (layout.num_joints, arr.shape[-1]) or arr.shape[-1] not in (2, 3):
        raise ValueError(
            f"{what} for layout {layout.name!r} must have shape ({layout.num_joints}, 2) or "
            f"({layout.num_joints}, 3), got {arr.shape}"
        )
    return arr


def draw_skeleton(
    ax: Any,
    points: Any,
    layout: str | Layout,
    *,
    color: str | None = None,
    left_color: str | None = None,
    right_color: str | None = None,
    label: str | None = None,
    image_coords: bool = False,
    view: str = "front",
    linewidth: float = 2.0,
    marker_size: float = 10.0,
    alpha: float = 1.0,
) -> list[Any]:
    """Draw one skeleton on a matplotlib axes.

    Args:
        ax: a matplotlib ``Axes`` (2D), or a 3D axes (``projection="3d"``) for 3D points.
        points: ``(J, 2)`` or ``(J, 3)`` keypoints of ``layout``; NaN rows are skipped.
        layout: a layout name (``"coco17"``) or :class:`~hanet_refine.layouts.Layout`.
        color: centre joints and bones (default grey).
        left_color: the actor's left side (default blue).
        right_color: the actor's right side (default red).
        label: legend label (attached to the centre bones, once).
        image_coords: 2D points are pixels with y down: the y axis is inverted (once).
        view: for 3D points on a 2D axes, the orthographic view (see :data:`VIEWS`).
        linewidth: bone width in points.
        marker_size: joint marker area in points^2.
        alpha: opacity.

    Returns:
        The matplotlib artists created.

    Raises:
        ValueError: for an unknown layout or view, or points of the wrong shape.
        ImportError: if matplotlib is not installed.
    """
    _require_matplotlib()
    lay = get_layout(layout)
    pts = _check_points(points, lay)
    _check_view(view)
    colours = (color or _PALETTE[0][0], left_color or _PALETTE[0][1], right_color or _PALETTE[0][2])
    is_3d = getattr(ax, "name", "") == "3d"
    if pts.shape[1] == 3 and is_3d:
        # y-up data on matplotlib's z-up axes: (x, y, z) -> (x, -z, y) keeps handedness.
        pts = np.stack([pts[:, 0], -pts[:, 2], pts[:, 1]], axis=1)
    elif pts.shape[1] == 3:
        pts = _project(pts, view)
    ok = np.isfinite(pts).all(axis=1)
    sides = [_side(n) for n in lay.joints]
    artists: list[Any] = []
    labelled = False
    for a, b in lay.edges:
        if not (ok[a] and ok[b]):
            continue
        side = _edge_side(sides[a], sides[b])
        seg = pts[[a, b]].T
        lab = None
        if label is not None and not labelled and side == 0:
            lab, labelled = label, True
        artists += ax.plot(
            *seg, color=colours[side], linewidth=linewidth, alpha=alpha, solid_capstyle="round", label=lab
        )
    for side in (0, 1, 2):
        sel = ok & (np.array(sides) == side)
        if sel.any():
            lab = label if (label is not None and not labelled) else None
            labelled = labelled or lab is not None
            artists.append(
                ax.scatter(
                    *pts[sel].T,
                    s=marker_size,
                    color=colours[side],
                    alpha=alpha,
                    zorder=3,
                    label=lab,
                    edgecolors="none",
                )
            )
    if image_coords and not is_3d and not ax.yaxis_inverted():
        ax.invert_yaxis()
    return artists


def _as_sequences(sequences: Any) -> dict[str, np.ndarray]:
    if isinstance(sequences, Mapping):
        if not sequences:
            raise ValueError("sequences is empty: pass an array (T, J, D) or a dict label -> array")
        return {str(k): np.asarray(v, dtype=np.float64) for k, v in sequences.items()}
    return {"": np.asarray(sequences, dtype=np.float64)}


def render_frames(
    sequences: Mapping[str, Any] | Any,
    layout: str | Layout,
    frames: Sequence[int],
    path: str | os.PathLike[str],
    *,
    image: Any = None,
    view: str | Sequence[str] = "front",
    image_coords: bool | None = None,
    title: str | None = None,
    panel_size: float = 2.4,
    dpi: int = 100,
) -> Path:
    """Write a PNG grid of stick figures: one column per frame, one row per view.

    Args:
        sequences: a ``(T, J, D)`` array, or a dict ``label -> (T, J, D)`` overlaid in one
            panel (same D for all; D = 2 pixels or D = 3 world coordinates, y up).
        layout: the keypoint layout.
        frames: frame indices to draw.
        path: the PNG file to write (its folder must exist).
        image: 2D only: one background image ``(H, W[, 3])`` for all panels, or one per frame.
        view: 3D only: a view name or a list of them (rows), see :data:`VIEWS`.
        image_coords: 2D points are pixels with y down; default True for 2D.
        title: figure title.
        panel_size: inches per panel.
        dpi: resolution.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: for an unknown layout or view, arrays of the wrong shape, frames out of
            range, or images that do not match the frames.
        FileNotFoundError: if the folder of ``path`` does not exist.
        ImportError: if matplotlib is not installed.

    Example:
        >>> render_frames(points3d, "h36m17", [0, 30], "walk.png", view=["front", "side"])  # doctest: +SKIP
    """
    _require_matplotlib()
    from matplotlib.figure import Figure

    lay = get_layout(layout)
    seqs = _as_sequences(sequences)
    dims = set()
    for name, arr in seqs.items():
        if arr.ndim != 3 or arr.shape[1] != lay.num_joints or arr.shape[2] not in (2, 3):
            raise ValueError(
                f"sequence {name or '0'!r} for layout {lay.name!r} must have shape "
                f"(T, {lay.num_joints}, 2 or 3), got {arr.shape}"
            )
        dims.add(arr.shape[2])
    if len(dims) > 1:
        raise ValueError("all sequences must have the same number of coordinates (2 or 3)")
    dim = dims.pop()
    frames = [int(f) for f in frames]
    if not frames:
        raise ValueError("frames is empty: pass at least one frame index")
    for name, arr in seqs.items():
        bad = [f for f in frames if not -arr.shape[0] <= f < arr.shape[0]]
        if bad:
            raise ValueError(
                f"frames {bad} out of range for sequence {name or '0'!r} with {arr.shape[0]} frames"
            )
    views = [view] if isinstance(view, str) else list(view)
    for v in views:
        _check_view(v)
    if dim == 2 and len(views) > 1:
        raise ValueError("views apply to 3D points only; 2D sequences are drawn as they are")
    if dim == 3 and image is not None:
        raise ValueError("background images need 2D (pixel) keypoints")
    images: list[Any] | None = None
    if image is not None:
        if isinstance(image, (list, tuple)):
            if len(image) != len(frames):
                raise ValueError(
                    f"got {len(image)} images for {len(frames)} frames; pass one per frame or one for all"
                )
            images = list(image)
        else:
            images = [image] * len(frames)
    if image_coords is None:
        image_coords = dim == 2
    out = Path(path)
    if not out.parent.is_dir():
        raise FileNotFoundError(f"folder for {str(out)!r} does not exist; create it first")

    # One half-size for all panels (the largest body extent), each panel centred on the body.
    first = next(iter(seqs.values()))
    rows, cols = len(views), len(frames)
    aspect = 1.0
    if images is not None:
        shape = np.shape(images[0])
        if len(shape) < 2 or min(shape[:2]) == 0:
            raise ValueError(f"images must have shape (H, W) or (H, W, C), got {shape}")
        aspect = shape[1] / shape[0]
    fig = Figure(figsize=(panel_size * aspect * cols, panel_size * rows + (0.4 if title else 0.0)), dpi=dpi)
    axes = fig.subplots(rows, cols, squeeze=False)
    for r, v in enumerate(views):
        proj = {k: (a[frames] if dim == 2 else _project(a[frames], v)) for k, a in seqs.items()}
        stacked = np.concatenate(list(proj.values()), axis=1)  # (F, sum J, 2)
        with np.errstate(all="ignore"):
            lo, hi = np.nanmin(stacked, axis=1), np.nanmax(stacked, axis=1)
        half = np.nanmax(hi - lo) / 2 * 1.15 if np.isfinite(hi - lo).any() else 1.0
        half = half if half > 0 else 1.0
        for c, f in enumerate(frames):
            ax = axes[r, c]
            if images is not None:
                img = np.asarray(images[c])
                ax.imshow(img)
            for k, (name, arr) in enumerate(proj.items()):
                centre, left, right = _PALETTE[k % len(_PALETTE)]
                draw_skeleton(
                    ax,
                    arr[c],
                    lay,
                    color=centre,
                    left_color=left,
                    right_color=right,
                    label=(name or None) if c == 0 and r == 0 else None,
                    image_coords=image_coords,
                    alpha=0.9 if len(proj) > 1 else 1.0,
                )
            if images is None:
                mid = (lo[c] + hi[c]) / 2 if np.isfinite(lo[c]).all() else np.zeros(2)
                ax.set_xlim(mid[0] - half, mid[0] + half)
                if image_coords:
                    ax.set_ylim(mid[1] + half, mid[1] - half)
                else:
                    ax.set_ylim(mid[1] - half, mid[1] + half)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                f_shown = f if f >= 0 else first.shape[0] + f
                ax.set_title(f"frame {f_shown}", fontsize=9)
            if c == 0 and dim == 3:
                ax.set_ylabel(v, fontsize=9)
    if len(seqs) > 1 or next(iter(seqs)) != "":
        handles, labels = axes[0, 0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, labels, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.05 if len(seqs) > 1 else 0, 1, 1))
    fig.savefig(out, dpi=dpi)
    return out


def plot_trajectories(
    sequences: Mapping[str, Any],
    layout: str | Layout,
    joints: Sequence[str],
    path: str | os.PathLike[str],
    *,
    fps: float | None = None,
    dpi: int = 100,
) -> Path:
    """Write a PNG of the x and y coordinates of some joints over time, one line per sequence.

    Args:
        sequences: ``label -> (T, J, D)`` arrays to overlay (e.g. input and refined).
        layout: the keypoint layout.
        joints: joint names, one row of panels each.
        path: the PNG to write.
        fps: label the time axis in seconds instead of frames.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: for an unknown joint or an array of the wrong shape.
    """
    _require_matplotlib()
    from matplotlib.figure import Figure

    lay = get_layout(layout)
    seqs = _as_sequences(sequences)
    index = [lay.index(j) for j in joints]
    for name, arr in seqs.items():
        if arr.ndim != 3 or arr.shape[1] != lay.num_joints:
            raise ValueError(f"sequence {name!r} must have shape (T, {lay.num_joints}, D), got {arr.shape}")
    fig = Figure(figsize=(10, 1.9 * len(joints)), dpi=dpi)
    axes = fig.subplots(len(joints), 2, squeeze=False, sharex=True)
    for r, (name, j) in enumerate(zip(joints, index)):
        for c, axis in enumerate("xy"):
            ax = axes[r, c]
            for label, arr in seqs.items():
                t = np.arange(arr.shape[0]) / (fps or 1.0)
                ax.plot(t, arr[:, j, c], lw=1.0, label=label)
            ax.set_ylabel(f"{name} {axis}", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, loc="best")
    for ax in axes[-1]:
        ax.set_xlabel("seconds" if fps else "frame", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    return out
