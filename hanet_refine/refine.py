"""``refine()``: one call after a pose estimator."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .arrays import check_kind, prepare_keypoints
from .layout_bridge import find_bridge
from .layouts import Layout
from .missing import DEFAULT_CONFIDENCE_THRESHOLD
from .registry import has_pretrained, load_refiner, pretrained_layouts
from .smpl import prepare_smpl
from .up_axis import infer_up, up_rotation

__all__ = ["refine"]


def _resample(x: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``(B, T, ...)`` from times ``src`` (>= 2) to ``dst`` (held at the ends)."""
    i = np.clip(np.searchsorted(src, dst, side="right") - 1, 0, len(src) - 2)
    w = np.clip((dst - src[i]) / (src[i + 1] - src[i]), 0.0, 1.0)
    w = w.reshape((1, -1) + (1,) * (x.ndim - 2))
    return x[:, i] * (1.0 - w) + x[:, i + 1] * w


def _nearest(x: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``(B, T, ...)`` at the frame of ``src`` (>= 2 times) nearest to each time of ``dst``."""
    i = np.clip(np.searchsorted(src, dst), 1, len(src) - 1)
    i = np.where(np.abs(dst - src[i - 1]) <= np.abs(src[i] - dst), i - 1, i)
    return x[:, i]


def refine(
    keypoints: Any,
    kind: str = "2d",
    *,
    layout: str | Layout | None = None,
    confidence: Any = None,
    fps: float | None = None,
    weights: str | Path | None = None,
    device: str | torch.device | None = None,
    confidence_threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    up: str | None = None,
) -> Any:
    """Refine keypoint sequences: remove jitter, repair missing and wrong joints.

    Args:
        keypoints: for ``kind="2d"``, ``(T, J, 2)`` pixels or ``(T, J, 3)`` with a
            confidence column (returned unchanged); for ``"3d"``, ``(T, J, 3)`` in any
            unit; for ``"smpl"``, rotations as described in :mod:`hanet_refine.smpl`. A
            leading axis ``(N, T, ...)`` refines N tracks in one call. NumPy or torch.
        kind: ``"2d"``, ``"3d"`` or ``"smpl"``.
        layout: keypoint layout (:data:`hanet_refine.layouts.LAYOUTS`); inferred from J when
            unambiguous (2d: 17 joints = coco17, 25 = body25; 3d: 17 = h36m17). A layout with
            no pretrained model of its own (e.g. mediapipe33, halpe26) is refined by the model
            of the layout sharing most of its joints; its other joints move with their nearest
            refined ancestor (:mod:`hanet_refine.layout_bridge`).
        confidence: ``(T, J)`` / ``(N, T, J)`` scores, instead of a third 2d column.
        fps: the input's frame rate; when it differs from the model's (30), the sequence is
            resampled in time to the model's rate and back. ``None`` means the model's rate.
        weights: a registered model name, a local model folder or ``.safetensors`` file, or a
            Hub repo id; ``None`` picks the pretrained model for ``kind`` and ``layout``.
        device: where the network runs; default: the input tensor's device, else the CPU.
        confidence_threshold: points scored below this are missing.
        up: 3d only: the input's up axis, "+y" (the models' frame), "-y" (camera coordinates
            of lifters such as VideoPose3D), "+z" (z-up worlds), "-z", "+x" or "-x". ``None``
            or "auto" reads it from the data (the hips-to-shoulders direction,
            :mod:`hanet_refine.up_axis`). The input is turned into the models' frame and the
            result turned back, so the output is in the input's coordinates either way.

    Returns:
        The refined keypoints: same shape, type (NumPy or torch, on the input's device) and
        float dtype (integer input gives float64). Missing points (NaN, a confidence below
        the threshold, or exactly (0, 0) in 2d) get an estimate like every other point.

    Raises:
        ValueError: for a bad kind, layout, shape, dtype, fps, up axis, empty input or inf.
        FileNotFoundError: for weights that do not exist.

    Shape:
        ``(T, J, D)`` or ``(N, T, J, D)`` in, the same out. Every frame is returned, for
        any T >= 1 (see :mod:`hanet_refine.windows` for the ends of a sequence).

    Example:
        >>> import numpy as np, hanet_refine
        >>> noisy = np.random.rand(300, 17, 2) * 100 + 500   # 10 s of COCO-17 at 30 fps
        >>> smooth = hanet_refine.refine(noisy, kind="2d")
    """
    check_kind(kind)
    if up is not None and kind != "3d":
        raise ValueError(f"up is for kind='3d' only (2d is image coordinates, smpl carries its own), got up={up!r}")
    if up is not None and up != "auto":
        up_rotation(up)  # a bad value fails before any work
    if fps is not None and not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number of frames per second, got {fps!r}")
    if kind == "smpl":
        if confidence is not None:
            raise ValueError("confidence is not used for kind='smpl'; mark missing rotations with NaN")
        if layout is not None and getattr(layout, "name", layout) != "smpl24":
            raise ValueError(f"kind='smpl' uses layout 'smpl24', got {layout!r}")
        prepared = prepare_smpl(keypoints)
    else:
        prepared = prepare_keypoints(keypoints, kind, layout=layout, confidence=confidence,
                                     confidence_threshold=confidence_threshold)
    if device is None:
        device = keypoints.device if isinstance(keypoints, torch.Tensor) else "cpu"
    source, mask = prepared.points, prepared.mask
    rotation = None
    if kind == "3d":
        rotation = up_rotation(infer_up(source, mask, prepared.layout) if up in (None, "auto") else up)
        source = source @ rotation.T  # into the models' y-up frame; turned back at the end
    points = source
    bridge = None
    if weights is None and kind != "smpl" and not has_pretrained(kind, prepared.layout.name):
        # No model for this layout: use the model of the layout sharing the most joints.
        bridge = find_bridge(prepared.layout, pretrained_layouts(kind))
        if bridge is not None:
            points, mask = bridge.to_target(points, mask)
    layout_name = bridge.target.name if bridge is not None else prepared.layout.name
    refiner = load_refiner(weights, kind, layout_name, device)

    t = points.shape[1]
    resample = fps is not None and abs(fps - refiner.fps) > 1e-6 and t > 1
    if resample:
        src = np.arange(t) / fps
        dst = np.arange(math.ceil(src[-1] * refiner.fps - 1e-9) + 1) / refiner.fps
        points, mask = _resample(points, src, dst), _nearest(mask, src, dst)
    with torch.inference_mode():
        out = refiner(torch.from_numpy(points).to(device), torch.from_numpy(mask).to(device))
    out = out.cpu().numpy()
    if resample:
        out = _resample(out, dst, src)
    if bridge is not None:
        out = bridge.from_target(out, source)
    if rotation is not None:
        out = out @ rotation
    return prepared.restore(out)
