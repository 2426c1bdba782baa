"""Rotation formats of SMPL parameters and the continuous 6D representation the network uses.

The 6D representation (Zhou et al., CVPR 2019) is the first two columns of the rotation
matrix; it is continuous, unlike axis-angle, which is why networks regress it.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = ["axis_angle_to_matrix", "matrix_to_axis_angle", "matrix_to_rot6d", "rot6d_to_matrix"]


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """``(..., 3)`` axis-angle (radians) to ``(..., 3, 3)`` rotation matrices."""
    flat = np.asarray(aa, dtype=np.float64).reshape(-1, 3)
    return Rotation.from_rotvec(flat).as_matrix().reshape(aa.shape[:-1] + (3, 3))


def matrix_to_axis_angle(mat: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotation matrices to ``(..., 3)`` axis-angle."""
    flat = np.asarray(mat, dtype=np.float64).reshape(-1, 3, 3)
    return Rotation.from_matrix(flat).as_rotvec().reshape(mat.shape[:-2] + (3,))


def matrix_to_rot6d(mat: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` to ``(..., 6)``: the first two columns, column by column."""
    return np.concatenate([mat[..., :, 0], mat[..., :, 1]], axis=-1)


def rot6d_to_matrix(r6: np.ndarray) -> np.ndarray:
    """``(..., 6)`` to the nearest ``(..., 3, 3)`` rotation matrix by Gram-Schmidt."""
    a, b = r6[..., :3], r6[..., 3:]
    eps = 1e-12
    x = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), eps)
    b = b - (x * b).sum(-1, keepdims=True) * x
    y = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), eps)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)
