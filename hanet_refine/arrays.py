"""Checking a caller's keypoint array and giving results back in the caller's type.

Every public smoother (``refine`` and the baselines) goes through :func:`prepare_keypoints`,
so that all of them accept the same inputs, treat missing points the same way and return
NumPy for NumPy, torch (on the same device) for torch, with the caller's float dtype.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .layouts import Layout, get_layout, infer_layout
from .missing import DEFAULT_CONFIDENCE_THRESHOLD, fill_missing, missing_mask

__all__ = ["KINDS", "Prepared", "prepare_keypoints", "to_numpy", "from_numpy_like", "check_kind"]

KINDS = ("2d", "3d", "smpl")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    return kind


def to_numpy(x: Any, what: str = "keypoints") -> np.ndarray:
    """A float64 copy of ``x`` (NumPy array, torch tensor or nested lists); never a view.

    Raises:
        ValueError: for non-numeric or complex data.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{what} must be a numeric array, could not convert it: {err}") from None
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{what} must hold real numbers (float or int), got dtype {arr.dtype}")
    return np.array(arr, dtype=np.float64, copy=True)


def from_numpy_like(out: np.ndarray, like: Any) -> Any:
    """Return ``out`` as the type, float dtype and device of ``like``."""
    if hasattr(like, "detach") and hasattr(like, "device"):
        import torch

        dtype = like.dtype if like.dtype.is_floating_point else torch.get_default_dtype()
        return torch.from_numpy(np.ascontiguousarray(out)).to(device=like.device, dtype=dtype)
    like_dtype = getattr(like, "dtype", None)
    dtype = like_dtype if like_dtype is not None and np.issubdtype(like_dtype, np.floating) else np.float64
    return out.astype(dtype, copy=False)


@dataclass
class Prepared:
    """A validated batch of keypoint tracks.

    Attributes:
        points: ``(B, T, J, D)`` float64 positions with every missing point filled.
        mask: ``(B, T, J)`` True where the input point was missing.
        layout: the keypoint layout.
        restore: maps a ``(B, T, J, D)`` result back to the caller's shape, type and dtype
            (re-attaching a confidence column unchanged).
    """

    points: np.ndarray
    mask: np.ndarray
    layout: Layout
    restore: Callable[[np.ndarray], Any]


def prepare_keypoints(
    keypoints: Any,
    kind: str,
    *,
    layout: str | Layout | None = None,
    confidence: Any = None,
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    zero_is_missing: bool | None = None,
) -> Prepared:
    """Validate 2d/3d keypoints and fill missing points.

    Args:
        keypoints: ``(T, J, D)`` or ``(N, T, J, D)``; for 2d, D is 2 (x, y) or 3 (x, y,
            confidence); for 3d, D is 3.
        kind: ``"2d"`` or ``"3d"``.
        layout: layout name; inferred from J when omitted.
        confidence: ``(T, J)`` or ``(N, T, J)`` scores, instead of a third 2d column.
        confidence_threshold: points scored below this are missing.
        zero_is_missing: treat exact (0, 0) as missing; default True for 2d, False for 3d.

    Raises:
        ValueError: on a wrong kind, shape, layout, empty input, inf, non-numeric data.
    """
    check_kind(kind)
    if kind == "smpl":
        raise ValueError("prepare_keypoints handles kind='2d' and '3d'; smpl goes through hanet_refine.smpl")
    arr = to_numpy(keypoints)
    dims = (2, 3) if kind == "2d" else (3,)
    shapes = " or ".join(f"(T, J, {d}) or (N, T, J, {d})" for d in dims)
    if arr.ndim not in (3, 4) or arr.shape[-1] not in dims:
        raise ValueError(f"keypoints for kind={kind!r} must have shape {shapes}, got {tuple(arr.shape)}")
    if 0 in arr.shape:
        raise ValueError(f"keypoints must not be empty (T, J >= 1), got shape {tuple(arr.shape)}")
    lead = arr.shape[:-3]
    batch = arr.reshape((-1,) + arr.shape[-3:])
    conf_column = kind == "2d" and arr.shape[-1] == 3
    conf = None
    if conf_column:
        if confidence is not None:
            raise ValueError("confidence given twice: as the third keypoint column and as confidence=; pass one")
        conf = batch[..., 2]
        batch = batch[..., :2]
    elif confidence is not None:
        conf = to_numpy(confidence, "confidence")
        if conf.shape != arr.shape[:-1]:
            raise ValueError(f"confidence must have shape {arr.shape[:-1]} (keypoints without the last axis), "
                             f"got {tuple(conf.shape)}")
        conf = conf.reshape(batch.shape[:-1])
    if np.isinf(batch).any():
        raise ValueError("keypoints contain inf; mark missing points with NaN instead")
    lay = get_layout(layout) if layout is not None else infer_layout(kind, batch.shape[-2])
    if lay.num_joints != batch.shape[-2]:
        raise ValueError(f"layout {lay.name!r} has {lay.num_joints} joints but keypoints have "
                         f"{batch.shape[-2]} (shape {tuple(arr.shape)})")
    if zero_is_missing is None:
        zero_is_missing = kind == "2d"
    mask = missing_mask(batch, conf, threshold=confidence_threshold, zero_is_missing=zero_is_missing)
    filled = fill_missing(batch, mask)
    conf_values = arr[..., 2:3] if conf_column else None

    def restore(out: np.ndarray) -> Any:
        out = out.reshape(lead + out.shape[-3:])
        if conf_values is not None:
            out = np.concatenate([out, conf_values], axis=-1)
        return from_numpy_like(out, keypoints)

    return Prepared(points=filled, mask=mask, layout=lay, restore=restore)
