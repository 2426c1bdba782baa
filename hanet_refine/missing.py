"""Finding and filling missing keypoints.

A keypoint is missing when any coordinate is NaN, when its confidence is below a threshold,
or (2d only, optional) when it sits at exactly (0, 0), which is how OpenPose writes joints it
did not find. Filling is a first guess that the refiner then corrects: linear interpolation
in time between the nearest observed frames, the nearest observation before the first or
after the last one, and for a joint never observed in a track, the centroid of the observed
joints of each frame.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_CONFIDENCE_THRESHOLD", "missing_mask", "fill_missing"]

#: Keypoints with a confidence below this are treated as missing (OpenPose and MMPose
#: visualise at 0.1 to 0.3; 0.3 keeps most true detections and drops most guesses).
DEFAULT_CONFIDENCE_THRESHOLD = 0.3


def missing_mask(
    points: np.ndarray,
    confidence: np.ndarray | None = None,
    *,
    threshold: float = DEFAULT_CONFIDENCE_THRESHOLD,
    zero_is_missing: bool = False,
) -> np.ndarray:
    """Boolean mask of missing keypoints.

    Shape:
        points: ``(..., T, J, D)``; confidence: ``(..., T, J)``; returns ``(..., T, J)``.
    """
    mask = ~np.isfinite(points).all(axis=-1)
    if confidence is not None:
        mask |= ~(confidence >= threshold)  # NaN confidence counts as missing too
    if zero_is_missing:
        mask |= (points == 0).all(axis=-1)
    return mask


def _interpolate_time(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis -3 (time) of ``(B, T, J, D)`` over ``mask`` (B, T, J)."""
    b, t, j, _ = points.shape
    frames = np.broadcast_to(np.arange(t)[None, :, None], (b, t, j))
    seen = ~mask
    # Index of the last observed frame at or before each frame, and the first at or after it.
    prev = np.maximum.accumulate(np.where(seen, frames, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(seen, frames, t)[:, ::-1], axis=1)[:, ::-1]
    has_prev, has_next = prev >= 0, nxt < t
    prev_c = np.where(has_prev, prev, np.where(has_next, nxt, 0))
    next_c = np.where(has_next, nxt, prev_c)
    span = np.maximum(next_c - prev_c, 1)
    w = np.where(has_prev & has_next, (frames - prev_c) / span, 0.0)[..., None]
    bi = np.arange(b)[:, None, None]
    ji = np.arange(j)[None, None, :]
    a = points[bi, prev_c, ji]
    c = points[bi, next_c, ji]
    filled = np.where(mask[..., None], a * (1 - w) + c * w, points)
    return filled


def fill_missing(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return a copy of ``points`` with every missing keypoint filled (see module docstring).

    Shape:
        points: ``(..., T, J, D)``; mask: ``(..., T, J)``; returns ``(..., T, J, D)`` float64.

    Raises:
        ValueError: if a track has no observed keypoint at all.
    """
    points = np.asarray(points, dtype=np.float64)
    lead = points.shape[:-3]
    t, j, d = points.shape[-3:]
    flat = points.reshape(-1, t, j, d)
    fmask = np.asarray(mask, dtype=bool).reshape(-1, t, j)
    empty = fmask.all(axis=(1, 2))
    if empty.any():
        raise ValueError(
            f"track {int(np.argmax(empty))} has no observed keypoint (all NaN, all zero or all below "
            "the confidence threshold); remove it or lower confidence_threshold"
        )
    clean = np.where(fmask[..., None], 0.0, flat)
    filled = _interpolate_time(clean, fmask)
    never = fmask.all(axis=1)  # (B, J): joints unobserved in the whole track
    if never.any():
        observed = ~never[:, None, :, None]
        centroid = (filled * observed).sum(axis=2, keepdims=True) / observed.sum(axis=2, keepdims=True)
        filled = np.where(never[:, None, :, None], centroid, filled)
    return filled.reshape(lead + (t, j, d))
