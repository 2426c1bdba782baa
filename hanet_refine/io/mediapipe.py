"""MediaPipe Pose landmarks saved as JSON, refined as COCO-17 keypoints in pixels.

MediaPipe has no file format of its own; this reads what the usual scripts save, one entry
per video frame::

    {"image_width": 1920, "image_height": 1080, "fps": 30,      # optional
     "frames": [FRAME, FRAME, ...]}                              # or just [FRAME, ...]

where a FRAME is ``null`` or ``[]`` (nobody found), one pose (a list of 33 landmarks, or
``{"landmark": [...]}`` as ``MessageToDict`` writes it), a list of poses (the Tasks API's
``PoseLandmarkerResult.pose_landmarks`` with ``num_poses > 1``), or an object holding one of
those under ``"pose_landmarks"``, ``"landmarks"`` or ``"landmark"`` (other keys, e.g.
``"timestamp_ms"``, are kept). A landmark is ``{"x": .., "y": .., "z": .., "visibility": ..}``
with x, y normalised by the image width and height.

Landmarks are converted to pixels with the image size (from the file or ``image_size``) and,
by default, mapped by joint name to COCO-17 (see :func:`hanet_refine.layouts.convert`): all 17
COCO joints are MediaPipe landmarks. Writing puts the refined 17 back and moves each of the
other 16 landmarks (eye corners, mouth, fingers, heels, toes) by the displacement of its
nearest COCO ancestor (wrist, ankle, eye, nose), so hands and feet follow the refined limbs;
``z`` is kept. With ``layout="mediapipe33"`` all 33 landmarks are refined directly.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..layouts import get_layout
from ._files import FormatError, check_output, dump_json, load_json, put_number, sequence_state, write_outputs
from .sequence import PoseSequence

__all__ = [
    "FORMAT",
    "encode_mediapipe",
    "looks_like_mediapipe",
    "mediapipe_from_document",
    "read_mediapipe",
    "write_mediapipe",
]

FORMAT = "mediapipe"
NUM_LANDMARKS = 33
_POSE_KEYS = ("pose_landmarks", "landmarks", "landmark")
_DECIMALS = 6  # normalised units: 1e-6 of the image side


@dataclass
class _State:
    document: Any
    entries: list[tuple]  # path from the document root to each source pose's landmark list
    slots: list[tuple]  # path to the value holding each frame's people
    multi: bool  # frames hold lists of poses (else one pose per frame)
    legacy: bool  # poses are {"landmark": [...]}
    width: float
    height: float
    base: np.ndarray  # (P0, 33, 2) source landmarks in pixels


def _get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        raise ValueError("cannot replace the document root")
    _get(doc, path[:-1])[path[-1]] = value
    return doc


def _is_landmark(obj: Any) -> bool:
    return isinstance(obj, dict) and "x" in obj and "y" in obj


def _is_pose(obj: Any) -> bool:
    return (isinstance(obj, list) and bool(obj) and _is_landmark(obj[0])) or (
        isinstance(obj, dict) and isinstance(obj.get("landmark"), list)
    )


def _frames_of(doc: Any) -> tuple[list[Any], tuple] | None:
    if isinstance(doc, dict) and isinstance(doc.get("frames"), list):
        return doc["frames"], ("frames",)
    if isinstance(doc, list):
        return doc, ()
    return None


def _people(value: Any) -> tuple[tuple, list[tuple], bool | None] | None:
    """(slot path, pose paths, multi) of one frame's value, relative to the frame; None if invalid."""
    slot: tuple = ()
    if isinstance(value, dict) and not _is_pose(value):
        key = next((k for k in _POSE_KEYS if k in value), None)
        if key is None:
            return None
        slot, value = (key,), value[key]
    if value is None or value == []:
        return slot, [], None
    if _is_pose(value):
        return slot, [slot + (("landmark",) if isinstance(value, dict) else ())], False
    if isinstance(value, list) and all(_is_pose(v) for v in value):
        return (
            slot,
            [slot + (i,) + (("landmark",) if isinstance(v, dict) else ()) for i, v in enumerate(value)],
            True,
        )
    return None


def looks_like_mediapipe(doc: Any) -> bool:
    """True when ``doc`` (parsed JSON) holds MediaPipe pose landmarks per frame."""
    found = _frames_of(doc)
    if found is None:
        return False
    frames = found[0]
    if isinstance(doc, dict) and "frames" in doc and not frames:
        return True
    for value in frames:
        people = _people(value)
        if people is None:
            return False
        if people[1]:
            return True
    return False


