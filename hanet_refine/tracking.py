"""Linking per-frame detections of people into tracks.

Most estimators (OpenPose, ViTPose, RTMPose without a tracker, Detectron2) write each frame's
people in no particular order. The refiner needs one person's keypoints over time, so people
are linked frame to frame: an optimal one-to-one assignment
(:func:`scipy.optimize.linear_sum_assignment`) between the tracks alive at a frame and that
frame's detections, with a cost that does not depend on image resolution or on how far the
person is from the camera:

    cost(track, detection) = mean distance of the joints visible in both / person size

where the track's pose is its last known position of each joint, moved on at the body's
recent velocity (so two people crossing each other do not swap), and the person size is the
longer side of the bounding box of the visible joints (the larger of the two poses).
Pairs costing more than ``max_distance`` are never linked (gating), and neither are pairs
that share too few visible joints. A detection that no track takes starts a new track; a
track that finds no detection is kept alive for ``max_gap`` frames, so a person hidden for a
moment keeps their track. The number of people may change in every frame.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import linear_sum_assignment

from .missing import DEFAULT_CONFIDENCE_THRESHOLD, missing_mask

__all__ = ["DEFAULT_MAX_DISTANCE", "DEFAULT_MAX_GAP", "link_tracks", "pose_distance"]

#: Frames a lost track waits for its person to come back (half a second at 30 fps).
DEFAULT_MAX_GAP = 15
#: Largest mean joint distance, in person sizes, between linked poses. People move well under
#: 0.2 of their size between frames at video rates; people standing side by side are about 0.5
#: or more apart, so the gate links a returning person but not a neighbour.
DEFAULT_MAX_DISTANCE = 0.5
_MIN_COMMON = 3  # joints two poses must share to be compared (fewer when a pose has fewer)


def _extent(points: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Longer bounding-box side of the visible joints: ``(..., J, D), (..., J) -> (...)``."""
    lo = np.where(visible[..., None], points, np.inf).min(axis=-2)
    hi = np.where(visible[..., None], points, -np.inf).max(axis=-2)
    side = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
    return side.max(axis=-1)


def pose_distance(
    a: np.ndarray,
    a_visible: np.ndarray,
    b: np.ndarray,
    b_visible: np.ndarray,
    *,
    fallback_size: float = 1.0,
) -> np.ndarray:
    """Size-normalised distance between every pose of ``a`` and every pose of ``b``.

    Args:
        a: poses; ``a_visible`` says which joints are usable.
        b: poses; ``b_visible`` says which joints are usable.
        fallback_size: the size used when both poses have zero extent (one joint each).

    Returns:
        ``(A, B)`` mean distance over joints visible in both, divided by the larger of the two
        poses' bounding-box sides; ``inf`` where the poses share fewer than
        ``min(3, visible joints of either)`` joints or none.

    Shape:
        a: ``(A, J, D)``, a_visible: ``(A, J)``; b: ``(B, J, D)``, b_visible: ``(B, J)``.
    """
    common = a_visible[:, None, :] & b_visible[None, :, :]  # (A, B, J)
    n_common = common.sum(axis=-1)
    diff = np.where(common[..., None], a[:, None] - b[None, :], 0.0)
    dist = np.sqrt((diff**2).sum(axis=-1)).sum(axis=-1) / np.maximum(n_common, 1)
    size = np.maximum(_extent(a, a_visible)[:, None], _extent(b, b_visible)[None, :])
    size = np.where(size > 0, size, fallback_size)
    need = np.minimum(_MIN_COMMON, np.minimum(a_visible.sum(-1)[:, None], b_visible.sum(-1)[None, :]))
    ok = n_common >= np.maximum(need, 1)
    return np.where(ok, dist / size, np.inf)


