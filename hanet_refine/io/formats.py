"""Format detection and the generic :func:`read` / :func:`write`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import coco, mediapipe, mmpose, numpy_io, openpose
from ._files import FormatError, check_output, load_json, write_outputs
from .sequence import PoseSequence

__all__ = ["FORMATS", "detect_format", "encode", "read", "write"]

#: Format names, as ``--format`` takes them.
FORMATS = ("openpose", "coco", "mmpose", "mediapipe", "npy")


def _check_format(format: str) -> None:
    if format != "auto" and format not in FORMATS:
        raise ValueError(f"unknown format {format!r}; known formats: {', '.join(FORMATS)} (or 'auto')")


def _format_of_document(doc: Any) -> str | None:
    if coco.looks_like_coco(doc):
        return "coco"
    if mmpose.mmpose_form(doc) is not None:
        return "mmpose"
    if mediapipe.looks_like_mediapipe(doc):
        return "mediapipe"
    return None


def _unknown(path: Path, what: str) -> FormatError:
    return FormatError(
        f"{path}: cannot tell the format of {what}; pass format=... (--format) naming one of: "
        f"{', '.join(FORMATS)}"
    )


def detect_format(path: str | Path) -> str:
    """The format of the file or folder at ``path``.

    A folder with ``*_keypoints.json`` files is OpenPose, a folder of other ``.json`` files is
    MMPose per-image predictions, ``.npy`` / ``.npz`` are arrays, and a ``.json`` file is
    recognised by its content (COCO results, MMPose predictions, MediaPipe landmarks).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        FormatError: if the format cannot be told; the message lists the known formats.
    """
    path = Path(path)
    return _detect(path)[0]


def _detect(path: Path) -> tuple[str, Any]:
    """(format, parsed JSON document or None)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        if openpose.find_frame_files(path):
            return "openpose", None
        if any(path.glob("*.json")):
            return "mmpose", None
        raise _unknown(path, "this folder (no *_keypoints.json or .json files)")
    if path.suffix in numpy_io.SUFFIXES:
        return "npy", None
    if path.name.endswith("_keypoints.json"):
        raise FormatError(
            f"{path}: OpenPose output is a folder of *_keypoints.json files; pass the folder ({path.parent})"
        )
    if path.suffix.lower() != ".json":
        raise _unknown(
            path, f"a {path.suffix or 'suffix-less'} file (expected a folder, .json, .npy or .npz)"
        )
    doc = load_json(path)
    fmt = _format_of_document(doc)
    if fmt is None:
        if isinstance(doc, list) and not doc:
            raise FormatError(f"{path}: the file holds an empty list; nothing to refine")
        raise _unknown(path, "this JSON file")
    return fmt, doc


def read(
    path: str | Path,
    format: str = "auto",
    *,
    kind: str | None = None,
    layout: str | None = None,
    image_size: tuple[float, float] | None = None,
    key: str | None = None,
    progress: bool = False,
) -> PoseSequence:
    """Read keypoints of any supported format.

    Args:
        path: a file or folder.
        format: ``"auto"`` (see :func:`detect_format`) or one of :data:`FORMATS`.
        kind: for arrays, how to read the last axis (default ``"2d"``); for other formats, the
            kind the file must hold (checked).
        layout: the joint layout when the format's default for the joint count is not it.
        image_size: ``(width, height)`` for MediaPipe files without it.
        key: the array of an ``.npz`` file.
        progress: show a progress bar while reading folders.

    Returns:
        The :class:`PoseSequence`.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        FormatError: if the file is corrupt or not the format (the message names the file and
            the position).
        ValueError: on an unknown format, or an option that does not apply to the format.

    Example:
        >>> from hanet_refine.io import read
        >>> seq = read("output_json/")  # doctest: +SKIP
        >>> seq.format, seq.layout, len(seq)
        ('openpose', 'body25', 612)
    """
    path = Path(path)
    _check_format(format)
    doc = None
    if format == "auto":
        format, doc = _detect(path)
    if image_size is not None and format != "mediapipe":
        raise ValueError(
            f"image_size (--image-size) only applies to MediaPipe landmarks, not {format!r} input"
        )
    if key is not None and format != "npy":
        raise ValueError(f"key (--key) only applies to .npz files, not {format!r} input")
    if format == "npy":
        return numpy_io.read_numpy(path, kind=kind or "2d", layout=layout, key=key)
    if format == "openpose":
        seq = openpose.read_openpose(path, layout=layout, progress=progress)
    elif format == "mmpose":
        seq = (
            mmpose.read_mmpose(path, layout=layout, progress=progress)
            if doc is None
            else mmpose.mmpose_from_document(doc, path, layout=layout)
        )
    elif format == "coco":
        seq = (
            coco.read_coco(path, layout=layout)
            if doc is None
            else coco.coco_from_document(doc, path, layout=layout)
        )
    else:
        if doc is None:
            seq = mediapipe.read_mediapipe(path, image_size=image_size, layout=layout)
        else:
            seq = mediapipe.mediapipe_from_document(doc, path, image_size=image_size, layout=layout)
    if kind is not None and kind != seq.kind:
        raise FormatError(f"{path}: holds {seq.kind} keypoints ({format}), but kind={kind!r} was asked for")
    return seq


def encode(seq: PoseSequence, *, write_track_ids: bool = False) -> bytes | dict[str, bytes]:
    """The bytes of ``seq`` in its format: one file, or file names to bytes for a folder."""
    if seq.format == "openpose":
        return openpose.encode_openpose(seq, write_track_ids=write_track_ids)
    if seq.format == "coco":
        return coco.encode_coco(seq, write_track_ids=write_track_ids)
    if seq.format == "mmpose":
        return mmpose.encode_mmpose(seq, write_track_ids=write_track_ids)
    if write_track_ids:
        raise ValueError(f"{seq.format!r} files have no place for track ids; drop write_track_ids")
    if seq.format == "mediapipe":
        return mediapipe.encode_mediapipe(seq)
    if seq.format == "npy":
        return numpy_io.encode_numpy(seq)
    raise ValueError(f"unknown format {seq.format!r}; known formats: {', '.join(FORMATS)}")


def write(
    seq: PoseSequence, path: str | Path, *, overwrite: bool = False, write_track_ids: bool = False
) -> None:
    """Write ``seq`` at ``path`` in the format it was read from.

    Every output byte is computed first; files are written to temporary names in the same
    folder and renamed into place, so a failure leaves nothing half written.

    Args:
        seq: a sequence from :func:`read`, keypoints changed.
        path: the output file, or folder for OpenPose and MMPose per-image input.
        overwrite: allow replacing an existing output or the input itself.
        write_track_ids: store track ids in the output (OpenPose ``person_id``, COCO and MMPose
            ``track_id``).

    Raises:
        FileExistsError: if ``path`` exists (a non-empty folder) or is the input and
            ``overwrite`` is False.
        ValueError: if ``seq`` cannot be written in its format (see the ``encode_*`` functions).
    """
    path = Path(path)
    check_output(path, overwrite=overwrite, inputs=(seq.source,) if seq.source else ())
    if seq.format == "npy" and seq.source is not None and Path(seq.source).suffix != path.suffix:
        raise ValueError(f"{path}: the output must be a {Path(seq.source).suffix} file like the input")
    write_outputs(path, encode(seq, write_track_ids=write_track_ids))
