"""Reading BVH motion-capture files, from disk or streamed out of ``.tar.xz`` archives.

A BVH file has a ``HIERARCHY`` part (a tree of joints, each with an ``OFFSET`` from its parent
and a list of ``CHANNELS``; leaves may end in an ``End Site`` with an offset only) and a
``MOTION`` part (``Frames:``, ``Frame Time:`` and one line of channel values per frame, in
the order the channels are declared, depth first). Any channel order and any subset of the
six channels (``Xposition Yposition Zposition Xrotation Yrotation Zrotation``) per joint is
accepted; rotations are in degrees, lengths in the file's unit.

The ``MOTION`` block is parsed by one ``np.loadtxt`` call (C parser, no Python loop over
values, about 100 MB/s); a slow per-line pass only runs to locate the bad line when the block
is malformed.

Example:
    >>> from hanet_refine.train.bvh import iter_archive
    >>> for name, bvh in iter_archive("bandai-namco-motion-1.tar.xz"):  # doctest: +SKIP
    ...     print(name, bvh.num_frames, bvh.fps)
"""

from __future__ import annotations

import os
import re
import tarfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "CHANNEL_NAMES",
    "Bvh",
    "BvhFormatError",
    "archive_paths",
    "iter_archive",
    "list_archive",
    "mocap_dir",
    "parse_archive_name",
    "parse_bvh",
    "read_bvh",
]

#: Canonical channel names; file channel names are matched case-insensitively.
CHANNEL_NAMES = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")
_CANONICAL = {c.lower(): c for c in CHANNEL_NAMES}

#: Default location of the mocap archives, relative to the current directory.
DEFAULT_MOCAP_DIR = "../shared/data/bandai-namco-motion"
#: Environment variable that overrides :data:`DEFAULT_MOCAP_DIR`.
MOCAP_DIR_ENV = "HANET_MOCAP_DIR"


class BvhFormatError(ValueError):
    """A BVH text that cannot be parsed; the message names the source and the line."""


@dataclass(frozen=True, eq=False)
class Bvh:
    """A parsed BVH file. Arrays are read-only.

    Attributes:
        joint_names: joint names in file (depth-first) order; end sites are not joints.
        parents: index of each joint's parent, -1 for a root (a parent always precedes
            its children).
        offsets: ``(J, 3)`` float64 rest offset of each joint from its parent, file units.
        channels: per joint, its channel names in file order (canonical spelling, see
            :data:`CHANNEL_NAMES`); may be empty.
        frame_time: seconds per frame.
        motion: ``(T, C)`` float64 channel values, ``C = sum(len(c) for c in channels)``.
        end_site_parents: for each end site, the index of the joint it hangs from.
        end_site_offsets: ``(E, 3)`` float64 offsets of the end sites from that joint.
        source: where the text came from (file or archive member name), for messages.
    """

    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    frame_time: float
    motion: np.ndarray
    end_site_parents: tuple[int, ...] = ()
    end_site_offsets: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    source: str = "<string>"

    def __post_init__(self) -> None:
        j = len(self.joint_names)
        if len(self.parents) != j or len(self.channels) != j:
            raise ValueError(
                f"Bvh: {j} joint names but {len(self.parents)} parents and {len(self.channels)} channel lists"
            )
        offsets = np.array(self.offsets, dtype=np.float64).reshape(j, 3)
        motion = np.array(self.motion, dtype=np.float64)
        if motion.ndim != 2 or motion.shape[1] != self.num_channels:
            raise ValueError(
                f"Bvh {self.source}: motion must have shape (T, {self.num_channels}), got {motion.shape}"
            )
        ends = np.array(self.end_site_offsets, dtype=np.float64).reshape(len(self.end_site_parents), 3)
        for name, arr in (("offsets", offsets), ("motion", motion), ("end_site_offsets", ends)):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        for i, p in enumerate(self.parents):
            if not -1 <= p < i:
                raise ValueError(
                    f"Bvh {self.source}: joint {i} has parent {p}; parents must precede children"
                )

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def num_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def channel_starts(self) -> tuple[int, ...]:
        """Column of each joint's first channel in :attr:`motion`."""
        starts, c = [], 0
        for ch in self.channels:
            starts.append(c)
            c += len(ch)
        return tuple(starts)

    def joint_index(self, name: str) -> int:
        """Index of the joint called ``name``.

        Raises:
            ValueError: if there is no such joint; the message lists the joints.
        """
        try:
            return self.joint_names.index(name)
        except ValueError:
            raise ValueError(
                f"{self.source} has no joint {name!r}; joints: {list(self.joint_names)}"
            ) from None

    def channel_values(self, joint: int | str, channel: str) -> np.ndarray:
        """``(T,)`` values of one channel of one joint (a read-only view).

        Raises:
            ValueError: if the joint lacks that channel.
        """
        j = self.joint_index(joint) if isinstance(joint, str) else int(joint)
        name = _CANONICAL.get(channel.lower(), channel)
        if name not in self.channels[j]:
            raise ValueError(
                f"joint {self.joint_names[j]!r} of {self.source} has no channel {channel!r}; "
                f"it has {list(self.channels[j])}"
            )
        return self.motion[:, self.channel_starts[j] + self.channels[j].index(name)]


