"""SMPL parameter formats in and out of :func:`hanet_refine.refine`.

Accepted, with an optional leading track axis N:
- an array of the 24 joint rotations: ``(T, 72)`` or ``(T, 24, 3)`` axis-angle,
  ``(T, 24, 3, 3)`` rotation matrices, ``(T, 24, 6)`` 6D;
- a dict with ``global_orient`` (``(T, 3)``, ``(T, 1, 3)``, ``(T, 3, 3)`` or ``(T, 1, 3, 3)``)
  and ``body_pose`` (``(T, 69)``, ``(T, 23, 3)`` or ``(T, 23, 3, 3)``); ``betas``, ``transl``
  and any other key are returned unchanged (copied). Shape parameters do not change over a
  video and translation is not a joint rotation, so the rotation model does not touch them;
  smooth ``transl`` with :mod:`hanet_refine.baselines` if it is jittery.
Results come back in the same format. A joint whose rotation has a NaN is missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .arrays import Prepared, from_numpy_like, to_numpy
from .layouts import get_layout
from .missing import fill_missing
from .rotations import axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_rot6d, rot6d_to_matrix

__all__ = ["prepare_smpl"]

_ARRAY_FORMATS = "(T, 72), (T, 24, 3) axis-angle, (T, 24, 3, 3) matrices or (T, 24, 6) 6D, optionally with a leading track axis"


def _interpretations(shape: tuple[int, ...], k: int) -> list[tuple[str, tuple[int, ...]]]:
    """Possible (format, leading shape) readings of an array holding k joint rotations."""
    out = []
    if shape[-3:] == (k, 3, 3):
        out.append(("matrix", shape[:-3]))
    if k == 1 and shape[-2:] == (3, 3):
        out.append(("matrix_nojoint", shape[:-2]))
    if shape[-2:] == (k, 3):
        out.append(("axis_angle", shape[:-2]))
    if shape[-2:] == (k, 6):
        out.append(("rot6d", shape[:-2]))
    if shape[-1:] == (3 * k,):
        out.append(("flat", shape[:-1]))
    return [(f, lead) for f, lead in out if len(lead) in (1, 2) and all(n > 0 for n in lead)]


def _to_matrices(arr: np.ndarray, fmt: str, lead: tuple[int, ...], k: int) -> np.ndarray:
    if fmt in ("matrix", "matrix_nojoint"):
        mats = arr.reshape(lead + (k, 3, 3))
    elif fmt == "rot6d":
        mats = rot6d_to_matrix(arr.reshape(lead + (k, 6)))
    else:
        aa = arr.reshape(lead + (k, 3))
        mats = np.full(lead + (k, 3, 3), np.nan)
        ok = np.isfinite(aa).all(-1)
        mats[ok] = axis_angle_to_matrix(aa[ok])
    return mats


def _from_matrices(mats: np.ndarray, fmt: str, lead: tuple[int, ...], k: int) -> np.ndarray:
    if fmt == "matrix":
        return mats
    if fmt == "matrix_nojoint":
        return mats.reshape(lead + (3, 3))
    if fmt == "rot6d":
        return matrix_to_rot6d(mats)
    aa = matrix_to_axis_angle(mats)
    return aa if fmt == "axis_angle" else aa.reshape(lead + (3 * k,))


def _check_finite(arr: np.ndarray, what: str) -> None:
    if np.isinf(arr).any():
        raise ValueError(f"{what} contains inf; mark missing rotations with NaN instead")


def prepare_smpl(params: Any) -> Prepared:
    """Validate SMPL rotations (see module docstring) and convert them to filled 6D.

    Returns:
        A :class:`~hanet_refine.arrays.Prepared` with points ``(B, T, 24, 6)``.

    Raises:
        ValueError: for a shape or key that is not one of the accepted formats.
    """
    if isinstance(params, dict):
        missing_keys = [k for k in ("global_orient", "body_pose") if k not in params]
        if missing_keys:
            raise ValueError(f"an SMPL dict needs 'global_orient' and 'body_pose'; missing {missing_keys} "
                             f"(got keys {sorted(params)})")
        body = to_numpy(params["body_pose"], "body_pose")
        orient = to_numpy(params["global_orient"], "global_orient")
        body_opts = _interpretations(body.shape, 23)
        if not body_opts or 0 in body.shape:
            raise ValueError(f"body_pose must have shape (T, 69), (T, 23, 3) or (T, 23, 3, 3), optionally with a "
                             f"leading track axis, got {tuple(body.shape)}")
        body_fmt, lead = body_opts[0]
        orient_opts = [o for o in _interpretations(orient.shape, 1) if o[1] == lead]
        if not orient_opts:
            raise ValueError(f"global_orient of shape {tuple(orient.shape)} does not match body_pose "
                             f"{tuple(body.shape)}: expected {lead + (3,)}, {lead + (1, 3)}, "
                             f"{lead + (3, 3)} or {lead + (1, 3, 3)}")
        orient_fmt = orient_opts[0][0]
        _check_finite(body, "body_pose")
        _check_finite(orient, "global_orient")
        mats = np.concatenate([_to_matrices(orient, orient_fmt, lead, 1),
                               _to_matrices(body, body_fmt, lead, 23)], axis=-3)
        rest = {k: v for k, v in params.items() if k not in ("global_orient", "body_pose")}

        def restore(out6d: np.ndarray) -> dict[str, Any]:
            out = rot6d_to_matrix(out6d.reshape(lead + (24, 6)))
            result = {k: (v.clone() if hasattr(v, "clone") else np.array(v, copy=True)) for k, v in rest.items()}
            result["global_orient"] = from_numpy_like(
                _from_matrices(out[..., :1, :, :], orient_fmt, lead, 1), params["global_orient"])
            result["body_pose"] = from_numpy_like(
                _from_matrices(out[..., 1:, :, :], body_fmt, lead, 23), params["body_pose"])
            return result
    else:
        arr = to_numpy(params, "SMPL rotations")
        opts = _interpretations(arr.shape, 24)
        if not opts or 0 in arr.shape:
            raise ValueError(f"SMPL rotations must have shape {_ARRAY_FORMATS}, got {tuple(arr.shape)}")
        fmt, lead = opts[0]
        _check_finite(arr, "SMPL rotations")
        mats = _to_matrices(arr, fmt, lead, 24)

        def restore(out6d: np.ndarray) -> Any:
            out = rot6d_to_matrix(out6d.reshape(lead + (24, 6)))
            return from_numpy_like(_from_matrices(out, fmt, lead, 24), params)

    rot6d = matrix_to_rot6d(mats).reshape((-1,) + mats.shape[-4:-3] + (24, 6))
    mask = ~np.isfinite(rot6d).all(-1)
    filled = fill_missing(rot6d, mask)
    return Prepared(points=filled, mask=mask, layout=get_layout("smpl24"), restore=restore)
