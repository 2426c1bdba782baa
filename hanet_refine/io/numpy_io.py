"""Keypoint arrays in NumPy ``.npy`` / ``.npz`` files.

The array is ``(T, J, C)`` for one person or ``(N, T, J, C)`` for N tracks on a common time
axis; C is the coordinates (2 for ``kind="2d"``, 3 for ``"3d"``), optionally followed by a
confidence column (2d: x, y, c; 3d: x, y, z, c). For ``"smpl"`` every column is a coordinate.
NaN marks a missing keypoint (and, for 2d, an exact (0, 0)); a frame where a track's every
keypoint is missing is a frame where that person was not detected.

In an ``.npz`` the keypoints are the array named ``key`` (default: ``"keypoints"``, or the only
array); the other arrays are written back unchanged, and a scalar ``"fps"`` array is used as
the frame rate. When the keypoints have no confidence column, an array named ``"confidence"``,
``"scores"``, ``"keypoint_scores"`` or ``"visibility"`` of shape ``(T, J)`` / ``(N, T, J)`` is
used as their confidence (as ``examples/mediapipe_extract.py`` writes it). Writing keeps the shape and floating dtype, and changes only the coordinates
(and the confidence of filled keypoints).
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..layouts import get_layout, infer_layout
from ._files import FormatError, check_output, sequence_state, write_outputs
from .sequence import KINDS, PoseSequence

__all__ = ["FORMAT", "SUFFIXES", "encode_numpy", "read_numpy", "write_numpy"]

logger = logging.getLogger(__name__)

FORMAT = "npy"
SUFFIXES = (".npy", ".npz")
_COORDS = {"2d": 2, "3d": 3}


@dataclass
class _State:
    array: np.ndarray  # the keypoint array as read
    key: str | None  # its name in the .npz, None for .npy
    arrays: dict[str, np.ndarray]  # every array of the .npz, in file order
    compressed: bool
    score_key: str | None = None  # the .npz array holding the confidences, if separate


_SCORE_KEYS = ("confidence", "scores", "keypoint_scores", "visibility")


def _load(path: Path) -> tuple[np.ndarray, str | None, dict[str, np.ndarray], bool]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix not in SUFFIXES:
        raise FormatError(f"{path}: expected a .npy or .npz file, got {path.suffix or 'no suffix'!r}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as err:  # pickled object arrays: never unpickle files we were given
        raise FormatError(f"{path}: cannot read: {err}") from None
    except (OSError, EOFError) as err:
        raise FormatError(f"{path}: not a valid {path.suffix} file ({err}); is it truncated?") from None
    if isinstance(loaded, np.ndarray):
        return loaded, None, {}, False
    with loaded:
        try:
            arrays = {k: loaded[k] for k in loaded.files}
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise FormatError(f"{path}: cannot read an array: {err}") from None
        compressed = any(i.compress_type != zipfile.ZIP_STORED for i in loaded.zip.infolist())
    return np.empty(0), None, arrays, compressed


def read_numpy(
    path: str | Path, *, kind: str = "2d", layout: str | None = None, key: str | None = None
) -> PoseSequence:
    """Read keypoints from a ``.npy`` or ``.npz`` file.

    Args:
        path: the file.
        kind: ``"2d"``, ``"3d"`` or ``"smpl"``: how to read the last axis.
        layout: the joint layout; by default the one :func:`hanet_refine.layouts.infer_layout`
            gives for the joint count.
        key: the array to refine in an ``.npz`` (default ``"keypoints"`` or the only array).

    Returns:
        A :class:`PoseSequence` with one track per leading index (track ids 0..N-1) and a
        detection for every track and frame that has at least one keypoint.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        FormatError: if the file is not a readable array file, the array has the wrong shape
            or dtype, every keypoint is missing, or ``key`` is not in the ``.npz``.
    """
    path = Path(path)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    arr, _, arrays, compressed = _load(path)
    if arrays or path.suffix == ".npz":
        if key is None:
            key = "keypoints" if "keypoints" in arrays else (next(iter(arrays)) if len(arrays) == 1 else None)
            if key is None:
                raise FormatError(
                    f"{path}: no array named 'keypoints' among {sorted(arrays)}; pass key=... (--key)"
                )
        elif key not in arrays:
            raise FormatError(f"{path}: no array named {key!r}; the file has {sorted(arrays)}")
        arr = arrays[key]
    elif key is not None:
        raise ValueError(f"key={key!r} only applies to .npz files; {path} is a .npy file")
    if arr.ndim not in (3, 4):
        raise FormatError(f"{path}: keypoints must have shape (T, J, C) or (N, T, J, C), got {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise FormatError(f"{path}: keypoints must be numbers, got dtype {arr.dtype}")
    tracks = arr[None] if arr.ndim == 3 else arr
    n, t, j, c = tracks.shape
    if t == 0 or j == 0:
        raise FormatError(f"{path}: keypoints have shape {arr.shape}: no frames or no joints")
    d = _COORDS.get(kind, c)
    if c not in (d, d + 1) or (kind == "smpl" and c != d):
        raise FormatError(
            f"{path}: for kind={kind!r} the last axis must be {d} (coordinates) or {d + 1} "
            f"(coordinates and confidence), got {c}"
        )
    if layout is None:
        try:
            lay = infer_layout(kind, j).name
        except ValueError as err:
            raise FormatError(f"{path}: {err}") from None
    else:
        lay = get_layout(layout).name
    flat = tracks.reshape(n * t, j, c).astype(np.float64)
    kp = flat[..., :d].copy()
    bad = ~np.isfinite(kp).all(axis=-1)
    if kind == "2d":
        bad |= (kp == 0).all(axis=-1)
    kp[bad] = np.nan
    has_scores = c == d + 1
    scores = np.nan_to_num(flat[..., d], nan=0.0) if has_scores else np.where(bad, 0.0, 1.0)
    score_key = None
    if not has_scores and kind != "smpl":
        score_key = next((k for k in _SCORE_KEYS if k in arrays and arrays[k].shape == arr.shape[:-1]), None)
        if score_key is not None:
            has_scores = True
            scores = np.nan_to_num(arrays[score_key].reshape(n * t, j).astype(np.float64), nan=0.0)
    # A row with no keypoint at all is a frame where that person was not detected.
    rows = np.flatnonzero(~bad.all(axis=-1))
    if not len(rows):
        raise FormatError(f"{path}: every keypoint is missing (NaN{' or (0, 0)' if kind == '2d' else ''})")
    fps = None
    if "fps" in arrays and arrays["fps"].size == 1 and np.issubdtype(arrays["fps"].dtype, np.number):
        fps = float(arrays["fps"].reshape(()))
    return PoseSequence(
        keypoints=kp[rows],
        scores=scores[rows],
        frame=rows % t,
        track_id=rows // t,
        num_frames=t,
        layout=lay,
        kind=kind,
        format=FORMAT,
        source=path,
        fps=fps,
        has_scores=has_scores,
        origin=rows,
        state=_State(arr, key, arrays, compressed, score_key),
    )


def _state_of(seq: PoseSequence) -> _State:
    return sequence_state(seq, FORMAT, _State)


def encode_numpy(seq: PoseSequence) -> bytes:
    """The output file of ``seq`` (read by :func:`read_numpy`) as bytes.

    Each detection goes to the row of its track (the leading index) and frame; rows where a
    track was not detected stay as they were (NaN) unless gap filling added a detection there.

    Raises:
        ValueError: if ``seq`` was not read from an array file, or its track ids are not the
            array's (re-linked).
    """
    state = _state_of(seq)
    src = state.array
    n = 1 if src.ndim == 3 else src.shape[0]
    if len(seq) and (seq.track_id.min() < 0 or seq.track_id.max() >= n):
        raise ValueError(f"track ids must be the array's track indices 0..{n - 1}; keep the array's tracks")
    dtype = src.dtype if np.issubdtype(src.dtype, np.floating) else np.dtype(np.float64)
    if dtype != src.dtype:
        logger.info("writing float64 keypoints: the input array was %s", src.dtype)
    out = src.astype(dtype, copy=True)
    flat = out.reshape(-1, *out.shape[-2:])  # a view: (N * T, J, C)
    d = seq.dim
    rows = seq.track_id * seq.num_frames + seq.frame
    ok = np.isfinite(seq.keypoints).all(axis=-1)
    flat[rows, :, :d] = np.where(ok[..., None], seq.keypoints, flat[rows, :, :d])
    if seq.has_scores and flat.shape[-1] == d + 1:
        flat[rows, :, d] = np.where(ok, seq.scores, flat[rows, :, d])
    buf = io.BytesIO()
    if state.key is None:
        np.save(buf, out, allow_pickle=False)
    else:
        arrays = dict(state.arrays)
        arrays[state.key] = out
        if state.score_key is not None and seq.has_scores:
            src_sc = arrays[state.score_key]
            sc = src_sc.astype(src_sc.dtype if np.issubdtype(src_sc.dtype, np.floating) else np.float64)
            flat_sc = sc.reshape(-1, sc.shape[-1])
            flat_sc[rows] = np.where(ok, seq.scores, flat_sc[rows])
            arrays[state.score_key] = sc
        (np.savez_compressed if state.compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


def write_numpy(seq: PoseSequence, path: str | Path, *, overwrite: bool = False) -> None:
    """Write ``seq`` to an array file at ``path`` (see :func:`encode_numpy`).

    Raises:
        FileExistsError: if ``path`` exists or is the input and ``overwrite`` is False.
    """
    path = Path(path)
    src = seq.source
    if src is not None and Path(src).suffix != path.suffix:
        raise ValueError(f"{path}: the output must be a {Path(src).suffix} file like the input")
    check_output(path, overwrite=overwrite, inputs=(src,) if src else ())
    write_outputs(path, encode_numpy(seq))
