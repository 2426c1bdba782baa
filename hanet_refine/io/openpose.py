"""OpenPose output: a folder of per-frame ``*_keypoints.json`` files (``--write_json``).

Each file is ``{"version": ..., "people": [{"person_id": [-1], "pose_keypoints_2d": [x, y, c,
...], "face_keypoints_2d": [...], "hand_left_keypoints_2d": [...], ...}, ...]}``. The body
keypoints are BODY_25 (25 per person, layout ``"body25"``) or the COCO-18 model (18, layout
``"openpose18"``); a joint OpenPose did not find is written as ``0, 0, 0``.

Writing produces the same file names with every field as it was (face and hand keypoints,
ids, version, part candidates...) and only the body keypoints' x, y refined. Joints written as
``0, 0, 0`` stay so, unless gap filling is asked for.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

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

__all__ = ["FORMAT", "PATTERN", "encode_openpose", "find_frame_files", "read_openpose", "write_openpose"]

logger = logging.getLogger(__name__)

FORMAT = "openpose"
PATTERN = "*_keypoints.json"
_DEFAULT_LAYOUTS = {25: "body25", 18: "openpose18"}
_MODEL_NAMES = {25: "BODY_25", 18: "COCO-18", 15: "MPI-15"}
_DECIMALS = 3  # pixels: a thousandth of a pixel is far below any estimator's error


@dataclass
class _State:
    names: list[str]
    documents: list[dict[str, Any]]
    entries: list[tuple[int, int]]  # (file index, person index) of each source detection


def find_frame_files(folder: Path) -> list[Path]:
    """The ``*_keypoints.json`` files of ``folder`` in natural (frame) order."""
    return sorted(Path(folder).glob(PATTERN), key=lambda p: natural_key(p.name))


def _track_id(person: dict[str, Any]) -> int:
    pid = person.get("person_id", -1)
    if isinstance(pid, list) and len(pid) == 1:
        pid = pid[0]
    return int(pid) if isinstance(pid, (int, float)) and not isinstance(pid, bool) and pid >= 0 else -1


def read_openpose(path: str | Path, *, layout: str | None = None, progress: bool = False) -> PoseSequence:
    """Read an OpenPose ``--write_json`` folder.

    Args:
        path: the folder holding the ``*_keypoints.json`` files (one per frame, in natural order).
        layout: the body model's layout; by default ``"body25"`` for 25 keypoints and
            ``"openpose18"`` for 18.
        progress: show a progress bar while reading.

    Returns:
        A :class:`PoseSequence` in pixels; ``0, 0, 0`` joints are NaN with score 0. Track ids
        come from ``person_id`` when every person has one >= 0 (OpenPose's tracker), else -1.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        FormatError: if the folder has no keypoint files, a file is not valid JSON (the message
            names file, line and column), a person has no body keypoints, or files mix body
            models (e.g. BODY_25 and COCO-18).

    Example:
        >>> seq = read_openpose("output_json/")  # doctest: +SKIP
        >>> seq.layout, seq.num_frames
        ('body25', 300)
    """
    folder = Path(path)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise FormatError(
            f"{folder}: OpenPose output is a folder of {PATTERN} files; pass the folder "
            f"({folder.parent}) instead of one file"
        )
    files = find_frame_files(folder)
    if not files:
        raise FormatError(f"{folder}: no {PATTERN} files in this folder (OpenPose --write_json output)")
    others = len(list(folder.glob("*.json"))) - len(files)
    if others:
        logger.info("%s: ignoring %d .json files not named %s", folder, others, PATTERN)

    docs, entries, rows, scores, frames, tids = [], [], [], [], [], []
    first: tuple[Path, int] | None = None
    for fi, file in enumerate(tqdm(files, desc="reading", unit="frame", disable=not progress)):
        doc = load_json(file)
        if not isinstance(doc, dict) or not isinstance(doc.get("people"), list):
            raise FormatError(f'{file}: expected an object with a "people" list (OpenPose keypoints)')
        for pi, person in enumerate(doc["people"]):
            where = f"people[{pi}].pose_keypoints_2d"
            if not isinstance(person, dict) or "pose_keypoints_2d" not in person:
                raise FormatError(f'{file}: people[{pi}] has no "pose_keypoints_2d"')
            flat = as_numbers(person["pose_keypoints_2d"], file, where)
            if flat.ndim != 1 or flat.size == 0 or flat.size % 3:
                raise FormatError(
                    f"{file}: {where}: expected x, y, c for each keypoint, got {flat.size} numbers"
                    + (" (OpenPose was run without the body model)" if flat.size == 0 else "")
                )
            j = flat.size // 3
            if first is None:
                first = (file, j)
            elif j != first[1]:
                raise FormatError(
                    f"{file}: {j} keypoints per person ({_MODEL_NAMES.get(j, 'unknown model')}) but "
                    f"{first[0].name} "
                    f"has {first[1]} ({_MODEL_NAMES.get(first[1], 'unknown model')}); the folder mixes body "
                    "models: refine each model's output separately"
                )
            kp = flat.reshape(j, 3)
            xy = kp[:, :2].copy()
            xy[~np.isfinite(xy).all(axis=1) | (xy == 0).all(axis=1)] = np.nan
            rows.append(xy)
            scores.append(np.nan_to_num(kp[:, 2], nan=0.0))
            frames.append(fi)
            tids.append(_track_id(person))
            entries.append((fi, pi))
        docs.append(doc)
    if first is None:
        raise FormatError(
            f"{folder}: no person in any of the {len(files)} {PATTERN} files; nothing to refine"
        )
    lay = layout_for(first[1], "OpenPose", layout, first[0], _DEFAULT_LAYOUTS)
    return PoseSequence(
        keypoints=np.stack(rows),
        scores=np.stack(scores),
        frame=np.array(frames),
        track_id=file_track_ids(tids),
        num_frames=len(files),
        layout=lay,
        kind="2d",
        format=FORMAT,
        source=folder,
        frame_names=tuple(f.name for f in files),
        state=_State([f.name for f in files], docs, entries),
    )


def _state_of(seq: PoseSequence) -> _State:
    return sequence_state(seq, FORMAT, _State)


def _set_keypoints(flat: list, kp: np.ndarray, score: np.ndarray) -> None:
    put_xyc(flat, kp, score, _DECIMALS)


def encode_openpose(seq: PoseSequence, *, write_track_ids: bool = False) -> dict[str, bytes]:
    """The output files of ``seq`` (read by :func:`read_openpose`), by file name.

    Only the x, y (and for filled joints, c) of ``pose_keypoints_2d`` differ from the input;
    keypoints that are NaN in ``seq`` keep the file's values. People added by gap filling are
    appended to their frame's ``people`` with the other fields of the same track's nearest
    detection emptied (``[]``).

    Args:
        seq: a sequence read by :func:`read_openpose`, keypoints changed.
        write_track_ids: write each person's track id into ``person_id``.

    Raises:
        ValueError: if ``seq`` was not read from OpenPose files.
    """
    state = _state_of(seq)
    docs = copy.deepcopy(state.documents)
    for p in range(len(seq)):
        fi, pi = state.entries[seq.origin[p]]
        if seq.added[p]:
            template = state.documents[fi]["people"][pi]
            person = {
                k: (copy.deepcopy(v) if k == "person_id" else [] if isinstance(v, list) else v)
                for k, v in template.items()
            }
            person["pose_keypoints_2d"] = [0.0] * (3 * seq.num_joints)
            docs[seq.frame[p]]["people"].append(person)
        else:
            person = docs[fi]["people"][pi]
        _set_keypoints(person["pose_keypoints_2d"], seq.keypoints[p], seq.scores[p])
        if write_track_ids:
            person["person_id"] = [int(seq.track_id[p])]
    return {name: dump_json(doc) for name, doc in zip(state.names, docs, strict=True)}


def write_openpose(
    seq: PoseSequence, path: str | Path, *, overwrite: bool = False, write_track_ids: bool = False
) -> None:
    """Write ``seq`` as an OpenPose folder at ``path`` (see :func:`encode_openpose`).

    Raises:
        FileExistsError: if ``path`` is a non-empty folder or the input and ``overwrite`` is False.
    """
    path = Path(path)
    check_output(path, overwrite=overwrite, inputs=(seq.source,) if seq.source else ())
    write_outputs(path, encode_openpose(seq, write_track_ids=write_track_ids))
