"""Which way is up in 3D input, and the rotation into the models' frame (y up).

The 3d models were trained on y-up coordinates (x, y, z = depth, right-handed). Lifters such
as VideoPose3D or MotionBERT give camera coordinates with y down, motion-capture worlds are
often z up. :func:`up_rotation` is the proper rotation (no mirroring, so left stays left) that
takes a given up axis to +y; a camera's y-down frame is turned half a turn about z, which
keeps z as the depth axis. :func:`infer_up` reads the up axis from the data: the torso
(hips to shoulders) points up most of the time in nearly every video.
"""

from __future__ import annotations

import warnings

import numpy as np

from .layouts import Layout

__all__ = ["UP_AXES", "infer_up", "up_rotation"]

#: Rotation R (x_model = R @ x) for each up axis of the input.
_ROTATIONS = {
    "+y": np.eye(3),
    "-y": np.diag([-1.0, -1.0, 1.0]),  # half a turn about z: camera frames, z stays depth
    "+z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
    "-z": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]]),
    "+x": np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
    "-x": np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
}
UP_AXES = (*_ROTATIONS, "auto")

# The torso must point within about 60 degrees of the chosen axis, on average, to be trusted.
_MIN_SHARE = 0.5


def up_rotation(up: str) -> np.ndarray:
    """The 3x3 rotation taking the axis ``up`` ("+y", "-y", "+z", "-z", "+x", "-x") to +y."""
    if up not in _ROTATIONS:
        raise ValueError(f"up must be one of {list(UP_AXES)}, got {up!r}")
    return _ROTATIONS[up]


def infer_up(points: np.ndarray, mask: np.ndarray, layout: Layout) -> str:
    """The input's up axis from the mean hips-to-shoulders direction of ``(N, T, J, 3)`` points.

    Frames where a hip or shoulder is missing (``mask`` True) are left out. If the torso is
    mostly horizontal or never seen, warns and returns "+y" (the models' own frame).
    """
    joints = [layout.index(n) for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
    seen = ~mask[..., joints].any(axis=-1)  # (N, T)
    torso = points[..., joints[:2], :].mean(-2) - points[..., joints[2:], :].mean(-2)  # (N, T, 3)
    length = np.linalg.norm(torso, axis=-1, keepdims=True)
    direction = np.where(seen[..., None] & (length > 0), torso / np.where(length > 0, length, 1.0), 0.0)
    mean = direction.reshape(-1, 3).sum(0) / max(int(seen.sum()), 1)
    axis = int(np.abs(mean).argmax())
    if abs(mean[axis]) < _MIN_SHARE:
        warnings.warn(
            "could not tell which axis is up in the 3d input (the torso is mostly horizontal or "
            "never seen); assuming y up. Pass up='+y', '-y', '+z', ... to say it.",
            stacklevel=3,
        )
        return "+y"
    return ("+" if mean[axis] > 0 else "-") + "xyz"[axis]