def read_mediapipe(
    path: str | Path, *, image_size: tuple[float, float] | None = None, layout: str | None = None
) -> PoseSequence:
    """Read MediaPipe Pose landmarks from a JSON file (see the module docstring for its shape).

    Args:
        path: the ``.json`` file.
        image_size: ``(width, height)`` of the video in pixels, when the file has no
            ``image_width`` / ``image_height``.
        layout: ``"coco17"`` (default: the 17 COCO joints, by name) or ``"mediapipe33"``.

    Returns:
        A :class:`PoseSequence` in pixels with ``visibility`` as the score.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        FormatError: if the file is not valid JSON (file, line and column in the message), has
            no image size, or a frame is not one of the accepted shapes.
    """
    path = Path(path)
    return mediapipe_from_document(load_json(path), path, image_size=image_size, layout=layout)


def _image_size(doc: Any, image_size: tuple[float, float] | None, path: Path) -> tuple[float, float]:
    stored = None
    if isinstance(doc, dict):
        for wk, hk in (("image_width", "image_height"), ("width", "height")):
            if wk in doc and hk in doc:
                stored = (doc[wk], doc[hk])
                break
    if image_size is not None:
        w, h = image_size
        if stored is not None and (float(stored[0]), float(stored[1])) != (float(w), float(h)):
            raise FormatError(
                f"{path}: the file says the image is {stored[0]}x{stored[1]} but image_size="
                f"{w}x{h} was given; drop one of them"
            )
    elif stored is not None:
        w, h = stored
    else:
        raise FormatError(
            f"{path}: MediaPipe landmarks are normalised to the image; pass image_size=(width, "
            'height) (--image-size W H) or put "image_width" and "image_height" in the file'
        )
    try:
        w, h = float(w), float(h)
    except (TypeError, ValueError):
        raise FormatError(f"{path}: image size must be two numbers, got {w!r} x {h!r}") from None
    if not (w > 0 and h > 0 and np.isfinite(w) and np.isfinite(h)):
        raise FormatError(f"{path}: image size must be positive, got {w} x {h}")
    return w, h


def _landmarks(lms: Any, path: Path, where: str) -> tuple[np.ndarray, np.ndarray, bool]:
    if not isinstance(lms, list) or len(lms) != NUM_LANDMARKS:
        n = len(lms) if isinstance(lms, list) else type(lms).__name__
        raise FormatError(f"{path}: {where}: expected {NUM_LANDMARKS} pose landmarks, got {n}")
    xy = np.full((NUM_LANDMARKS, 2), np.nan)
    vis = np.ones(NUM_LANDMARKS)
    has_vis = False
    for k, lm in enumerate(lms):
        if not isinstance(lm, dict):
            raise FormatError(f'{path}: {where}[{k}]: expected a landmark object {{"x", "y", ...}}')
        try:
            x, y = lm.get("x"), lm.get("y")
            if x is not None and y is not None:
                xy[k] = float(x), float(y)
            if lm.get("visibility") is not None:
                vis[k] = float(lm["visibility"])
                has_vis = True
        except (TypeError, ValueError):
            raise FormatError(f"{path}: {where}[{k}]: x, y and visibility must be numbers") from None
    return xy, vis, has_vis


def _mapping(layout: str) -> tuple[np.ndarray, np.ndarray]:
    """For each MediaPipe landmark, its index in ``layout`` (or -1) and the index in ``layout``
    of its nearest mapped ancestor (itself when mapped)."""
    mp, lay = get_layout("mediapipe33"), get_layout(layout)
    index = np.array([lay.joints.index(n) if n in lay.joints else -1 for n in mp.joints])
    anchor = np.empty(NUM_LANDMARKS, dtype=np.int64)
    for k in range(NUM_LANDMARKS):
        a = k
        while index[a] < 0 and mp.parents[a] >= 0:
            a = mp.parents[a]
        anchor[k] = index[a]
    return index, anchor


