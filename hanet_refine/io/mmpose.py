"""MMPose prediction files (MMPose 1.x ``MMPoseInferencer(..., pred_out_dir=...)`` and its demos).

Each detected person is an *instance*::

    {"keypoints": [[x, y], ...], "keypoint_scores": [s, ...],
     "bbox": [[x1, y1, x2, y2]], "bbox_score": 0.98, "track_id": 3}

(``bbox``, ``bbox_score`` and ``track_id`` are optional; 3D models write ``[x, y, z]``
keypoints; MMPose 0.x writes ``[x, y, score]`` keypoints and no ``keypoint_scores``).
Accepted layouts of instances:

- a video: a JSON list of ``{"frame_id": i, "instances": [...]}``, one per frame (what the
  inferencer writes for a video);
- the demo scripts' ``{"meta_info": {...}, "instance_info": [{"frame_id": i, "instances": [...]}]}``;
- images: a folder of per-image JSON files, each a list of instances (what the inferencer
  writes for a folder of frames), frames in natural file-name order;
- one JSON list of instances (a single frame).

Writing keeps the same layout and every field, changing only keypoint coordinates (and the
scores of filled keypoints). ``bbox`` is not recomputed.
"""

from __future__ import annotations

import copy
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
    put_number,
    sequence_state,
    write_outputs,
)
from .sequence import PoseSequence

__all__ = ["FORMAT", "encode_mmpose", "mmpose_form", "mmpose_from_document", "read_mmpose", "write_mmpose"]

FORMAT = "mmpose"
_DEFAULT_LAYOUTS = {"2d": {17: "coco17", 26: "halpe26"}, "3d": {17: "h36m17"}}


@dataclass
class _State:
    form: str  # "video", "demo", "images", "single"
    documents: list[Any]  # one per file ("images") or one
    names: list[str]
    entries: list[tuple[int, int]]  # (frame, instance index) of each source detection
    scores_inside: bool  # MMPose 0.x: [x, y, score] keypoints, no keypoint_scores


def _is_instance(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and "keypoints" in obj
        and isinstance(obj["keypoints"], list)
        and (not obj["keypoints"] or isinstance(obj["keypoints"][0], list))
    )


def mmpose_form(doc: Any) -> str | None:
    """Which MMPose layout a parsed JSON document has: ``"video"``, ``"demo"``, ``"single"``
    (a list of instances), or None when it is none of them."""
    if isinstance(doc, dict) and isinstance(doc.get("instance_info"), list):
        return "demo"
    if isinstance(doc, list) and doc and isinstance(doc[0], dict) and "instances" in doc[0]:
        return "video"
    if isinstance(doc, list) and doc and _is_instance(doc[0]):
        return "single"
    return None


