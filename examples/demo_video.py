"""Real-video demo: MediaPipe Pose keypoints before and after refinement, measured and drawn.

Uses the keypoints committed in ``examples/data/demo_mediapipe33.npz`` (MediaPipe Pose on the
Sports2D demo video; ``examples/mediapipe_extract.py`` regenerates them), so MediaPipe is not
needed here. Steps:

1. MediaPipe's 33 landmarks -> COCO-17 by joint name; MediaPipe's visibility is the confidence
   (points below 0.3, and frames without a detection, are missing).
2. Detections are linked into tracks (:func:`hanet_refine.tracking.link_tracks`): MediaPipe
   follows one person at a time and switches people at frames 169 and 201, and refining across
   a change of person would blend two people. Every method runs on each track separately;
   frames outside every track (no detection) stay NaN. ``--one-track`` refines the whole video
   as a single sequence instead, to show what that costs.
3. Methods compared: the raw MediaPipe output (its own smoothing off), MediaPipe's own
   smoothing (a second MediaPipe run with ``smooth_landmarks=True``), the One Euro filter
   (causal, the usual real-time choice) and a zero-phase Butterworth low-pass (offline, the
   biomechanics standard), both with the library's default parameters, and ``refine``.
4. Printed table, per method: jitter (mean acceleration magnitude, px/frame^2, over the points
   that the raw output observed in three consecutive frames, the same points for every method),
   the median and 95th percentile distance from the raw observed points (px), and how many
   missing points (no detection inside a track, or visibility < 0.3) got a position.
5. Figures: ``demo_trajectories.png`` (x and y of the wrists and ankles over time) and
   ``demo_overlay.png`` (four video frames with the raw and refined skeletons).

Usage (from the repository root)::

    python examples/demo_video.py                                # packaged pretrained model
    python examples/demo_video.py --weights runs/2d-coco17/best  # a model folder of your own
    python examples/demo_video.py --out /tmp/figs --one-track
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hanet_refine import refine
from hanet_refine.baselines import butterworth, one_euro
from hanet_refine.layouts import convert
from hanet_refine.metrics import mean_acceleration
from hanet_refine.missing import DEFAULT_CONFIDENCE_THRESHOLD
from hanet_refine.tracking import link_tracks

DATA = Path(__file__).parent / "data" / "demo_mediapipe33.npz"
JOINTS = ("left_wrist", "right_wrist", "left_ankle", "right_ankle")

RAW, MP_SMOOTH, ONE_EURO, BUTTER, REFINED = (
    "MediaPipe raw",
    "MediaPipe smoothing",
    "One Euro",
    "Butterworth 4 Hz",
    "hanet_refine",
)
# Methods that estimate missing points (the MediaPipe runs only report what they detected).
FILLING = (ONE_EURO, BUTTER, REFINED)
# Line styles of the trajectory plot; the overlay draws RAW and REFINED in the same colours.
STYLE = {
    RAW: {"color": "#b0b0b0", "lw": 3.0, "zorder": 1},  # a wide band: visible around the refined line
    ONE_EURO: {"color": "#ff7f0e", "lw": 1.0, "ls": "--", "zorder": 2},
    REFINED: {"color": "#1f4fc4", "lw": 1.2, "zorder": 3},
}
GAP_COLOUR = "#e3d3f0"  # frames without a detection
OVERLAY_COLOUR = {RAW: "#ff3b30", REFINED: "#00e5ff"}


def load_demo(path: Path) -> dict[str, Any]:
    """Read the keypoint file and the JPEG list beside it.

    Returns:
        ``points`` (T, 17, 2) and ``conf`` (T, 17) COCO-17 from the raw run, ``points_mp`` and
        ``conf_mp`` from the run with MediaPipe's smoothing, ``fps``,
        ``frames`` {index: JPEG path} and ``frame_scale`` (JPEG px per video px).

    Raises:
        FileNotFoundError: if the npz or its ``demo_frames.json`` is missing.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; make it with examples/mediapipe_extract.py")
    meta_path = path.parent / "demo_frames.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} (written by examples/mediapipe_extract.py) is missing")
    meta = json.loads(meta_path.read_text())
    with np.load(path, allow_pickle=False) as data:
        out: dict[str, Any] = {"fps": float(data["fps"])}
        for suffix, key in (("", "landmarks"), ("_mp", "landmarks_mp_smoothed")):
            vis = data["visibility" if suffix == "" else "visibility_mp_smoothed"]
            out[f"points{suffix}"] = convert(data[key], "mediapipe33", "coco17").astype(np.float64)
            out[f"conf{suffix}"] = convert(vis[..., None], "mediapipe33", "coco17")[..., 0].astype(np.float64)
    out["frames"] = {int(i): path.parent / name for i, name in meta["frames"].items()}
    out["frame_scale"] = float(meta["frame_scale"])
    return out