def mediapipe_from_document(
    doc: Any, path: Path, *, image_size: tuple[float, float] | None = None, layout: str | None = None
) -> PoseSequence:
    """:func:`read_mediapipe` on an already parsed document (``path`` for messages)."""
    layout = get_layout(layout or "coco17").name
    index, anchor = _mapping(layout)
    if (anchor < 0).any() or len(set(index[index >= 0].tolist())) != get_layout(layout).num_joints:
        raise FormatError(
            f"{path}: layout {layout!r} cannot be read from MediaPipe landmarks; use 'coco17' or "
            "'mediapipe33'"
        )
    found = _frames_of(doc)
    if found is None:
        raise FormatError(
            f'{path}: expected a list of frames or an object with "frames" (MediaPipe landmarks)'
        )
    frames, root = found
    w, h = _image_size(doc, image_size, path)
    entries, slots, xys, viss, fidx = [], [], [], [], []
    styles: set[bool] = set()
    legacy = False
    any_vis = False
    for f, value in enumerate(frames):
        people = _people(value)
        if people is None:
            raise FormatError(
                f"{path}: frame [{f}]: expected null, a pose (list of {NUM_LANDMARKS} landmarks), "
                'a list of poses, or an object with "pose_landmarks"'
            )
        slot, poses, multi = people
        slots.append(root + (f,) + slot)
        if multi is not None:
            styles.add(multi)
        for pose_path in poses:
            legacy |= bool(pose_path) and pose_path[-1] == "landmark"
            xy, vis, has_vis = _landmarks(_get(value, pose_path), path, f"frame [{f}]")
            any_vis |= has_vis
            entries.append(root + (f,) + pose_path)
            xys.append(xy * (w, h))
            viss.append(vis)
            fidx.append(f)
    if not entries:
        raise FormatError(f"{path}: no pose in any of the {len(frames)} frames; nothing to refine")
    base = np.stack(xys)
    scores = np.stack(viss)
    order = np.argsort(index[index >= 0])
    src = np.flatnonzero(index >= 0)[order]  # MediaPipe index of each layout joint
    return PoseSequence(
        keypoints=base[:, src],
        scores=scores[:, src],
        frame=np.array(fidx),
        track_id=np.full(len(fidx), -1),
        num_frames=len(frames),
        layout=layout,
        kind="2d",
        format=FORMAT,
        source=path,
        fps=float(doc["fps"]) if isinstance(doc, dict) and isinstance(doc.get("fps"), (int, float)) else None,
        has_scores=any_vis,
        frame_names=tuple(str(f) for f in range(len(frames))),
        state=_State(doc, entries, slots, True in styles, legacy, w, h, base),
    )


def _state_of(seq: PoseSequence) -> _State:
    return sequence_state(seq, FORMAT, _State)


def encode_mediapipe(seq: PoseSequence) -> bytes:
    """The output file of ``seq`` (read by :func:`read_mediapipe`).

    Raises:
        ValueError: if ``seq`` was not read from MediaPipe landmarks.
    """
    state = _state_of(seq)
    index, anchor = _mapping(seq.layout)
    mp_of = _inverse(index)  # MediaPipe index of each layout joint
    doc = copy.deepcopy(state.document)
    scale = np.array([state.width, state.height])
    dropped = 0
    for p in range(len(seq)):
        o = seq.origin[p]
        base = state.base[o]
        new = seq.keypoints[p]
        ok = np.isfinite(new).all(axis=1)
        if seq.added[p]:
            lms = copy.deepcopy(_get(state.document, state.entries[o]))
            for lm in lms:
                if "visibility" in lm:
                    lm["visibility"] = float(seq.scores[p].max())
            slot = state.slots[seq.frame[p]]
            holder = _get(doc, slot)
            pose: Any = {"landmark": lms} if state.legacy else lms
            if state.multi:
                if holder is None:
                    _set(doc, slot, [pose])
                else:
                    holder.append(pose)
            elif not holder:
                _set(doc, slot, pose)
            else:  # one pose per frame and the frame has one: no room for another person
                dropped += 1
                continue
        else:
            lms = _get(doc, state.entries[o])
        for k, lm in enumerate(lms):
            a = anchor[k]
            if not ok[a]:
                continue
            if index[k] >= 0:
                xy = new[index[k]]
            else:  # follow the nearest refined ancestor
                xy = base[k] + new[a] - base[mp_of[a]]
            if not np.isfinite(xy).all():
                continue
            if not np.array_equal(xy, base[k]) or lm.get("x") is None or lm.get("y") is None:
                lm["x"], lm["y"] = (round(float(v), _DECIMALS) for v in xy / scale)
            if index[k] >= 0 and "visibility" in lm and not seq.added[p]:
                put_number(lm, "visibility", seq.scores[p][index[k]])
    if dropped:
        warnings.warn(
            f"{dropped} gap-filled poses were not written: the file holds one pose per frame and "
            "those frames already had one",
            stacklevel=2,
        )
    return dump_json(doc)


def _inverse(index: np.ndarray) -> np.ndarray:
    inv = np.full(index.max() + 1, -1, dtype=np.int64)
    inv[index[index >= 0]] = np.flatnonzero(index >= 0)
    return inv


def write_mediapipe(seq: PoseSequence, path: str | Path, *, overwrite: bool = False) -> None:
    """Write ``seq`` as MediaPipe landmarks at ``path`` (see :func:`encode_mediapipe`).

    Raises:
        FileExistsError: if ``path`` exists or is the input and ``overwrite`` is False.
    """
    path = Path(path)
    check_output(path, overwrite=overwrite, inputs=(seq.source,) if seq.source else ())
    write_outputs(path, encode_mediapipe(seq))
