"""COCO-style keypoint results, as ViTPose, MMPose (``--dump`` / ``CocoMetric`` outfile),
RTMPose, Detectron2 and AlphaPose write them.

One JSON list with an entry per detected person::

    [{"image_id": 0, "category_id": 1, "keypoints": [x1, y1, v1, x2, y2, v2, ...],
      "score": 0.93, "track_id": 3}, ...]

``v`` is the keypoint's score; ``track_id`` is optional (written by trackers). Frames are the
image ids: integer ids are frame numbers (``image_id - min(image_id)``, so frames in which
nobody was detected count too); other ids (file names) are frames in natural order.

Writing keeps the list, its order and every field as it was and changes only the x, y of the
keypoints; ``bbox`` and ``score`` are not recomputed. Entries added by gap filling go after
the last entry of their frame.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._files import (
    FormatError,
    as_numbers,
    check_output,
    dump_json,
    file_track_ids,
    layout_for,
    load_json,
    natural_key,
    put_xyc,
    sequence_state,
    write_outputs,
)
from .sequence import PoseSequence

__all__ = ["FORMAT", "coco_from_document", "encode_coco", "looks_like_coco", "read_coco", "write_coco"]

FORMAT = "coco"
_DEFAULT_LAYOUTS = {17: "coco17", 26: "halpe26"}
_DECIMALS = 3


@dataclass
class _State:
    document: list[dict[str, Any]]
    image_ids: list[Any]  # image id of each frame
    entry_frame: np.ndarray  # frame of each entry of ``document``


def looks_like_coco(doc: Any) -> bool:
    """True when ``doc`` (parsed JSON) is a COCO keypoint results list."""
    return (
        isinstance(doc, list)
        and len(doc) > 0
        and isinstance(doc[0], dict)
        and "image_id" in doc[0]
        and "keypoints" in doc[0]
    )


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def read_coco(path: str | Path, *, layout: str | None = None) -> PoseSequence:
    """Read a COCO keypoint results JSON file.

    Args:
        path: the ``.json`` file.
        layout: the keypoints' layout; by default ``"coco17"`` for 17 and ``"halpe26"`` for 26.

    Returns:
        A :class:`PoseSequence` in pixels; keypoints at exactly (0, 0) are NaN. Track ids come
        from ``track_id`` when every entry has one.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        FormatError: if the file is not valid JSON (file, line, column in the message), not a
            list of results, or mixes keypoint counts.
    """
    path = Path(path)
    return coco_from_document(load_json(path), path, layout=layout)


def coco_from_document(doc: Any, path: Path, *, layout: str | None = None) -> PoseSequence:
    """:func:`read_coco` on an already parsed document (``path`` for messages)."""
    if not isinstance(doc, list):
        hint = (
            " (this is a COCO annotation file; refine results lists)"
            if isinstance(doc, dict) and "annotations" in doc
            else ""
        )
        raise FormatError(f"{path}: expected a JSON list of keypoint results{hint}")
    if not doc:
        raise FormatError(f"{path}: the results list is empty; nothing to refine")
    kps, scores, ids, tids = [], [], [], []
    for i, entry in enumerate(doc):
        if not isinstance(entry, dict) or "image_id" not in entry or "keypoints" not in entry:
            raise FormatError(f'{path}: entry [{i}] needs "image_id" and "keypoints"')
        flat = as_numbers(entry["keypoints"], path, f"[{i}].keypoints")
        if flat.ndim != 1 or flat.size == 0 or flat.size % 3:
            raise FormatError(
                f"{path}: [{i}].keypoints: expected x, y, v for each keypoint, got {flat.size} numbers"
            )
        if kps and flat.size != 3 * kps[0].shape[0]:
            raise FormatError(
                f"{path}: entry [{i}] has {flat.size // 3} keypoints but entry [0] has "
                f"{kps[0].shape[0]}; the file mixes keypoint models: split it first"
            )
        kp = flat.reshape(-1, 3)
        xy = kp[:, :2].copy()
        xy[~np.isfinite(xy).all(axis=1) | (xy == 0).all(axis=1)] = np.nan
        kps.append(xy)
        scores.append(np.nan_to_num(kp[:, 2], nan=0.0))
        ids.append(entry["image_id"])
        tid = entry.get("track_id")
        tids.append(int(tid) if _is_int(tid) and tid >= 0 else -1)
    lay = layout_for(kps[0].shape[0], "2D", layout, path, _DEFAULT_LAYOUTS)
    if all(_is_int(v) for v in ids):
        lo, hi = min(ids), max(ids)
        image_ids: list[Any] = list(range(lo, hi + 1))
        frame = np.array(ids) - lo
    else:
        image_ids = sorted(set(map(str, ids)), key=natural_key)
        index = {v: k for k, v in enumerate(image_ids)}
        frame = np.array([index[str(v)] for v in ids])
        original = {str(v): v for v in ids}
        image_ids = [original[v] for v in image_ids]
    return PoseSequence(
        keypoints=np.stack(kps),
        scores=np.stack(scores),
        frame=frame,
        track_id=file_track_ids(tids),
        num_frames=len(image_ids),
        layout=lay,
        kind="2d",
        format=FORMAT,
        source=path,
        frame_names=tuple(map(str, image_ids)),
        state=_State(doc, image_ids, frame.copy()),
    )


def _state_of(seq: PoseSequence) -> _State:
    return sequence_state(seq, FORMAT, _State)


def _set_keypoints(flat: list, kp: np.ndarray, score: np.ndarray) -> None:
    put_xyc(flat, kp, score, _DECIMALS)


def _bbox_xywh(kp: np.ndarray) -> list[float]:
    ok = np.isfinite(kp).all(axis=1)
    lo, hi = kp[ok].min(axis=0), kp[ok].max(axis=0)
    return [round(float(v), _DECIMALS) for v in (lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1])]


def encode_coco(seq: PoseSequence, *, write_track_ids: bool = False) -> bytes:
    """The output file of ``seq`` (read by :func:`read_coco`).

    Added (gap-filled) entries get the frame's ``image_id``, the track's ``category_id``,
    ``score`` equal to their keypoint score, a ``bbox`` around their keypoints when the
    source entries have one, and ``track_id`` when the source entries have one.

    Raises:
        ValueError: if ``seq`` was not read from a COCO results file.
    """
    state = _state_of(seq)
    doc = copy.deepcopy(state.document)
    added: list[tuple[int, dict[str, Any]]] = []
    last_of_frame = _last_entry_per_frame(state.entry_frame, seq.num_frames)
    for p in range(len(seq)):
        if seq.added[p]:
            template = state.document[seq.origin[p]]
            entry: dict[str, Any] = {
                "image_id": state.image_ids[seq.frame[p]],
                "category_id": template.get("category_id", 1),
                "keypoints": [0.0] * (3 * seq.num_joints),
                "score": float(seq.scores[p].max()),
            }
            if "bbox" in template:
                entry["bbox"] = _bbox_xywh(seq.keypoints[p])
            if "track_id" in template or write_track_ids:
                entry["track_id"] = int(seq.track_id[p])
            added.append((int(last_of_frame[seq.frame[p]]), entry))
        else:
            entry = doc[seq.origin[p]]
        _set_keypoints(entry["keypoints"], seq.keypoints[p], seq.scores[p])
        if write_track_ids:
            entry["track_id"] = int(seq.track_id[p])
    if added:
        keyed = [((i, 0), e) for i, e in enumerate(doc)] + [((pos, 1), e) for pos, e in added]
        keyed.sort(key=lambda item: item[0])
        doc = [e for _, e in keyed]
    return dump_json(doc)


def _last_entry_per_frame(entry_frame: np.ndarray, num_frames: int) -> np.ndarray:
    """Index of the last entry whose frame is <= each frame (-1 before the first)."""
    last = np.full(num_frames, -1, dtype=np.int64)
    np.maximum.at(last, entry_frame, np.arange(len(entry_frame)))
    return np.maximum.accumulate(last)


def write_coco(
    seq: PoseSequence, path: str | Path, *, overwrite: bool = False, write_track_ids: bool = False
) -> None:
    """Write ``seq`` as a COCO results file at ``path`` (see :func:`encode_coco`).

    Raises:
        FileExistsError: if ``path`` exists or is the input and ``overwrite`` is False.
    """
    path = Path(path)
    check_output(path, overwrite=overwrite, inputs=(seq.source,) if seq.source else ())
    write_outputs(path, encode_coco(seq, write_track_ids=write_track_ids))