def read_mmpose(path: str | Path, *, layout: str | None = None, progress: bool = False) -> PoseSequence:
    """Read MMPose predictions: a ``.json`` file or a folder of per-image ``.json`` files.

    Args:
        path: the file or folder.
        layout: the keypoints' layout; by default ``"coco17"`` (17 2D keypoints), ``"halpe26"``
            (26) or ``"h36m17"`` (17 3D keypoints).
        progress: show a progress bar while reading a folder.

    Returns:
        A :class:`PoseSequence` (kind ``"2d"`` in pixels, or ``"3d"`` for 3D keypoints).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        FormatError: if a file is not valid JSON (file, line and column in the message), is
            not one of the layouts above, or instances mix keypoint counts or dimensions.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(path.glob("*.json"), key=lambda p: natural_key(p.name))
        if not files:
            raise FormatError(f"{path}: no .json files in this folder (MMPose per-image predictions)")
        docs = []
        for file in tqdm(files, desc="reading", unit="frame", disable=not progress):
            doc = load_json(file)
            if not isinstance(doc, list) or (doc and not _is_instance(doc[0])):
                raise FormatError(
                    f"{file}: expected a JSON list of MMPose instances (objects with "
                    '"keypoints": [[x, y], ...])'
                )
            docs.append(doc)
        return _build("images", docs, [f.name for f in files], docs, path, layout, files)
    return mmpose_from_document(load_json(path), path, layout=layout)


def mmpose_from_document(doc: Any, path: Path, *, layout: str | None = None) -> PoseSequence:
    """:func:`read_mmpose` on an already parsed single-file document (``path`` for messages)."""
    form = mmpose_form(doc)
    if form == "demo":
        frames = doc["instance_info"]
    elif form == "video":
        frames = doc
    elif form == "single":
        return _build("single", [doc], [path.name], [doc], path, layout, [path])
    else:
        raise FormatError(
            f'{path}: not MMPose predictions: expected a list of {{"frame_id", "instances"}}, '
            'an object with "instance_info", or a list of instances'
        )
    lists = []
    for f, item in enumerate(frames):
        if not isinstance(item, dict) or not isinstance(item.get("instances"), list):
            where = "instance_info" if form == "demo" else ""
            raise FormatError(f'{path}: {where}[{f}] has no "instances" list')
        lists.append(item["instances"])
    names = [str(item.get("frame_id", f)) for f, item in enumerate(frames)]
    return _build(form, [doc], names, lists, path, layout, [path] * len(lists))


def _build(
    form: str,
    docs: list[Any],
    names: list[str],
    frames: list[list[Any]],
    path: Path,
    layout: str | None,
    files: list[Path],
) -> PoseSequence:
    kps, scores, fidx, tids, entries = [], [], [], [], []
    shape: tuple[int, int] | None = None
    scores_inside = None
    any_scores = False
    for f, instances in enumerate(frames):
        file = files[f]
        for i, inst in enumerate(instances):
            where = f"frame {names[f]} instance [{i}]" if form in ("video", "demo") else f"[{i}]"
            if not isinstance(inst, dict) or "keypoints" not in inst:
                raise FormatError(f'{file}: {where} has no "keypoints"')
            kp = as_numbers(inst["keypoints"], file, f"{where}.keypoints")
            if kp.ndim != 2 or kp.shape[0] == 0 or kp.shape[1] not in (2, 3):
                raise FormatError(
                    f"{file}: {where}.keypoints: expected a list of [x, y] or [x, y, z], got shape {kp.shape}"
                )
            inside = "keypoint_scores" not in inst and kp.shape[1] == 3
            if shape is None:
                shape, scores_inside = kp.shape, inside
            elif kp.shape != shape or inside != scores_inside:
                raise FormatError(
                    f"{file}: {where} has keypoints of shape {kp.shape} but the first instance has "
                    f"{shape}; the file mixes keypoint models: split it first"
                )
            if inside:
                sc, kp = kp[:, 2], kp[:, :2].copy()
            elif "keypoint_scores" in inst:
                sc = as_numbers(inst["keypoint_scores"], file, f"{where}.keypoint_scores")
                any_scores = True
                if sc.shape != (kp.shape[0],):
                    raise FormatError(
                        f"{file}: {where}: {sc.size} keypoint_scores for {kp.shape[0]} keypoints"
                    )
            else:
                sc = np.ones(kp.shape[0])
            bad = ~np.isfinite(kp).all(axis=1)
            if kp.shape[1] == 2:
                bad |= (kp == 0).all(axis=1)
            kp[bad] = np.nan
            kps.append(kp)
            scores.append(np.nan_to_num(sc, nan=0.0))
            fidx.append(f)
            tid = inst.get("track_id")
            tids.append(int(tid) if isinstance(tid, int) and not isinstance(tid, bool) and tid >= 0 else -1)
            entries.append((f, i))
    if shape is None:
        raise FormatError(f"{path}: no instance in any of the {len(frames)} frames; nothing to refine")
    kind = "2d" if shape[1] == 2 or scores_inside else "3d"
    lay = layout_for(shape[0], kind, layout, path, _DEFAULT_LAYOUTS[kind])
    return PoseSequence(
        keypoints=np.stack(kps),
        scores=np.stack(scores),
        frame=np.array(fidx),
        track_id=file_track_ids(tids),
        num_frames=len(frames),
        layout=lay,
        kind=kind,
        format=FORMAT,
        source=path,
        has_scores=bool(scores_inside) or any_scores,
        frame_names=tuple(names),
        state=_State(form, docs, names, entries, bool(scores_inside)),
    )


def _state_of(seq: PoseSequence) -> _State:
    return sequence_state(seq, FORMAT, _State)


def _frame_instances(state: _State, docs: list[Any], f: int) -> list[Any]:
    if state.form == "images":
        return docs[f]
    if state.form == "single":
        return docs[0]
    if state.form == "demo":
        return docs[0]["instance_info"][f]["instances"]
    return docs[0][f]["instances"]


def encode_mmpose(seq: PoseSequence, *, write_track_ids: bool = False) -> dict[str, bytes] | bytes:
    """The output of ``seq`` (read by :func:`read_mmpose`): bytes of one file, or a mapping of
    file names to bytes for a folder of per-image files.

    Added (gap-filled) instances get ``keypoints`` and ``keypoint_scores``, a ``bbox`` around
    their keypoints and ``bbox_score`` (their keypoint score) when the track's instances have
    them, and ``track_id`` when those have one.

    Raises:
        ValueError: if ``seq`` was not read from MMPose predictions.
    """
    state = _state_of(seq)
    docs = copy.deepcopy(state.documents)
    decimals = 3 if seq.kind == "2d" else 6
    for p in range(len(seq)):
        f, i = state.entries[seq.origin[p]]
        if seq.added[p]:
            template = _frame_instances(state, state.documents, f)[i]
            width = 3 if state.scores_inside else seq.dim
            inst: dict[str, Any] = {"keypoints": [[0.0] * width for _ in range(seq.num_joints)]}
            if "keypoint_scores" in template:
                inst["keypoint_scores"] = [0.0] * seq.num_joints
            ok = np.isfinite(seq.keypoints[p]).all(axis=1)
            if "bbox" in template and seq.dim == 2 and ok.any():
                lo, hi = seq.keypoints[p][ok].min(axis=0), seq.keypoints[p][ok].max(axis=0)
                inst["bbox"] = [[round(float(v), decimals) for v in (*lo, *hi)]]
                if "bbox_score" in template:
                    inst["bbox_score"] = float(seq.scores[p].max())
            if "track_id" in template or write_track_ids:
                inst["track_id"] = int(seq.track_id[p])
            _frame_instances(state, docs, int(seq.frame[p])).append(inst)
        else:
            inst = _frame_instances(state, docs, f)[i]
        kp, sc = seq.keypoints[p], seq.scores[p]
        for j in np.flatnonzero(np.isfinite(kp).all(axis=1)):
            for c in range(seq.dim):
                put_number(inst["keypoints"][j], c, kp[j, c], decimals)
            if state.scores_inside:
                put_number(inst["keypoints"][j], 2, sc[j])
            elif "keypoint_scores" in inst:
                put_number(inst["keypoint_scores"], j, sc[j])
        if write_track_ids:
            inst["track_id"] = int(seq.track_id[p])
    if state.form == "images":
        return {name: dump_json(doc) for name, doc in zip(state.names, docs, strict=True)}
    return dump_json(docs[0])


def write_mmpose(
    seq: PoseSequence, path: str | Path, *, overwrite: bool = False, write_track_ids: bool = False
) -> None:
    """Write ``seq`` in its MMPose layout at ``path`` (see :func:`encode_mmpose`).

    Raises:
        FileExistsError: if ``path`` exists (a non-empty folder) or is the input and
            ``overwrite`` is False.
    """
    path = Path(path)
    check_output(path, overwrite=overwrite, inputs=(seq.source,) if seq.source else ())
    write_outputs(path, encode_mmpose(seq, write_track_ids=write_track_ids))
