"""Accuracy and smoothness metrics for keypoint sequences (NumPy, vectorised).

All metrics take NumPy arrays or torch tensors and compute in float64. Results are in the
units of the inputs: metres in gives metres, pixels in gives pixels (multiply by 1000 for
the millimetres that papers report). Acceleration metrics are per frame squared
(second differences), as the SmoothNet, DeciWatch and HANet papers report them.

Shapes: positions are ``(..., J, D)``; metrics over time need ``(..., T, J, D)`` (e.g.
``(T, J, D)`` or ``(B, T, J, D)``). ``mask`` has the shape of the positions without the last
axis and selects the points a metric is averaged over (True = counted), e.g. only the
occluded ones. Points whose value is NaN in the prediction or the ground truth never enter
an alignment; if a counted point is NaN the metric raises and asks for a mask that leaves it
out. A mask that selects nothing gives NaN with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from .arrays import to_numpy

__all__ = [
    "accel_error",
    "geodesic_angle",
    "mean_acceleration",
    "mpjpe",
    "pa_mpjpe",
    "pck",
    "procrustes_align",
]


# ----------------------------------------------------------------------------------------
# Checks


def _pair(pred: Any, gt: Any, min_ndim: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    p, g = to_numpy(pred, "pred"), to_numpy(gt, "gt")
    if p.shape != g.shape:
        raise ValueError(f"pred and gt must have the same shape, got {tuple(p.shape)} and {tuple(g.shape)}")
    if p.ndim < min_ndim or 0 in p.shape:
        raise ValueError(f"pred and gt must have shape {what} with no empty axis, got {tuple(p.shape)}")
    if np.isinf(p).any() or np.isinf(g).any():
        raise ValueError("pred and gt must not contain inf; mark unknown points with NaN and pass mask=")
    return p, g


def _mask(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    m = mask.detach().cpu().numpy() if hasattr(mask, "detach") else np.asarray(mask)
    if m.dtype != bool:
        raise ValueError(f"mask must be boolean (True = counted), got dtype {m.dtype}")
    if m.shape != shape:
        raise ValueError(f"mask must have shape {shape} (the points without their last axis), got {m.shape}")
    return m


def _masked_mean(values: np.ndarray, counted: np.ndarray, name: str) -> float:
    """Mean of ``values`` where ``counted``; NaN (with a warning) when nothing is counted."""
    if not counted.any():
        warnings.warn(f"{name}: the mask selects no point; returning NaN", stacklevel=3)
        return float("nan")
    chosen = values[counted]
    if np.isnan(chosen).any():
        raise ValueError(
            f"{name}: {int(np.isnan(chosen).sum())} counted points are NaN in pred or gt "
            "(or their root is); pass mask= to leave them out"
        )
    return float(chosen.mean())


def _second_difference(x: np.ndarray) -> np.ndarray:
    """x[t+1] - 2 x[t] + x[t-1] along the time axis (-3) of (..., T, J, D)."""
    return x[..., 2:, :, :] - 2.0 * x[..., 1:-1, :, :] + x[..., :-2, :, :]


def _centre_counted(counted: np.ndarray) -> np.ndarray:
    """A second difference at frame t counts when frames t-1, t and t+1 are all counted."""
    return counted[..., :-2, :] & counted[..., 1:-1, :] & counted[..., 2:, :]


# ----------------------------------------------------------------------------------------
# Position errors


def mpjpe(pred: Any, gt: Any, *, root: int | str | None = None, mask: Any = None) -> float:
    """Mean per-joint position error: the mean Euclidean distance between matching points.

    Args:
        pred: predicted positions.
        gt: ground-truth positions.
        root: alignment before measuring: None (none), a joint index (that joint is moved
            to the origin in every frame of both, the usual root-relative MPJPE) or
            ``"mean"`` (the mean of each frame's joints is moved to the origin).
        mask: ``(..., J)`` True for the points to average over.

    Returns:
        The mean distance, in the units of the inputs.

    Raises:
        ValueError: on mismatched shapes, a bad ``root`` or ``mask``, or a counted NaN.

    Shape:
        pred, gt: ``(..., J, D)``; mask: ``(..., J)``.

    Example:
        >>> mpjpe(pred_m, gt_m, root=0) * 1000  # millimetres
    """
    p, g = _pair(pred, gt, 2, "(..., J, D)")
    counted = _mask(mask, p.shape[:-1])
    num_joints = p.shape[-2]
    if root is not None:
        if isinstance(root, str):
            if root != "mean":
                raise ValueError(f"root must be None, a joint index or 'mean', got {root!r}")
            # The centroid of the joints that are finite in both, so a NaN joint moves neither.
            usable = (np.isfinite(p).all(axis=-1) & np.isfinite(g).all(axis=-1))[..., None]
            count = usable.sum(axis=-2, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                p = p - np.where(usable, p, 0.0).sum(axis=-2, keepdims=True) / count
                g = g - np.where(usable, g, 0.0).sum(axis=-2, keepdims=True) / count
        elif (
            isinstance(root, (int, np.integer))
            and not isinstance(root, bool)
            and -num_joints <= root < num_joints
        ):
            p = p - np.take(p, [root], axis=-2)
            g = g - np.take(g, [root], axis=-2)
        else:
            raise ValueError(f"root must be None, 'mean' or a joint index in [0, {num_joints}), got {root!r}")
    err = np.linalg.norm(p - g, axis=-1)
    return _masked_mean(err, counted, "mpjpe")


def procrustes_align(pred: Any, gt: Any, *, weights: Any = None) -> np.ndarray:
    """Align each frame of ``pred`` to ``gt`` with the best similarity transform.

    For every frame, the scale s, rotation R (a proper rotation: reflections are excluded)
    and translation t minimising sum_j w_j |s R p_j + t - g_j|^2 (Umeyama 1991), computed
    for all frames at once with one batched SVD. Points that are NaN in either input get
    weight 0; a frame with fewer than two usable points gets only the translation.

    Args:
        pred: positions to align.
        gt: target positions.
        weights: ``(..., J)`` non-negative weight of each point; default 1.

    Returns:
        The aligned ``pred``, float64, same shape (NaN points stay NaN).

    Shape:
        pred, gt: ``(..., J, D)``; weights: ``(..., J)``.
    """
    p, g = _pair(pred, gt, 2, "(..., J, D)")
    usable = np.isfinite(p).all(axis=-1) & np.isfinite(g).all(axis=-1)
    w = usable.astype(np.float64)
    if weights is not None:
        given = to_numpy(weights, "weights")
        if given.shape != p.shape[:-1] or (given < 0).any() or not np.isfinite(given).all():
            raise ValueError(
                f"weights must be finite, >= 0 and of shape {p.shape[:-1]}, got shape {given.shape}"
            )
        w = w * given
    p0, g0 = np.where(usable[..., None], p, 0.0), np.where(usable[..., None], g, 0.0)
    total = w.sum(axis=-1, keepdims=True)[..., None]  # ... 1 1
    safe_total = np.where(total > 0, total, 1.0)
    mu_p = (w[..., None] * p0).sum(axis=-2, keepdims=True) / safe_total
    mu_g = (w[..., None] * g0).sum(axis=-2, keepdims=True) / safe_total
    x, y = p0 - mu_p, g0 - mu_g
    cov = np.einsum("...j,...ja,...jb->...ab", w, x, y)  # sum_j w x_j y_j^T: (..., D, D)
    u, sing, vt = np.linalg.svd(cov)
    # R = V diag(1, .., 1, sign det(V U^T)) U^T maximises tr(R cov) among proper rotations.
    d = np.sign(np.linalg.det(np.swapaxes(vt, -1, -2) @ np.swapaxes(u, -1, -2)))
    d = np.where(d == 0, 1.0, d)
    flip = np.ones(sing.shape)
    flip[..., -1] = d
    rot = np.swapaxes(vt, -1, -2) @ (flip[..., :, None] * np.swapaxes(u, -1, -2))
    var_p = np.einsum("...j,...ja,...ja->...", w, x, x)
    scale = np.where(var_p > 1e-300, (sing * flip).sum(-1) / np.where(var_p > 1e-300, var_p, 1.0), 0.0)
    # Apply the transform to every point of pred (NaN ones stay NaN).
    centred = p - mu_p
    aligned = scale[..., None, None] * np.einsum("...ab,...jb->...ja", rot, centred) + mu_g
    no_rotation = (usable.sum(axis=-1) < 2)[..., None, None]
    return np.where(no_rotation, centred + mu_g, aligned)


def pa_mpjpe(pred: Any, gt: Any, *, mask: Any = None) -> float:
    """MPJPE after per-frame similarity Procrustes alignment (scale, rotation, translation).

    Each frame of ``pred`` is aligned to ``gt`` using all points that are finite in both
    (not only the masked ones), then the error is averaged over the points in ``mask``.

    Args:
        pred: predicted positions.
        gt: ground-truth positions.
        mask: ``(..., J)`` True for the points to average over.

    Returns:
        The mean distance after alignment, in the units of the inputs.

    Raises:
        ValueError: on mismatched shapes, a bad ``mask`` or a counted NaN.

    Shape:
        pred, gt: ``(..., J, D)``; mask: ``(..., J)``.
    """
    p, g = _pair(pred, gt, 2, "(..., J, D)")
    counted = _mask(mask, p.shape[:-1])
    aligned = procrustes_align(p, g)
    err = np.linalg.norm(aligned - g, axis=-1)
    return _masked_mean(err, counted, "pa_mpjpe")


# ----------------------------------------------------------------------------------------
# Smoothness


def accel_error(pred: Any, gt: Any, *, mask: Any = None) -> float:
    """Acceleration error: mean over points and frames of |second difference of pred -
    second difference of gt|.

    The second difference at frame t is ``x[t+1] - 2 x[t] + x[t-1]``; it counts when frames
    t-1, t and t+1 are all in ``mask``.

    Args:
        pred: predicted positions.
        gt: ground-truth positions.
        mask: ``(..., T, J)`` True for the points to average over.

    Returns:
        The mean, in input units per frame squared (e.g. mm / frame^2 for millimetres).

    Raises:
        ValueError: on mismatched shapes, T < 3, a bad ``mask`` or a counted NaN.

    Shape:
        pred, gt: ``(..., T, J, D)`` with T >= 3; mask: ``(..., T, J)``.
    """
    p, g = _pair(pred, gt, 3, "(..., T, J, D)")
    if p.shape[-3] < 3:
        raise ValueError(f"accel_error needs T >= 3 frames on axis -3, got shape {tuple(p.shape)}")
    counted = _centre_counted(_mask(mask, p.shape[:-1]))
    err = np.linalg.norm(_second_difference(p) - _second_difference(g), axis=-1)
    return _masked_mean(err, counted, "accel_error")


def mean_acceleration(x: Any, *, mask: Any = None) -> float:
    """Jitter without ground truth: the mean magnitude of the second difference.

    Args:
        x: positions.
        mask: ``(..., T, J)`` True for the points to average over (a second difference
            counts when its three frames are all counted).

    Returns:
        The mean |x[t+1] - 2 x[t] + x[t-1]|, in input units per frame squared.

    Raises:
        ValueError: on a bad shape, T < 3, a bad ``mask`` or a counted NaN.

    Shape:
        x: ``(..., T, J, D)`` with T >= 3; mask: ``(..., T, J)``.
    """
    a = to_numpy(x, "x")
    if a.ndim < 3 or 0 in a.shape or a.shape[-3] < 3:
        raise ValueError(f"x must have shape (..., T, J, D) with T >= 3, got {tuple(a.shape)}")
    if np.isinf(a).any():
        raise ValueError("x must not contain inf; mark unknown points with NaN and pass mask=")
    counted = _centre_counted(_mask(mask, a.shape[:-1]))
    return _masked_mean(np.linalg.norm(_second_difference(a), axis=-1), counted, "mean_acceleration")


# ----------------------------------------------------------------------------------------
# 2D detection rate


def pck(
    pred: Any,
    gt: Any,
    alpha: float | Sequence[float] = 0.1,
    *,
    bbox_size: Any = None,
    mask: Any = None,
) -> float | np.ndarray:
    """Percentage of correct keypoints: the fraction with error <= alpha * size.

    The size is, per frame, ``max(width, height)`` of the box around the ground-truth
    points of that frame (all finite ones, not only the masked ones), or ``bbox_size``.

    Args:
        pred: predicted positions.
        gt: ground-truth positions.
        alpha: threshold as a fraction of the size; one value or several (e.g.
            ``(0.05, 0.1, 0.2)``).
        bbox_size: reference size: one number, or one per frame, shape ``(...,)`` (the
            positions' shape without the last two axes); default: from ``gt``.
        mask: ``(..., J)`` True for the points to count.

    Returns:
        A fraction in [0, 1] (a float for one alpha, an array of one per alpha otherwise).

    Raises:
        ValueError: on mismatched shapes, a negative alpha, a bad ``bbox_size`` or
            ``mask``, or a counted NaN.

    Shape:
        pred, gt: ``(..., J, D)``; bbox_size: scalar or ``(...,)``; mask: ``(..., J)``.

    Example:
        >>> pck(pred, gt, (0.05, 0.1, 0.2))
        array([0.57, 0.82, 0.94])
    """
    p, g = _pair(pred, gt, 2, "(..., J, D)")
    counted = _mask(mask, p.shape[:-1])
    alphas = np.atleast_1d(np.asarray(alpha, dtype=np.float64))
    if alphas.ndim != 1 or not np.isfinite(alphas).all() or (alphas < 0).any():
        raise ValueError(f"alpha must be a number >= 0 or a list of them, got {alpha!r}")
    if bbox_size is None:
        finite = np.isfinite(g).all(axis=-1)
        hi = np.where(finite[..., None], g, -np.inf).max(axis=-2)
        lo = np.where(finite[..., None], g, np.inf).min(axis=-2)
        size = np.where(finite.any(axis=-1), (hi - lo).max(axis=-1), np.nan)
    else:
        size = to_numpy(bbox_size, "bbox_size")
        if size.ndim and size.shape != p.shape[:-2]:
            raise ValueError(f"bbox_size must be a number or have shape {p.shape[:-2]}, got {size.shape}")
        if not (np.isfinite(size).all() and (size > 0).all()):
            raise ValueError("bbox_size must be finite and > 0")
        size = np.broadcast_to(size, p.shape[:-2])
    err = np.linalg.norm(p - g, axis=-1)  # ..., J
    if counted.any():
        bad = (
            np.isnan(err[counted]).sum()
            + np.isnan(np.broadcast_to(size[..., None], err.shape)[counted]).sum()
        )
        if bad:
            raise ValueError(
                f"pck: {int(bad)} counted points are NaN in pred or gt; pass mask= to leave them out"
            )
    threshold = alphas.reshape((-1,) + (1,) * err.ndim) * size[..., None]
    correct = (err <= threshold).astype(np.float64)
    result = np.array([_masked_mean(c, counted, "pck") for c in correct])
    return float(result[0]) if np.ndim(alpha) == 0 else result


# ----------------------------------------------------------------------------------------
# Rotations


def geodesic_angle(pred_rotmats: Any, gt_rotmats: Any, *, mask: Any = None, reduce: str = "joint") -> Any:
    """Angle of the rotation between predicted and true joint rotations, in radians.

    For each pair, the angle of ``P^T G`` in [0, pi], from ``atan2(|sin|, cos)`` of its
    axis-angle form (accurate for small and large angles alike).

    Args:
        pred_rotmats: predicted rotation matrices.
        gt_rotmats: true rotation matrices.
        mask: ``(..., J)`` True for the rotations to average over (not with ``reduce="none"``).
        reduce: ``"joint"`` (default) for the mean angle of each joint over all leading axes,
            shape ``(J,)``; ``"mean"`` for one number; ``"none"`` for every angle, ``(..., J)``.

    Returns:
        Angles in radians, shaped as ``reduce`` says.

    Raises:
        ValueError: on shapes other than ``(..., J, 3, 3)``, a bad ``reduce`` or ``mask``, or a
            counted NaN.

    Shape:
        pred_rotmats, gt_rotmats: ``(..., J, 3, 3)``; mask: ``(..., J)``.
    """
    p, g = _pair(pred_rotmats, gt_rotmats, 3, "(..., J, 3, 3)")
    if p.shape[-2:] != (3, 3):
        raise ValueError(f"rotation matrices must have shape (..., J, 3, 3), got {tuple(p.shape)}")
    if reduce not in ("joint", "mean", "none"):
        raise ValueError(f"reduce must be 'joint', 'mean' or 'none', got {reduce!r}")
    if reduce == "none" and mask is not None:
        raise ValueError("mask needs reduce='joint' or 'mean'; with reduce='none' index the result instead")
    counted = _mask(mask, p.shape[:-2])
    rel = np.swapaxes(p, -1, -2) @ g
    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
    skew = np.stack(
        [rel[..., 2, 1] - rel[..., 1, 2], rel[..., 0, 2] - rel[..., 2, 0], rel[..., 1, 0] - rel[..., 0, 1]]
    )
    sin = np.linalg.norm(skew, axis=0) / 2.0
    angle = np.arctan2(sin, cos)
    if reduce == "none":
        return angle
    if reduce == "mean":
        return _masked_mean(angle, counted, "geodesic_angle")
    flat_angle = angle.reshape(-1, angle.shape[-1])
    flat_counted = counted.reshape(-1, counted.shape[-1])
    return np.array(
        [_masked_mean(flat_angle[:, j], flat_counted[:, j], "geodesic_angle") for j in range(angle.shape[-1])]
    )