# ---------------------------------------------------------------------------------------------
# Parsing


def _tokens(lines: list[str], first_line: int) -> list[tuple[str, int]]:
    """Whitespace tokens with 1-based line numbers; braces are always separate tokens."""
    out = []
    for k, line in enumerate(lines):
        for tok in line.replace("{", " { ").replace("}", " } ").split():
            out.append((tok, first_line + k))
    return out


class _Hierarchy:
    """Recursive-descent parser over the HIERARCHY tokens."""

    def __init__(self, tokens: list[tuple[str, int]], source: str, end_line: int) -> None:
        self.toks = tokens
        self.pos = 0
        self.source = source
        self.end_line = end_line
        self.names: list[str] = []
        self.parents: list[int] = []
        self.offsets: list[list[float]] = []
        self.channels: list[tuple[str, ...]] = []
        self.end_parents: list[int] = []
        self.end_offsets: list[list[float]] = []

    def error(self, msg: str, line: int | None = None) -> BvhFormatError:
        if line is None:
            line = self.toks[self.pos][1] if self.pos < len(self.toks) else self.end_line
        return BvhFormatError(f"{self.source}, line {line}: {msg}")

    def next(self, what: str) -> tuple[str, int]:
        if self.pos >= len(self.toks):
            raise self.error(f"unexpected end of HIERARCHY, expected {what}")
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def expect(self, word: str) -> int:
        tok, line = self.next(repr(word))
        if tok.upper() != word.upper():
            raise self.error(f"expected {word!r}, got {tok!r}", line)
        return line

    def numbers(self, n: int, what: str) -> list[float]:
        vals = []
        for _ in range(n):
            tok, line = self.next(f"{n} numbers for {what}")
            try:
                vals.append(float(tok))
            except ValueError:
                raise self.error(f"expected a number for {what}, got {tok!r}", line) from None
        return vals

    def parse(self) -> None:
        self.expect("HIERARCHY")
        if self.pos >= len(self.toks):
            raise self.error("HIERARCHY has no ROOT joint")
        while self.pos < len(self.toks):
            tok, line = self.toks[self.pos]
            if tok.upper() != "ROOT":
                raise self.error(f"expected 'ROOT', got {tok!r}", line)
            self.pos += 1
            self.joint(-1, line)

    def joint(self, parent: int, line: int) -> None:
        # The name is every token up to '{' on the keyword's line (names may contain spaces).
        name_toks = []
        while self.pos < len(self.toks) and self.toks[self.pos][0] != "{" and self.toks[self.pos][1] == line:
            name_toks.append(self.toks[self.pos][0])
            self.pos += 1
        if not name_toks:
            raise self.error("joint without a name", line)
        name = " ".join(name_toks)
        if name in self.names:
            raise self.error(f"joint name {name!r} appears twice", line)
        self.expect("{")
        index = len(self.names)
        self.names.append(name)
        self.parents.append(parent)
        self.expect("OFFSET")
        self.offsets.append(self.numbers(3, f"OFFSET of {name!r}"))
        self.expect("CHANNELS")
        tok, cline = self.next("the channel count")
        if not tok.isdigit():
            raise self.error(f"expected the channel count of {name!r}, got {tok!r}", cline)
        chans = []
        for _ in range(int(tok)):
            ch, chline = self.next(f"{tok} channel names")
            canon = _CANONICAL.get(ch.lower())
            if canon is None:
                raise self.error(
                    f"unknown channel {ch!r} of joint {name!r}; expected one of {CHANNEL_NAMES}", chline
                )
            if canon in chans:
                raise self.error(f"channel {canon!r} repeated in joint {name!r}", chline)
            chans.append(canon)
        self.channels.append(tuple(chans))
        while True:
            tok, tline = self.next(f"'}}' closing joint {name!r}")
            word = tok.upper()
            if tok == "}":
                return
            if word == "JOINT":
                self.joint(index, tline)
            elif word == "END":
                self.end_site(index)
            else:
                raise self.error(
                    f"expected 'JOINT', 'End Site' or '}}' in joint {name!r}, got {tok!r}", tline
                )

    def end_site(self, parent: int) -> None:
        self.expect("Site")
        # Some exporters name end sites ("End Site Head_end"): skip words up to the brace.
        while self.pos < len(self.toks) and self.toks[self.pos][0] != "{":
            self.pos += 1
        self.expect("{")
        self.expect("OFFSET")
        self.end_offsets.append(self.numbers(3, f"End Site OFFSET under {self.names[parent]!r}"))
        self.end_parents.append(parent)
        self.expect("}")