def link_tracks(
    frame: ArrayLike,
    keypoints: ArrayLike,
    scores: ArrayLike | None = None,
    *,
    max_gap: int = DEFAULT_MAX_GAP,
    max_distance: float = DEFAULT_MAX_DISTANCE,
    min_score: float = DEFAULT_CONFIDENCE_THRESHOLD,
    zero_is_missing: bool = True,
) -> np.ndarray:
    """Give every detection a track id.

    Args:
        frame: frame index of each detection (any order; detections of one frame are linked
            together).
        keypoints: each detection's keypoints; NaN marks an absent joint.
        scores: keypoint confidences; joints below ``min_score`` are not used for linking.
        max_gap: frames a track may go undetected and still be continued (0: only consecutive
            frames link).
        max_distance: gate on the size-normalised pose distance (see :func:`pose_distance`).
        min_score: confidence below which a joint is ignored.
        zero_is_missing: treat joints at exactly (0, 0) as absent (OpenPose's marker).

    Returns:
        ``(P,)`` int64 track ids, numbered 0, 1, ... in order of first appearance (by frame,
        then by position in the input). A detection with no usable joint gets a track of its own.

    Raises:
        ValueError: on shapes that do not match or a negative ``max_gap`` / ``max_distance``.

    Shape:
        frame: ``(P,)``; keypoints: ``(P, J, D)``; scores: ``(P, J)``.

    Example:
        >>> import numpy as np
        >>> pose = np.random.default_rng(0).uniform(0, 100, (17, 2))
        >>> frames = np.array([0, 0, 1, 1])
        >>> kps = np.stack([pose, pose + 500, pose + 501, pose + 1])  # the two swap order
        >>> link_tracks(frames, kps).tolist()
        [0, 1, 1, 0]
    """
    frame = np.asarray(frame)
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim != 3:
        raise ValueError(f"keypoints must have shape (P, J, D), got {kp.shape}")
    if frame.shape != (kp.shape[0],):
        raise ValueError(f"frame must have shape ({kp.shape[0]},) to match keypoints, got {frame.shape}")
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0 frames, got {max_gap}")
    if not max_distance > 0:
        raise ValueError(f"max_distance must be > 0 (in person sizes), got {max_distance}")
    conf = None if scores is None else np.asarray(scores, dtype=np.float64)
    if conf is not None and conf.shape != kp.shape[:2]:
        raise ValueError(f"scores must have shape {kp.shape[:2]}, got {conf.shape}")
    visible = ~missing_mask(
        kp, conf, threshold=min_score, zero_is_missing=zero_is_missing and kp.shape[-1] == 2
    )
    p, j, d = kp.shape
    ids = np.full(p, -1, dtype=np.int64)
    if p == 0:
        return ids
    sizes = _extent(kp, visible)
    fallback = float(np.median(sizes[sizes > 0])) if (sizes > 0).any() else 1.0

    order = np.argsort(frame, kind="stable")
    bounds = np.flatnonzero(np.diff(frame[order])) + 1
    # Live tracks: last known position of each joint, which joints are known, last frame seen,
    # and the body's velocity (mean joint displacement per frame, smoothed).
    pose = np.empty((0, j, d))
    known = np.empty((0, j), dtype=bool)
    last = np.empty(0, dtype=np.int64)
    vel = np.empty((0, d))
    moving = np.empty(0, dtype=bool)
    track_ids = np.empty(0, dtype=np.int64)
    next_id = 0
    for rows in np.split(order, bounds):
        f = frame[rows[0]]
        alive = f - last - 1 <= max_gap
        pose, known, last, track_ids = pose[alive], known[alive], last[alive], track_ids[alive]
        vel, moving = vel[alive], moving[alive]
        # Where each track should be now if it kept its speed: people crossing do not swap.
        predicted = pose + vel[:, None, :] * (f - last)[:, None, None]
        taken = np.full(len(rows), -1)
        if len(track_ids):
            cost = pose_distance(predicted, known, kp[rows], visible[rows], fallback_size=fallback)
            gated = np.where(cost <= max_distance, cost, 1e9)  # finite: the solver needs a feasible matrix
            ti, di = linear_sum_assignment(gated)
            ok = gated[ti, di] < 1e9
            taken[di[ok]] = ti[ok]
        for k, r in enumerate(rows):
            v = visible[r]
            if taken[k] >= 0:
                t = taken[k]
                common = v & known[t]
                if common.any():
                    step = (kp[r][common] - pose[t][common]).mean(axis=0) / (f - last[t])
                    vel[t] = 0.5 * (vel[t] + step) if moving[t] else step
                    moving[t] = True
                pose[t] = np.where(v[:, None], kp[r], predicted[t])  # unseen joints move with the body
                known[t] |= v
                last[t] = f
                ids[r] = track_ids[t]
            else:
                ids[r] = next_id
                if v.any():  # a detection with nothing to match on cannot continue
                    pose = np.concatenate([pose, np.where(v[:, None], kp[r], 0.0)[None]])
                    known = np.concatenate([known, v[None]])
                    last = np.append(last, f)
                    vel = np.concatenate([vel, np.zeros((1, d))])
                    moving = np.append(moving, False)
                    track_ids = np.append(track_ids, next_id)
                next_id += 1
    return ids
