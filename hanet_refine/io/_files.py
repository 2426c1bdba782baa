"""File helpers shared by the readers and writers: JSON with positions in errors, natural
ordering of frame files, and all-or-nothing writing of outputs."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FormatError",
    "as_numbers",
    "check_output",
    "dump_json",
    "layout_for",
    "load_json",
    "natural_key",
    "write_outputs",
]


class FormatError(ValueError):
    """A file that cannot be read as the expected keypoint format.

    The message names the file and, where known, the position (line and column) or the
    JSON path of the bad value.
    """


def load_json(path: Path) -> Any:
    """Parse the JSON file ``path``.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        FormatError: if the file is not valid UTF-8 JSON (truncated, corrupt); the message holds
            the line and column that the parser stopped at.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except UnicodeDecodeError as err:
        raise FormatError(f"{path}: not a UTF-8 text file (byte {err.start}); expected JSON") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        truncated = err.pos >= len(text.rstrip()) or err.msg.startswith("Unterminated string")
        hint = " (the file looks truncated)" if truncated else ""
        raise FormatError(
            f"{path}: line {err.lineno} column {err.colno}: invalid JSON: {err.msg}{hint}"
        ) from None


def _finite(value: Any) -> Any:
    # json writes NaN/Infinity, which strict parsers reject: write null instead.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dump_json(document: Any, *, indent: int | None = None) -> bytes:
    """Serialise ``document`` to UTF-8 JSON bytes (non-finite floats become ``null``)."""

    def clean(obj: Any) -> Any:
        if isinstance(obj, dict):
            return {k: clean(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return _finite(obj)

    text = json.dumps(
        clean(document),
        indent=indent,
        separators=(",", ":") if indent is None else None,
        allow_nan=False,
        ensure_ascii=False,
    )
    return text.encode("utf-8")


_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that orders ``frame_2`` before ``frame_10``."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in _DIGITS.split(name) if p)


def check_output(output: Path, *, overwrite: bool, inputs: tuple[Path, ...] = ()) -> None:
    """Refuse to write over an input or an existing output unless ``overwrite`` is set.

    Raises:
        FileExistsError: if ``output`` exists (a non-empty folder or any file) or is one of
            ``inputs`` and ``overwrite`` is False.
    """
    output = Path(output)
    if overwrite:
        return
    resolved = output.resolve()
    for src in inputs:
        if Path(src).resolve() == resolved:
            raise FileExistsError(
                f"{output}: output is the input; choose another output or pass overwrite=True "
                "(--overwrite) to replace the input"
            )
    if output.is_dir():
        if any(output.iterdir()):
            raise FileExistsError(
                f"{output}: folder exists and is not empty; pass overwrite=True (--overwrite) "
                "or choose a new folder"
            )
    elif output.exists():
        raise FileExistsError(
            f"{output}: file exists; pass overwrite=True (--overwrite) or choose another name"
        )


def _atomic_file(path: Path, data: bytes) -> None:
    # Write beside the target, then rename: readers never see half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_outputs(output: Path, files: Mapping[str, bytes] | bytes) -> None:
    """Write one file (``files`` is bytes) or a folder of files (``files`` maps name to bytes).

    Every byte is computed before this is called; a file is written to a temporary file in the
    same folder and renamed over the target, and a new folder is built under a temporary name
    and renamed into place, so a failure leaves no partial output.
    """
    output = Path(output)
    if isinstance(files, bytes):
        if output.is_dir():
            raise FileExistsError(f"{output}: is a folder; the output of this format is one file")
        output.parent.mkdir(parents=True, exist_ok=True)
        _atomic_file(output, files)
        return
    if output.exists() and not output.is_dir():
        raise FileExistsError(f"{output}: is a file; the output of this format is a folder")
    if not output.exists():
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.", suffix=".tmp"))
        try:
            for name, data in files.items():
                (tmp / name).write_bytes(data)
            os.replace(tmp, output)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return
    for name, data in files.items():
        _atomic_file(output / name, data)


def as_numbers(value: Any, path: Path, where: str) -> np.ndarray:
    """``value`` (a JSON list of numbers, possibly nested) as a float64 array.

    ``null`` becomes NaN. Raises :class:`FormatError` naming ``path`` and the JSON location
    ``where`` if a value is not a number.
    """
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(f"{path}: {where}: expected a list of numbers, got {_preview(value)}") from None
    return arr


def _preview(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def layout_for(num_joints: int, kind: str, layout: str | None, path: Path, defaults: dict[int, str]) -> str:
    """The layout name of ``num_joints`` joints: ``layout`` when given (checked), else the
    format's default for that count.

    Raises:
        FormatError: if ``layout`` has another joint count, or the count has no default.
    """
    from ..layouts import LAYOUTS, get_layout

    if layout is not None:
        lay = get_layout(layout)
        if lay.num_joints != num_joints:
            raise FormatError(
                f"{path}: {num_joints} keypoints per person, but layout {lay.name!r} has "
                f"{lay.num_joints}; pass a layout with {num_joints} joints"
            )
        return lay.name
    if num_joints in defaults:
        return defaults[num_joints]
    known = ", ".join(f"{n} ({LAYOUTS[n].num_joints})" for n in sorted(LAYOUTS))
    raise FormatError(
        f"{path}: {num_joints} keypoints per person is not a known {kind} layout; "
        f"pass layout=... (--layout) naming one of: {known}"
    )


def put_number(container: Any, key: Any, value: float, decimals: int | None = None) -> None:
    """Set ``container[key] = value`` (rounded to ``decimals``) unless it already holds that
    value, so that values a writer did not change keep their exact text."""
    value = float(value)
    old = container[key]
    if isinstance(old, (int, float)) and not isinstance(old, bool) and float(old) == value:
        return
    container[key] = round(value, decimals) if decimals is not None else value


def sequence_state(seq: Any, fmt: str, state_type: type) -> Any:
    """The format-specific state of a sequence read as ``fmt`` (needed to write it back)."""
    if seq.format != fmt or not isinstance(seq.state, state_type):
        raise ValueError(
            f"this sequence was read as {seq.format!r}, not {fmt!r}; a sequence is written "
            "in the format it was read from"
        )
    return seq.state


def put_xyc(flat: list, kp: Any, score: Any, decimals: int) -> None:
    """Write the finite keypoints of ``kp`` (J, 2) and their scores into a flat [x, y, c, ...] list."""
    for j in np.flatnonzero(np.isfinite(kp).all(axis=1)):
        put_number(flat, 3 * j, kp[j, 0], decimals)
        put_number(flat, 3 * j + 1, kp[j, 1], decimals)
        put_number(flat, 3 * j + 2, score[j])


def file_track_ids(ids: list[int]) -> np.ndarray:
    """Track ids read from a file, or all -1 (let the tracker link) unless every detection has one."""
    tid = np.array(ids, dtype=np.int64)
    return tid if (tid >= 0).all() else np.full(len(tid), -1)