_FRAMES_RE = re.compile(r"^\s*Frames\s*:\s*(\S+)\s*$", re.IGNORECASE)
_FRAME_TIME_RE = re.compile(r"^\s*Frame\s+Time\s*:\s*(\S+)\s*$", re.IGNORECASE)


def _locate_bad_motion_line(lines: list[str], first_line: int, width: int, source: str) -> BvhFormatError:
    """Slow path: find the first MOTION data line that is not ``width`` numbers."""
    for k, line in enumerate(lines):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != width:
            return BvhFormatError(
                f"{source}, line {first_line + k}: expected {width} channel values, got {len(parts)}"
            )
        try:
            [float(p) for p in parts]
        except ValueError as exc:
            return BvhFormatError(f"{source}, line {first_line + k}: {exc}")
    return BvhFormatError(f"{source}, line {first_line}: malformed MOTION data")


def parse_bvh(text: str, *, source: str = "<string>") -> Bvh:
    """Parse the text of a BVH file.

    Args:
        text: the whole file.
        source: a name for the text (file path, archive member), used in error messages.

    Returns:
        The parsed :class:`Bvh`.

    Raises:
        BvhFormatError: (a ``ValueError``) naming ``source`` and the line, for malformed text:
            missing sections, unknown channels, wrong number of values, unreadable numbers.

    Example:
        >>> bvh = parse_bvh(open("walk.bvh").read(), source="walk.bvh")  # doctest: +SKIP
    """
    lines = text.splitlines()
    motion_at = next((k for k, line in enumerate(lines) if line.strip().upper() == "MOTION"), None)
    if motion_at is None:
        raise BvhFormatError(f"{source}, line {len(lines)}: no MOTION line (is this a BVH file?)")
    hier = _Hierarchy(_tokens(lines[:motion_at], 1), source, motion_at + 1)
    hier.parse()
    width = sum(len(c) for c in hier.channels)

    # MOTION header: "Frames: N" then "Frame Time: dt" (blank lines tolerated).
    k = motion_at + 1
    header: dict[str, str] = {}
    for key, regex in (("frames", _FRAMES_RE), ("frame time", _FRAME_TIME_RE)):
        while k < len(lines) and not lines[k].strip():
            k += 1
        match = regex.match(lines[k]) if k < len(lines) else None
        if match is None:
            got = repr(lines[k].strip()) if k < len(lines) else "end of file"
            raise BvhFormatError(f"{source}, line {k + 1}: expected '{key.title()}: ...', got {got}")
        header[key] = match.group(1)
        k += 1
    try:
        frames = int(header["frames"])
        frame_time = float(header["frame time"])
    except ValueError as exc:
        raise BvhFormatError(f"{source}, line {k}: bad MOTION header: {exc}") from None
    if frames < 0 or not frame_time > 0:
        raise BvhFormatError(
            f"{source}, line {k}: need Frames >= 0 and Frame Time > 0, got {frames} and {frame_time}"
        )

    body = lines[k:]
    first_data_line = k + 1
    if not any(line.strip() for line in body):
        motion = np.zeros((0, width))
    elif width == 0:
        raise BvhFormatError(f"{source}, line {first_data_line}: data after MOTION but no channels")
    else:
        # np.loadtxt parses in C and rejects rows of the wrong width; on failure the slow path
        # finds the offending line for the message.
        try:
            motion = np.loadtxt(body, dtype=np.float64, ndmin=2, comments=None)
        except ValueError:
            raise _locate_bad_motion_line(body, first_data_line, width, source) from None
        if motion.shape[1] != width:
            raise _locate_bad_motion_line(body, first_data_line, width, source)
    if motion.shape[0] < frames:
        raise BvhFormatError(
            f"{source}, line {first_data_line + len(body) - 1}: header says Frames: {frames} "
            f"but the file has {motion.shape[0]} frames of data"
        )
    if motion.shape[0] > frames:
        warnings.warn(
            f"{source}: header says Frames: {frames} but the file has {motion.shape[0]} frames of "
            "data; keeping all of them",
            stacklevel=2,
        )
    if not np.isfinite(motion).all():
        bad = int(np.argwhere(~np.isfinite(motion))[0, 0])
        raise BvhFormatError(f"{source}: frame {bad} has a non-finite channel value")
    return Bvh(
        joint_names=tuple(hier.names),
        parents=tuple(hier.parents),
        offsets=np.asarray(hier.offsets, dtype=np.float64).reshape(-1, 3),
        channels=tuple(hier.channels),
        frame_time=frame_time,
        motion=motion,
        end_site_parents=tuple(hier.end_parents),
        end_site_offsets=np.asarray(hier.end_offsets, dtype=np.float64).reshape(-1, 3),
        source=source,
    )