def track_spans(points: np.ndarray, conf: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` frame spans of the tracks that :func:`link_tracks` finds.

    A track's span runs from its first to its last detection; gaps of at most ``max_gap``
    frames inside it are kept (and filled by the methods). Spans are returned in time order.
    """
    detected = np.flatnonzero(np.isfinite(points).all(-1).any(-1))
    ids = link_tracks(detected, points[detected], conf[detected])
    spans = [(int(detected[ids == i].min()), int(detected[ids == i].max()) + 1) for i in np.unique(ids)]
    return sorted(spans)


def per_track(
    fn: Callable[[np.ndarray], np.ndarray], keypoints: np.ndarray, spans: Sequence[tuple[int, int]]
) -> np.ndarray:
    """Apply ``fn`` ((t, J, 3) -> (t, J, >= 2)) to each span; NaN outside every span."""
    out = np.full(keypoints.shape[:-1] + (2,), np.nan)
    for a, b in spans:
        out[a:b] = np.asarray(fn(keypoints[a:b]))[..., :2]
    return out


def run_methods(
    demo: dict[str, Any], spans: Sequence[tuple[int, int]], weights: str | None
) -> dict[str, np.ndarray]:
    """Every method's (T, 17, 2) output, NaN where it gives no position."""
    points, conf, fps = demo["points"], demo["conf"], demo["fps"]
    keypoints = np.concatenate([points, conf[..., None]], axis=-1)  # (T, 17, 3) with the confidence
    in_track = np.zeros(len(points), bool)
    for a, b in spans:
        in_track[a:b] = True
    return {
        RAW: np.where(in_track[:, None, None], points, np.nan),
        MP_SMOOTH: np.where(in_track[:, None, None], demo["points_mp"], np.nan),
        ONE_EURO: per_track(lambda k: one_euro(k, "2d", fps=fps), keypoints, spans),
        BUTTER: per_track(lambda k: butterworth(k, "2d", fps=fps), keypoints, spans),
        REFINED: per_track(lambda k: refine(k, kind="2d", fps=fps, weights=weights), keypoints, spans),
    }


def measure(
    outputs: dict[str, np.ndarray], points: np.ndarray, conf: np.ndarray, conf_mp: np.ndarray
) -> dict[str, dict[str, float]]:
    """Jitter, distance from the raw observed points, and filled points, per method."""
    observed = np.isfinite(points).all(-1) & (conf >= DEFAULT_CONFIDENCE_THRESHOLD)
    missing = ~observed
    # Jitter over the same points for every method: observed by the raw run, present everywhere.
    common = observed & np.isfinite(conf_mp)
    for out in outputs.values():
        common &= np.isfinite(out).all(-1)
    results = {}
    for name, out in outputs.items():
        filled = np.isfinite(out).all(-1) & missing
        dist = np.linalg.norm(out - points, axis=-1)[observed & np.isfinite(out).all(-1)]
        results[name] = {
            "jitter": mean_acceleration(np.nan_to_num(out), mask=common),
            "median_distance": float(np.median(dist)),
            "p95_distance": float(np.percentile(dist, 95)),
            "filled": int(filled.sum()) if name in FILLING else 0,
        }
    return results


def _format_table(results: dict[str, dict[str, float]]) -> str:
    head = (
        f"{'method':<20} {'jitter px/frame^2':>18} {'median dist px':>15} {'p95 dist px':>12} {'filled':>7}"
    )
    rows = [head, "-" * len(head)]
    for name, r in results.items():
        filled = str(r["filled"]) if name in FILLING else "-"
        rows.append(
            f"{name:<20} {r['jitter']:>18.2f} {r['median_distance']:>15.2f} "
            f"{r['p95_distance']:>12.2f} {filled:>7}"
        )
    return "\n".join(rows)


def _shade_gaps(ax: Any, spans: Sequence[tuple[int, int]], num_frames: int, fps: float) -> None:
    """Grey bands over the frames outside every track (no detection)."""
    edges = [0] + [v for span in spans for v in span] + [num_frames]
    for a, b in zip(edges[::2], edges[1::2]):
        if b > a:
            ax.axvspan((a - 0.5) / fps, (b - 0.5) / fps, color=GAP_COLOUR, lw=0, zorder=0)


def busiest_window(
    points: np.ndarray, joints: Sequence[int], spans: Sequence[tuple[int, int]], length: int
) -> tuple[int, int]:
    """The ``length``-frame window inside one track where the raw ``joints`` shake the most.

    "Shake" is the summed second-difference magnitude over the window (NaN counted as 0).
    """
    accel = np.zeros(len(points))
    second = np.linalg.norm(points[2:, joints] - 2 * points[1:-1, joints] + points[:-2, joints], axis=-1)
    accel[1:-1] = np.nan_to_num(second).sum(-1)
    best, window = -1.0, (spans[0][0], min(spans[0][1], spans[0][0] + length))
    for a, b in spans:
        n = min(length, b - a)
        sums = np.convolve(accel[a:b], np.ones(n), mode="valid")
        i = int(np.argmax(sums))
        if sums[i] > best:
            best, window = float(sums[i]), (a + i, a + i + n)
    return window


def _save_png(fig: Any, path: Path, colours: int = 256) -> Path:
    """Render ``fig`` and save it as a palette PNG (photos in the figure would make RGB PNGs large)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image  # a dependency of matplotlib

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
    image.quantize(colors=colours, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)
    return path


def plot_trajectories(
    outputs: dict[str, np.ndarray],
    observed: np.ndarray,
    spans: Sequence[tuple[int, int]],
    fps: float,
    marked_frames: Sequence[int],
    path: Path,
    zoom_seconds: float = 2.0,
) -> Path:
    """x and y of the wrists and ankles over time (raw, One Euro, refined), with a zoom."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from hanet_refine.layouts import get_layout

    layout = get_layout("coco17")
    index = [layout.index(j) for j in JOINTS]
    num_frames = len(observed)
    t = np.arange(num_frames) / fps
    z0, z1 = busiest_window(outputs[RAW], index, spans, max(3, round(zoom_seconds * fps)))
    fig = Figure(figsize=(15, 9.5), dpi=90)
    axes = fig.subplots(len(JOINTS), 4, gridspec_kw={"width_ratios": [3, 3, 1.3, 1.3]})
    for r, (joint, j) in enumerate(zip(JOINTS, index)):
        for c in range(4):
            ax, coord, zoom = axes[r, c], c % 2, c >= 2
            lo, hi = (z0, z1) if zoom else (0, num_frames)
            if not zoom:
                _shade_gaps(ax, spans, num_frames, fps)
                ax.axvspan((z0 - 0.5) / fps, (z1 - 0.5) / fps, color="#fff2b3", lw=0, zorder=0)
                for f in marked_frames:
                    ax.axvline(f / fps, color="#2ca02c", lw=0.9, ls=":", zorder=0)
            for name, style in STYLE.items():
                ax.plot(t[lo:hi], outputs[name][lo:hi, j, coord], **style)
            # Raw points that count as missing (visibility < 0.3): the methods re-estimate them.
            low = ~observed[lo:hi, j] & np.isfinite(outputs[RAW][lo:hi, j, coord])
            ax.plot(
                t[lo:hi][low],
                outputs[RAW][lo:hi, j, coord][low],
                "x",
                color="#d62728",
                ms=4,
                mew=1.0,
                zorder=4,
            )
            if coord == 1:
                ax.invert_yaxis()  # image y points down; flip it so that up is up
            ax.set_xlim(t[lo], t[hi - 1])
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.25, lw=0.5)
            if c in (0, 2):
                ax.set_ylabel(f"{joint.replace('_', ' ')}\nx (px)", fontsize=9)
            else:
                ax.set_ylabel("y (px, up)", fontsize=9)
            if r == 0:
                what = "x" if coord == 0 else "y"
                ax.set_title(f"{what}, zoom (yellow band)" if zoom else f"{what}, whole video", fontsize=10)
            if r < len(JOINTS) - 1:
                ax.tick_params(labelbottom=False)
            else:
                ax.set_xlabel(f"time (s) at {fps:g} fps", fontsize=9)
    for f in marked_frames:
        axes[0, 0].annotate(
            f"frame {f}",
            (f / fps, 0.0),
            xycoords=("data", "axes fraction"),
            fontsize=7,
            color="#2ca02c",
            ha="left",
            va="bottom",
            xytext=(2, 1),
            textcoords="offset points",
        )
    handles = [Line2D([], [], **STYLE[name]) for name in STYLE]
    labels = [f"{RAW} (its smoothing off)", f"{ONE_EURO} filter (causal)", f"{REFINED} (refined)"]
    handles += [
        Line2D([], [], ls="", marker="x", color="#d62728", ms=5),
        Patch(color=GAP_COLOUR),
        Line2D([], [], color="#2ca02c", lw=0.9, ls=":"),
    ]
    labels += [
        "raw point with visibility < 0.3 (missing)",
        "no detection (MediaPipe changes person)",
        "frames shown in demo_overlay.png",
    ]
    fig.suptitle(
        "MediaPipe Pose on the Sports2D demo video: wrists and ankles before and after refinement",
        fontsize=12,
        y=0.99,
    )
    fig.legend(
        handles, labels, loc="upper center", ncol=3, fontsize=9, frameon=False, bbox_to_anchor=(0.5, 0.965)
    )
    fig.tight_layout(rect=(0, 0, 1, 0.925))
    return _save_png(fig, path)


def _crop(points: np.ndarray, width: int, height: int, aspect: float) -> tuple[float, float, float, float]:
    """A window of ``aspect`` (w / h) around the finite points, 30% margin, moved inside the image."""
    pts = points[np.isfinite(points).all(-1)]
    if len(pts) == 0:
        return 0.0, float(width), float(height), 0.0
    lo, hi = pts.min(0), pts.max(0)
    centre = (lo + hi) / 2
    h = max((hi[1] - lo[1]), (hi[0] - lo[0]) / aspect) * 1.3
    h = min(h, height)
    w = min(h * aspect, width)
    x0 = float(np.clip(centre[0] - w / 2, 0, width - w))
    y0 = float(np.clip(centre[1] - h / 2, 0, height - h))
    return x0, x0 + w, y0 + h, y0  # left, right, bottom, top (image y down)


def plot_overlay(
    outputs: dict[str, np.ndarray], observed: np.ndarray, frames: dict[int, Path], scale: float, path: Path
) -> Path:
    """The saved video frames, zoomed on the person, with the raw and refined skeletons."""
    from matplotlib.figure import Figure
    from matplotlib.image import imread
    from matplotlib.lines import Line2D

    from hanet_refine.render import draw_skeleton

    indices = sorted(frames)
    fig = Figure(figsize=(2.9 * len(indices), 4.3), dpi=90)
    axes = fig.subplots(1, len(indices), squeeze=False)[0]
    for ax, f in zip(axes, indices):
        image = imread(frames[f])
        height, width = image.shape[:2]
        ax.imshow(image, interpolation="bilinear")
        both = []
        for name in (RAW, REFINED):
            pts = outputs[name][f] * scale  # video pixels -> JPEG pixels
            both.append(pts)
            colour = OVERLAY_COLOUR[name]
            draw_skeleton(
                ax,
                pts,
                "coco17",
                color=colour,
                left_color=colour,
                right_color=colour,
                image_coords=True,
                linewidth=1.4 if name == RAW else 2.0,
                marker_size=10 if name == RAW else 14,
                alpha=0.95,
            )
            if name == RAW:  # raw points that count as missing
                low = ~observed[f] & np.isfinite(pts).all(-1)
                ax.scatter(*pts[low].T, marker="x", s=30, color="#ffd60a", linewidths=1.3, zorder=5)
        left, right, bottom, top = _crop(np.concatenate(both), width, height, aspect=0.75)
        ax.set_xlim(left, right)
        ax.set_ylim(bottom, top)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"frame {f}", fontsize=10)
    handles = [
        Line2D([], [], color=OVERLAY_COLOUR[RAW], lw=1.6, marker="o", ms=3),
        Line2D([], [], color=OVERLAY_COLOUR[REFINED], lw=2.2, marker="o", ms=4),
        Line2D([], [], ls="", marker="x", color="#ffd60a", mec="#b08f00", ms=6, mew=1.3),
    ]
    labels = ["MediaPipe raw", "hanet_refine (refined)", "raw point with visibility < 0.3 (missing)"]
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return _save_png(fig, path)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the demo; returns ``{"metrics": {method: {...}}, "spans": [...], "figures": [...]}``."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument("--data", type=Path, default=DATA, help="keypoint file (default: the committed one)")
    parser.add_argument(
        "--weights",
        default=None,
        help="model for refine(): a model folder, file, registered name or Hub id; "
        "default: the packaged pretrained 2D COCO-17 model",
    )
    parser.add_argument("--out", type=Path, default=Path("docs/figures"), help="folder for the two PNGs")
    parser.add_argument(
        "--one-track",
        action="store_true",
        help="treat the whole video as one track (blends the people MediaPipe switches between)",
    )
    args = parser.parse_args(argv)
    if not args.out.is_dir():
        raise FileNotFoundError(f"output folder {args.out} does not exist; create it or pass --out")
    torch.set_num_threads(1)  # a 230-frame clip needs no more, and the demo should not hog a shared machine

    demo = load_demo(args.data)
    points, conf, fps = demo["points"], demo["conf"], demo["fps"]
    spans = [(0, len(points))] if args.one_track else track_spans(points, conf)
    outputs = run_methods(demo, spans, args.weights)
    metrics = measure(outputs, points, conf, demo["conf_mp"])
    observed = np.isfinite(points).all(-1) & (conf >= DEFAULT_CONFIDENCE_THRESHOLD)

    no_detection = int((~np.isfinite(points).all(-1)).sum())
    low = int((np.isfinite(points).all(-1) & (conf < DEFAULT_CONFIDENCE_THRESHOLD)).sum())
    print(
        f"{args.data.name}: {len(points)} frames at {fps:g} fps, {points.shape[1]} COCO-17 joints; "
        f"missing points: {no_detection} without a detection, {low} with visibility < "
        f"{DEFAULT_CONFIDENCE_THRESHOLD}"
    )
    print(
        "tracks (frames [start, stop)): "
        + ", ".join(f"[{a}, {b})" for a, b in spans)
        + ("  (--one-track)" if args.one_track else "")
    )
    print(f"refine weights: {args.weights or 'packaged pretrained model'}\n")
    print(_format_table(metrics))
    print(
        "\njitter: mean |x[t+1] - 2 x[t] + x[t-1]| over points seen by the raw run in 3 consecutive frames; "
        "dist: from the raw points with visibility >= 0.3; filled: missing points given a position"
    )

    figures = [
        plot_trajectories(
            outputs, observed, spans, fps, sorted(demo["frames"]), args.out / "demo_trajectories.png"
        ),
        plot_overlay(outputs, observed, demo["frames"], demo["frame_scale"], args.out / "demo_overlay.png"),
    ]
    for path in figures:
        print(f"wrote {path}")
    return {"metrics": metrics, "spans": spans, "figures": figures}


if __name__ == "__main__":
    result = main()
    sys.exit(0 if all(math.isfinite(v) for r in result["metrics"].values() for v in r.values()) else 1)
