"""Scoring refiners on whole corrupted test clips: the evaluation command and the benchmark.

Every method receives a clip as an estimator would give it (NaN for missing points, 2d
confidences) and returns a prediction for every point. ``raw`` is the estimator's output
with missing points filled by linear interpolation in time, which is what every method
starts from. Errors are in pixels (2d), millimetres (3d, smpl joints) and degrees (smpl
rotations); ``*_occluded`` / ``*_failed`` restrict a metric to the points the corruption
occluded or made fail. ``bias only`` (:func:`bias_only_method`) is the clean motion plus the
corruption's slowly varying bias alone: what would be left if every other error were removed.
No filter can remove that bias, as it changes too slowly; a network can remove the part of it
that breaks the body's shape (bone lengths), which is much of it in 3d and little in 2d.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import metrics
from ..arrays import prepare_keypoints
from ..missing import fill_missing
from ..rotations import matrix_to_rot6d, rot6d_to_matrix

__all__ = [
    "METRIC_ORDER",
    "Method",
    "bias_only_method",
    "bias_only_scores",
    "raw_method",
    "refine_method",
    "score_clips",
]

Method = Callable[[dict[str, np.ndarray]], np.ndarray]

METRIC_ORDER = {
    "2d": ["mpjpe", "pck@0.05", "pck@0.1", "pck@0.2", "accel", "mpjpe_occluded", "mpjpe_failed"],
    "3d": ["mpjpe", "pa_mpjpe", "accel", "mpjpe_occluded", "mpjpe_failed"],
    "smpl": ["mpjpe", "angle", "accel", "mpjpe_failed", "angle_failed"],
}


def estimator_input(clip: dict[str, np.ndarray], kind: str) -> np.ndarray:
    """What an estimator hands over: 2d with a confidence column, NaN where missing."""
    if kind == "2d" and "confidence" in clip:
        return np.concatenate([clip["noisy"], clip["confidence"][..., None]], axis=-1)
    return clip["noisy"]


def raw_method(kind: str) -> Method:
    def raw(clip: dict[str, np.ndarray]) -> np.ndarray:
        if kind == "smpl":
            r6 = matrix_to_rot6d(clip["noisy"])
            return rot6d_to_matrix(fill_missing(r6, ~np.isfinite(r6).all(-1)))
        return prepare_keypoints(estimator_input(clip, kind), kind).points[0]

    return raw


def bias_only_method(clip: dict[str, np.ndarray]) -> np.ndarray:
    """The clean motion plus the corruption's slow bias: what would be left if a method removed
    every other error perfectly (2d and 3d clips; they carry ``bias``)."""
    return clip["clean"] + clip["bias"]


def bias_only_scores(clips: list[dict[str, np.ndarray]], kind: str) -> dict[str, float] | None:
    """Scores of :func:`bias_only_method`, or None where the clips carry no bias (smpl, or a
    protocol changed to have none)."""
    if not any(np.any(c.get("bias", 0.0)) for c in clips):
        return None
    return score_clips(bias_only_method, clips, kind)


def refine_method(kind: str, layout: str, weights: Any) -> Method:
    from ..refine import refine

    def hanet(clip: dict[str, np.ndarray]) -> np.ndarray:
        out = refine(estimator_input(clip, kind), kind, layout=None if kind == "smpl" else layout, weights=weights)
        return out[..., :2] if kind == "2d" else out

    return hanet


def _clip_scores(pred: np.ndarray, clip: dict[str, np.ndarray], kind: str) -> dict[str, tuple[float, int]]:
    """(mean, count) of each metric on one clip; counts weight the average over clips."""
    gt = clip["clean"]
    occluded = clip.get("occluded", np.zeros(gt.shape[:2], bool))
    failed = clip.get("failed", np.zeros(gt.shape[:2], bool))
    n = gt.shape[0] * gt.shape[1]
    out: dict[str, tuple[float, int]] = {}

    def masked(name: str, fn: Callable[..., float], mask: np.ndarray, *args: Any) -> None:
        if mask.any():
            out[name] = (fn(*args, mask=mask), int(mask.sum()))

    if kind == "smpl":
        from .mocap_layouts import smpl_forward_kinematics

        skeleton = clip.get("skeleton")
        pj = smpl_forward_kinematics(pred, None, skeleton) * 1000.0
        gj = smpl_forward_kinematics(gt, None, skeleton) * 1000.0
        out["mpjpe"] = (metrics.mpjpe(pj, gj), n)
        out["angle"] = (float(np.degrees(metrics.geodesic_angle(pred, gt, reduce="mean"))), n)
        if gt.shape[0] >= 3:
            out["accel"] = (metrics.accel_error(pj, gj), n)
        masked("mpjpe_failed", metrics.mpjpe, failed, pj, gj)
        if failed.any():
            out["angle_failed"] = (float(np.degrees(metrics.geodesic_angle(pred, gt, mask=failed, reduce="mean"))),
                                   int(failed.sum()))
        return out
    scale = 1000.0 if kind == "3d" else 1.0
    p, g = pred * scale, gt * scale
    root = 0 if kind == "3d" else None
    out["mpjpe"] = (metrics.mpjpe(p, g, root=root), n)
    if kind == "3d":
        out["pa_mpjpe"] = (metrics.pa_mpjpe(p, g), n)
    else:
        for a in (0.05, 0.1, 0.2):
            out[f"pck@{a}"] = (100.0 * metrics.pck(p, g, a), n)
    if gt.shape[0] >= 3:
        out["accel"] = (metrics.accel_error(p, g), n)
    masked("mpjpe_occluded", lambda a, b, mask: metrics.mpjpe(a, b, root=root, mask=mask), occluded, p, g)
    masked("mpjpe_failed", lambda a, b, mask: metrics.mpjpe(a, b, root=root, mask=mask), failed, p, g)
    return out


def score_clips(method: Method, clips: list[dict[str, np.ndarray]], kind: str) -> dict[str, float]:
    """Average each metric over the clips, weighted by the points it counted."""
    sums: dict[str, list[float]] = {}
    for clip in clips:
        for name, (value, count) in _clip_scores(np.asarray(method(clip), dtype=np.float64), clip, kind).items():
            acc = sums.setdefault(name, [0.0, 0.0])
            acc[0] += value * count
            acc[1] += count
    return {name: s / c for name, (s, c) in sums.items() if c > 0}