def read_bvh(path: str | os.PathLike[str]) -> Bvh:
    """Read a BVH file from disk.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        BvhFormatError: for malformed files (the message names the file and line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"BVH file not found: {str(path)!r}")
    return parse_bvh(path.read_text(encoding="utf-8", errors="replace"), source=str(path))


# ---------------------------------------------------------------------------------------------
# Archives


def mocap_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding the mocap archives.

    Args:
        path: explicit folder; when None, the environment variable ``HANET_MOCAP_DIR``, else
            ``../shared/data/bandai-namco-motion`` relative to the current directory.

    Returns:
        The folder (not checked for existence; see :func:`archive_paths`).
    """
    if path is None:
        path = os.environ.get(MOCAP_DIR_ENV) or DEFAULT_MOCAP_DIR
    return Path(path)


def archive_paths(path: str | os.PathLike[str] | None = None) -> list[Path]:
    """The ``*.tar.xz`` archives in :func:`mocap_dir` ``(path)``, sorted by name.

    Raises:
        FileNotFoundError: if the folder does not exist or holds no ``.tar.xz`` archive; the
            message says how to point to it (argument or ``HANET_MOCAP_DIR``).
    """
    folder = mocap_dir(path)
    found = sorted(folder.glob("*.tar.xz")) if folder.is_dir() else []
    if not found:
        raise FileNotFoundError(
            f"no mocap archives (*.tar.xz) in {str(folder.resolve())!r}; pass the folder explicitly "
            f"or set {MOCAP_DIR_ENV}=/path/to/bandai-namco-motion"
        )
    return found


def _member_key(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _open_archive(path: str | os.PathLike[str]) -> tarfile.TarFile:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"mocap archive not found: {str(path)!r} (set {MOCAP_DIR_ENV} or pass the path)"
        )
    return tarfile.open(path, "r:*")


def list_archive(path: str | os.PathLike[str]) -> list[str]:
    """Base names of the ``.bvh`` members of an archive, in archive order.

    This decompresses the whole archive once (xz has no index); about a second per 40 MB.

    Raises:
        FileNotFoundError: if the archive does not exist.
    """
    with _open_archive(path) as tar:
        return [_member_key(m.name) for m in tar if m.isfile() and m.name.lower().endswith(".bvh")]


def iter_archive(
    path: str | os.PathLike[str], names: Iterable[str] | None = None
) -> Iterator[tuple[str, Bvh]]:
    """Stream and parse the ``.bvh`` members of a tar archive without unpacking it to disk.

    JSON label files and other members are skipped (the labels repeat what the file names
    say; see :func:`parse_archive_name`).

    Args:
        path: a ``.tar.xz`` (or any tar that ``tarfile`` opens) archive.
        names: if given, only these members, by base name with or without ``.bvh``
            (``"dataset-1_walk_normal_001"``); iteration stops as soon as all were found.

    Yields:
        ``(base_name, bvh)`` in archive order, ``base_name`` like ``"dataset-1_walk_normal_001.bvh"``.

    Raises:
        FileNotFoundError: if the archive does not exist.
        ValueError: after the archive is exhausted, if some requested ``names`` were not in it.
        BvhFormatError: for a malformed member (the message names it).
    """
    wanted: set[str] | None = None
    if names is not None:
        if isinstance(names, str):
            names = [names]
        wanted = {n if n.lower().endswith(".bvh") else n + ".bvh" for n in names}
        wanted = {_member_key(n) for n in wanted}
    remaining = set(wanted) if wanted is not None else None
    with _open_archive(path) as tar:
        for member in tar:
            if not (member.isfile() and member.name.lower().endswith(".bvh")):
                continue
            key = _member_key(member.name)
            if remaining is not None and key not in remaining:
                continue
            handle = tar.extractfile(member)
            if handle is None:  # pragma: no cover - regular files always have a handle
                continue
            text = handle.read().decode("utf-8", errors="replace")
            yield key, parse_bvh(text, source=f"{Path(path).name}:{member.name}")
            if remaining is not None:
                remaining.discard(key)
                if not remaining:
                    return
    if remaining:
        raise ValueError(f"not in archive {str(path)!r}: {sorted(remaining)}")


_NAME_RE = re.compile(r"^dataset-(\d+)_(.+?)_(.+)_(\d+)(?:\.bvh)?$")


def parse_archive_name(name: str) -> dict[str, str | int]:
    """Split a Bandai-Namco file name ``dataset-{n}_{content}_{style}_{id}.bvh``.

    Returns:
        ``{"dataset": int, "content": str, "style": str, "index": int}``.

    Raises:
        ValueError: if the name does not follow that pattern.

    Example:
        >>> parse_archive_name("dataset-1_walk-left_not-confident_001.bvh")
        {'dataset': 1, 'content': 'walk-left', 'style': 'not-confident', 'index': 1}
    """
    match = _NAME_RE.match(_member_key(name))
    if match is None:
        raise ValueError(f"{name!r} is not a Bandai-Namco motion file name 'dataset-N_content_style_id.bvh'")
    return {
        "dataset": int(match.group(1)),
        "content": match.group(2),
        "style": match.group(3),
        "index": int(match.group(4)),
    }
