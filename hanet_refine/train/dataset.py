"""The training data: clean mocap cached once per split, corrupted afresh for every window.

Dimensions: ``b`` batch, ``l`` window length, ``t`` clip length, ``j`` joints.

1. :func:`build_cache` parses every BVH file of the archives once, runs forward kinematics,
   maps it to each layout (:func:`hanet_refine.train.mocap_layouts.convert_bvh`) and writes,
   per split (``splits.json``) and per array, the clips concatenated in time into one float32
   ``.npy`` file plus clip offsets, so a sampler memory-maps them::

       cache/manifest.json                     what was built from what (for up-to-date checks)
       cache/<split>/clips.json                clip names, in order
       cache/<split>/offsets.npy               (clips + 1,) int64: clip i is frames offsets[i]:offsets[i+1]
       cache/<split>/<layout>.npy              (frames, J, 3) float32 metres, y up, for coco17,
                                               body25, h36m17, smpl24
       cache/<split>/smpl_rotations.npy        (frames, 24, 3, 3) float32 local rotation matrices
       cache/<split>/smpl_root_translation.npy (frames, 3) float32 metres
       cache/<split>/smpl_skeleton.npy         (clips, 24, 3) float32 rest offsets of each actor

2. :class:`WindowSampler` draws windows uniformly over all window positions of a split
   (never across a clip boundary), mirrors half of them left/right, puts them in front of a
   random camera (2d) or at a random place and heading (3d, smpl), and corrupts them
   (:mod:`hanet_refine.train.corruption`). NumPy only, so it runs in DataLoader workers.
3. :func:`make_eval_set` does the same for whole clips, deterministically per clip name, so
   that evaluation and benchmarks corrupt the same way every time.

The data (Bandai Namco Research Inc., CC BY-NC 4.0) is read from its archives and never
copied into the repository; the cache directory (default ``$HANET_CACHE_DIR`` or ``./cache``)
is git-ignored.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from hanet_refine.layouts import get_layout

from .cameras import place, project, random_cameras, random_placement
from .corruption import PositionParams, SmplParams, corrupt, corrupt_smpl, position_params

logger = logging.getLogger(__name__)

__all__ = [
    "CACHE_VERSION",
    "DEFAULT_LAYOUTS",
    "KINDS",
    "POSITION_LAYOUTS",
    "Clips",
    "WindowSampler",
    "build_cache",
    "cache_path",
    "clips_from_bvh",
    "corruption_stats",
    "data_card",
    "load_clips",
    "make_eval_set",
    "sampler_from_bvh",
]

CACHE_VERSION = 1
CACHE_DIR_ENV = "HANET_CACHE_DIR"
DEFAULT_CACHE_DIR = "cache"
KINDS = ("2d", "3d", "smpl")
POSITION_LAYOUTS = ("coco17", "body25", "h36m17", "smpl24")
DEFAULT_LAYOUTS = {"2d": "coco17", "3d": "h36m17", "smpl": "smpl24"}
SMPL_ARRAYS = ("smpl_rotations", "smpl_root_translation")
_MIRROR = np.array([-1.0, 1.0, 1.0], dtype=np.float32)  # x -> -x: the world seen in a mirror
MIN_DEPTH = 1.5  # metres: 3d / smpl windows never come closer to the virtual camera than this


def cache_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``path``, else ``$HANET_CACHE_DIR``, else ``./cache``."""
    return Path(path if path is not None else os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR)


# ---------------------------------------------------------------------------------------------
# Building the cache


def _convert(item: tuple[str, Any]) -> tuple[str, float, dict[str, np.ndarray]]:
    """Forward kinematics and every layout of one parsed file, as float32 (worker function)."""
    from .mocap_layouts import convert_bvh

    name, bvh = item
    out = convert_bvh(bvh, POSITION_LAYOUTS, smpl=True)
    return name, float(bvh.fps), {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def _archives_for(names: set[str] | None, archives: list[Path]) -> Iterator[tuple[Path, list[str] | None]]:
    """Each archive with the requested names it should hold (dataset-N lives in archive '*-N')."""
    if names is None:
        for archive in archives:
            yield archive, None
        return
    from .bvh import parse_archive_name

    by_number: dict[int, list[str]] = {}
    for n in names:
        by_number.setdefault(int(parse_archive_name(n)["dataset"]), []).append(n)
    for number, wanted in sorted(by_number.items()):
        matching = [a for a in archives if a.name.split(".")[0].endswith(f"-{number}")]
        if len(matching) != 1:
            raise FileNotFoundError(
                f"no single archive '*-{number}.tar.xz' for {sorted(wanted)[:3]} among "
                f"{[a.name for a in archives]}"
            )
        yield matching[0], sorted(wanted)


def _cache_key(archives: list[Path], splits: dict[str, list[str]], names: list[str] | None) -> dict[str, Any]:
    blob = json.dumps(splits, sort_keys=True).encode()
    return {
        "version": CACHE_VERSION,
        "archives": [
            {"name": a.name, "size": a.stat().st_size, "mtime_ns": a.stat().st_mtime_ns} for a in archives
        ],
        "splits_sha256": hashlib.sha256(blob).hexdigest(),
        "names": names,
        "layouts": list(POSITION_LAYOUTS),
    }


def _is_current(folder: Path, key: dict[str, Any]) -> bool:
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        data = json.loads(manifest.read_text("utf-8"))
    except json.JSONDecodeError:
        return False
    if data.get("key") != key:
        return False
    return all(
        (folder / split / f"{a}.npy").is_file()
        for split in data.get("splits", {})
        for a in (*POSITION_LAYOUTS, *SMPL_ARRAYS, "smpl_skeleton", "offsets")
    )


def build_cache(
    mocap_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    names: Iterable[str] | None = None,
    workers: int = 1,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Parse, convert and cache the mocap once (see the module docstring for the files).

    Idempotent: when ``cache_dir/manifest.json`` says the cache was built by this code version
    from the same archives (size and modification time), split and file selection, nothing is
    done. A build writes into a temporary folder and moves it in place at the end, so an
    interrupted build leaves no half-written cache.

    Args:
        mocap_dir: folder of the ``.tar.xz`` archives (default ``$HANET_MOCAP_DIR`` or
            ``../shared/data/bandai-namco-motion``).
        cache_dir: output folder (default :func:`cache_path`).
        names: only these files (stems or ``.bvh`` names), e.g. for tests; default all.
        workers: processes that convert files while the main process decompresses and parses
            (1: all in this process).
        progress: show a tqdm bar.
        force: rebuild even if up to date.

    Returns:
        The cache folder.

    Raises:
        FileNotFoundError: if the archives are not found.
        ValueError: if ``names`` has a file that is not in the committed split.
    """
    from .bvh import archive_paths
    from .splits import SPLITS, load_splits

    archives = archive_paths(mocap_dir)
    folder = cache_path(cache_dir)
    splits = load_splits()
    side = {n: s for s in SPLITS for n in splits[s]}
    wanted = None
    if names is not None:
        wanted = {Path(str(n)).name.removesuffix(".bvh") for n in names}
        unknown = sorted(wanted - set(side))
        if unknown:
            raise ValueError(f"files not in the committed split (splits.json): {unknown[:5]}")
    key = _cache_key(archives, splits, sorted(wanted) if wanted is not None else None)
    if not force and _is_current(folder, key):
        logger.info("cache %s is up to date", folder)
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    # One builder at a time: a process that waited here (two trainings started together)
    # then finds the cache current instead of replacing it under the other one.
    with FileLock(folder / ".build.lock"):
        if not force and _is_current(folder, key):
            return folder
        return _build(folder, key, archives, side, wanted, workers=workers, progress=progress)


def _build(
    folder: Path,
    key: dict[str, Any],
    archives: list[Path],
    side: dict[str, str],
    wanted: set[str] | None,
    *,
    workers: int,
    progress: bool,
) -> Path:
    """Parse, convert and write the cache into ``folder`` (the caller holds the build lock)."""
    from tqdm.auto import tqdm

    from .bvh import iter_archive
    from .splits import SPLITS

    total = len(wanted) if wanted is not None else len(side)
    data: dict[str, dict[str, list[np.ndarray]]] = {s: {} for s in SPLITS}
    clips: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    unsplit: list[str] = []

    def parsed() -> Iterator[tuple[str, Any]]:
        for archive, members in _archives_for(wanted, archives):
            for member, bvh in iter_archive(archive, names=members):
                stem = member.removesuffix(".bvh")
                if stem not in side:
                    unsplit.append(stem)
                    continue
                yield stem, bvh

    started = time.perf_counter()
    bar = tqdm(total=total, desc="mocap cache", unit="file", disable=not progress)
    pool = None
    try:
        if workers > 1:
            import multiprocessing

            pool = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn").Pool(workers)
            converted: Iterable[tuple[str, float, dict[str, np.ndarray]]] = pool.imap(
                _convert, parsed(), chunksize=2
            )
        else:
            converted = map(_convert, parsed())
        for stem, fps, arrays in converted:
            split = side[stem]
            for k, v in arrays.items():
                data[split].setdefault(k, []).append(v)
            clips[split].append({"name": stem, "frames": int(arrays["coco17"].shape[0]), "fps": fps})
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    if unsplit:
        warnings.warn(
            f"{len(unsplit)} archive files are not in splits.json and were left out of the cache "
            f"(e.g. {unsplit[:3]}); regenerate it with python -m hanet_refine.train.splits --write",
            stacklevel=2,
        )

    tmp = folder / f".building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    stats: dict[str, dict[str, Any]] = {}
    for split in SPLITS:
        out = tmp / split
        out.mkdir(parents=True)
        frames = [c["frames"] for c in clips[split]]
        np.save(
            out / "offsets.npy", np.concatenate([[0], np.cumsum(frames, dtype=np.int64)]).astype(np.int64)
        )
        (out / "clips.json").write_text(json.dumps(clips[split], indent=0) + "\n", encoding="utf-8")
        for k in (*POSITION_LAYOUTS, *SMPL_ARRAYS, "smpl_skeleton"):
            parts = data[split].pop(k, [])
            if k == "smpl_skeleton":
                arr = np.stack(parts) if parts else np.zeros((0, 24, 3), np.float32)
            elif parts:
                arr = np.concatenate(parts)
            else:
                arr = np.zeros((0,) + _empty_shape(k), np.float32)
            np.save(out / f"{k}.npy", arr)
        fps = [c["fps"] for c in clips[split]]
        stats[split] = {
            "clips": len(frames),
            "frames": int(sum(frames)),
            "minutes": round(sum(f / r for f, r in zip(frames, fps)) / 60.0, 2),
        }
    (folder / "manifest.json").unlink(missing_ok=True)  # no half-replaced cache ever looks current
    for split in SPLITS:
        shutil.rmtree(folder / split, ignore_errors=True)
        os.replace(tmp / split, folder / split)
    shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.perf_counter() - started
    manifest = {
        "key": key,
        "splits": stats,
        "build_seconds": round(seconds, 1),
        "fps": sorted({round(c["fps"], 3) for split in SPLITS for c in clips[split]}),
        "source": "Bandai Namco Research Inc. motion datasets 1 and 2, CC BY-NC 4.0",
    }
    tmp_manifest = folder / "manifest.json.tmp"
    tmp_manifest.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp_manifest, folder / "manifest.json")
    logger.info("built cache %s in %.1f s: %s", folder, seconds, stats)
    return folder


def _empty_shape(key: str) -> tuple[int, ...]:
    if key in POSITION_LAYOUTS:
        return (get_layout(key).num_joints, 3)
    return {"smpl_rotations": (24, 3, 3), "smpl_root_translation": (3,)}[key]


# ---------------------------------------------------------------------------------------------
# Clips in memory or memory-mapped


@dataclass(frozen=True)
class Clips:
    """Clips concatenated in time.

    Attributes:
        names: clip names in order.
        offsets: ``(clips + 1,)`` int64; clip ``i`` is frames ``offsets[i]:offsets[i + 1]``.
        fps: frame rate.
        positions: layout name -> ``(frames, J, 3)`` float32 metres (y up).
        smpl_rotations: ``(frames, 24, 3, 3)`` float32 local rotations, or None.
        smpl_root_translation: ``(frames, 3)`` float32 metres, or None.
        smpl_skeleton: ``(clips, 24, 3)`` float32 rest offsets per clip, or None.
    """

    names: tuple[str, ...]
    offsets: np.ndarray
    fps: float
    positions: dict[str, np.ndarray]
    smpl_rotations: np.ndarray | None = None
    smpl_root_translation: np.ndarray | None = None
    smpl_skeleton: np.ndarray | None = None

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def num_frames(self) -> int:
        return int(self.offsets[-1])

    def windows(self, length: int) -> int:
        """Number of distinct windows of ``length`` frames (stride 1) inside the clips."""
        return int(np.maximum(self.lengths - length + 1, 0).sum())


def load_clips(
    cache_dir: str | os.PathLike[str] | None = None,
    split: str = "train",
    *,
    layouts: Sequence[str] | None = None,
    smpl: bool = True,
    mmap: bool = True,
) -> Clips:
    """Open one split of a cache made by :func:`build_cache`.

    Args:
        cache_dir: the cache folder (default :func:`cache_path`).
        split: "train", "validation" or "test".
        layouts: position layouts to open (default all cached ones).
        smpl: also open the SMPL arrays.
        mmap: memory-map the arrays (read-only) instead of reading them into memory.

    Raises:
        FileNotFoundError: if the cache (or the split) is not there; the message says how to build it.
        ValueError: for an unknown split or layout.
    """
    from .splits import SPLITS

    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    layouts = tuple(POSITION_LAYOUTS if layouts is None else layouts)
    bad = [name for name in layouts if name not in POSITION_LAYOUTS]
    if bad:
        raise ValueError(f"the cache has layouts {list(POSITION_LAYOUTS)}, not {bad}")
    folder = cache_path(cache_dir)
    if not (folder / "manifest.json").is_file() or not (folder / split / "offsets.npy").is_file():
        raise FileNotFoundError(
            f"no mocap cache in {str(folder.resolve())!r}; build it with "
            "`python -m hanet_refine.train.dataset --build` (or build_cache()), or set HANET_CACHE_DIR"
        )
    mode = "r" if mmap else None
    sub = folder / split
    meta = json.loads((sub / "clips.json").read_text("utf-8"))
    fps = {round(c["fps"], 3) for c in meta} or {30.0}
    if len(fps) > 1:
        raise ValueError(f"clips of split {split!r} have different frame rates {sorted(fps)}")

    def load(name: str) -> np.ndarray:
        return np.load(sub / f"{name}.npy", mmap_mode=mode)

    return Clips(
        names=tuple(c["name"] for c in meta),
        offsets=np.load(sub / "offsets.npy"),
        fps=float(fps.pop()),
        positions={name: load(name) for name in layouts},
        smpl_rotations=load("smpl_rotations") if smpl else None,
        smpl_root_translation=load("smpl_root_translation") if smpl else None,
        smpl_skeleton=load("smpl_skeleton") if smpl else None,
    )


def clips_from_bvh(
    files: Sequence[str | os.PathLike[str]], *, layouts: Sequence[str] = POSITION_LAYOUTS, smpl: bool = True
) -> Clips:
    """Clips held in memory, from BVH files of the Bandai-Namco skeleton (e.g. for fine-tuning).

    Raises:
        FileNotFoundError: for a missing file.
        ValueError: if there is no file, the frame rates differ or a skeleton lacks joints.
    """
    from .bvh import read_bvh
    from .mocap_layouts import convert_bvh

    if not files:
        raise ValueError("clips_from_bvh needs at least one BVH file")
    parts: dict[str, list[np.ndarray]] = {}
    names, lengths, rates = [], [], []
    for f in files:
        bvh = read_bvh(f)
        out = convert_bvh(bvh, tuple(layouts), smpl=smpl)
        for k, v in out.items():
            parts.setdefault(k, []).append(np.asarray(v, dtype=np.float32))
        names.append(Path(f).stem)
        lengths.append(bvh.num_frames)
        rates.append(round(bvh.fps, 3))
    if len(set(rates)) > 1:
        raise ValueError(f"BVH files have different frame rates {sorted(set(rates))}; resample them first")
    return Clips(
        names=tuple(names),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        fps=float(rates[0]),
        positions={name: np.concatenate(parts[name]) for name in layouts},
        smpl_rotations=np.concatenate(parts["smpl_rotations"]) if smpl else None,
        smpl_root_translation=np.concatenate(parts["smpl_root_translation"]) if smpl else None,
        smpl_skeleton=np.stack(parts["smpl_skeleton"]) if smpl else None,
    )


# ---------------------------------------------------------------------------------------------
# Turning clean windows into training pairs


def _check_kind(kind: str, layout: str | None) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    layout = DEFAULT_LAYOUTS[kind] if layout is None else layout
    if kind == "smpl" and layout != "smpl24":
        raise ValueError(f"kind='smpl' uses layout 'smpl24', got {layout!r}")
    if kind != "smpl" and layout not in POSITION_LAYOUTS:
        raise ValueError(
            f"layout for kind={kind!r} must be one of {list(POSITION_LAYOUTS)} (cached), got {layout!r}"
        )
    return layout


def _gather(array: np.ndarray, frames: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """``array[frames[b, l], joints[b, j]]`` as float32, one flat take (memory maps read only those rows).

    Shape:
        array ``(N, J, ...)``, frames ``(B, L)``, joints ``(B, J)`` -> ``(B, L, J, ...)``.
    """
    n, j = array.shape[:2]
    rows = array.reshape((n * j,) + array.shape[2:])
    index = frames[:, :, None] * j + joints[:, None, :]
    return np.take(rows, index, axis=0).astype(np.float32, copy=False)


def _mirror_signs(mirror: np.ndarray) -> np.ndarray:
    """(B, 3) float32: -1 on x for mirrored windows (x -> -x is the world seen in a mirror)."""
    return np.where(mirror[:, None], _MIRROR, np.float32(1.0)).astype(np.float32)


def _ground_origin(points: np.ndarray) -> np.ndarray:
    """(B, 3) the ground point under the middle of the motion: box centre of x and z, y = 0."""
    # Coordinate-major copy: NumPy reduces fast along a contiguous last axis only.
    coords = np.ascontiguousarray(points.reshape(points.shape[0], -1, 3).transpose(0, 2, 1), dtype=np.float64)
    origin = (coords.min(axis=-1) + coords.max(axis=-1)) / 2.0
    origin[:, 1] = 0.0
    return origin


def _in_front(points: np.ndarray, min_depth: float) -> np.ndarray:
    """Move each sequence back along z until its nearest point is ``min_depth`` from the camera."""
    near = points[..., 2].reshape(points.shape[0], -1).min(axis=1)
    push = np.maximum(min_depth - near, 0.0).astype(points.dtype)
    points[..., 2] += push.reshape((-1,) + (1,) * (points.ndim - 2))
    return points


def _check_corruption(kind: str, corruption: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of ``corruption`` after checking its keys name fields of the kind's parameters."""
    corruption = dict(corruption or {})
    fields = {f.name for f in dataclasses.fields(SmplParams if kind == "smpl" else PositionParams)}
    if unknown := sorted(set(corruption) - fields):
        raise ValueError(f"unknown corruption settings {unknown}; known: {sorted(fields)}")
    return corruption


def _make_positions(
    kind: str,
    layout: str,
    pos: np.ndarray,
    rng: np.random.Generator,
    severity: str | float | np.ndarray,
    fps: float,
    camera_options: dict[str, Any],
    corruption: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Clean world positions (B, L, J, 3) -> the training pair of ``kind``."""
    if kind == "2d":
        cams = random_cameras(pos, rng, **camera_options)
        clean = project(pos, cams).astype(np.float32)
        extra = {"image_size": cams.image_size.astype(np.int32)}
    else:
        rot, trans = random_placement(rng, pos.shape[0])
        clean = _in_front(place(pos, rot, trans, _ground_origin(pos)).astype(np.float32), MIN_DEPTH)
        extra = {}
    params = dataclasses.replace(position_params(kind), **corruption) if corruption else None
    out = corrupt(clean, kind=kind, layout=layout, rng=rng, severity=severity, fps=fps, params=params)
    return {"clean": clean, **out, **extra}


def _make_smpl(
    rot: np.ndarray,
    root: np.ndarray,
    skel: np.ndarray,
    rng: np.random.Generator,
    severity: str | float | np.ndarray,
    fps: float,
    corruption: dict[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Clean SMPL windows -> turned to a random heading and place, then corrupted."""
    b = rot.shape[0]
    heading, trans = random_placement(rng, b)
    rot = rot.copy()
    rot[:, :, 0] = heading[:, None].astype(np.float32) @ rot[:, :, 0]
    root = _in_front(
        place(root, heading, trans, _ground_origin(root[:, :, None])).astype(np.float32), MIN_DEPTH + 0.5
    )  # the pelvis: the body reaches about 0.5 m further
    params = dataclasses.replace(SmplParams(), **corruption) if corruption else None
    out = corrupt_smpl(rot, root, rng=rng, severity=severity, fps=fps, params=params)
    return {
        "clean": rot,
        "noisy": out["rotations"],
        "clean_root_translation": root,
        "noisy_root_translation": out["root_translation"],
        "occluded": out["occluded"],
        "failed": out["failed"],
        "severity": out["severity"],
        "skeleton": skel.astype(np.float32),
    }


class WindowSampler:
    """Random corrupted training windows from a cached split (vectorised, NumPy only).

    Args:
        cache_dir: cache folder from :func:`build_cache` (default :func:`cache_path`); ignored
            when ``clips`` is given.
        kind: "2d", "3d" or "smpl".
        layout: a cached position layout (coco17, body25, h36m17, smpl24); default coco17 for
            2d, h36m17 for 3d; smpl24 (only) for smpl.
        split: "train", "validation" or "test".
        window: frames per window (L); clips shorter than that are not used.
        severity: "low", "medium", "high", "mixed" (a severity per window, log-uniform in
            [0.25, 2.5]) or a float (see :mod:`hanet_refine.train.corruption`).
        seed: seed of the sampler's own generator.
        mirror: mirror half of the windows left/right (a free, exact augmentation).
        clips: use these clips instead of a cache (see :func:`clips_from_bvh`).
        mmap: memory-map the cache instead of reading it into memory.
        camera_options: keyword arguments for :func:`hanet_refine.train.cameras.random_cameras`.
        corruption: settings of the corruption at severity 1 to change, by field of
            :class:`~hanet_refine.train.corruption.PositionParams` (or ``SmplParams``), e.g.
            ``{"bias": 0.0}`` to train without the slow bias (the training CLI's validation
            keeps the documented protocol).

    Raises:
        FileNotFoundError: if there is no cache.
        ValueError: for a bad kind, layout, split or window, or if no clip is long enough.

    In DataLoader workers, give each worker its own stream with :meth:`reseed`.

    Example:
        >>> sampler = WindowSampler(kind="2d", layout="coco17", window=33, seed=0)  # doctest: +SKIP
        >>> batch = sampler.sample(256)  # doctest: +SKIP
        >>> batch["noisy"].shape, batch["confidence"].shape  # doctest: +SKIP
        ((256, 33, 17, 2), (256, 33, 17))
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike[str] | None = None,
        kind: str = "2d",
        layout: str | None = None,
        split: str = "train",
        window: int = 33,
        severity: str | float = "medium",
        seed: int = 0,
        *,
        mirror: bool = True,
        clips: Clips | None = None,
        mmap: bool = True,
        camera_options: dict[str, Any] | None = None,
        corruption: dict[str, Any] | None = None,
    ) -> None:
        self.layout = _check_kind(kind, layout)
        self.kind = kind
        if int(window) != window or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        self.window = int(window)
        if clips is None:
            clips = load_clips(
                cache_dir,
                split,
                layouts=[] if kind == "smpl" else [self.layout],
                smpl=kind == "smpl",
                mmap=mmap,
            )
        elif kind != "smpl" and self.layout not in clips.positions:
            raise ValueError(f"clips have layouts {sorted(clips.positions)}, not {self.layout!r}")
        elif kind == "smpl" and clips.smpl_rotations is None:
            raise ValueError("clips have no SMPL rotations; make them with smpl=True")
        self.clips = clips
        self.severity = severity
        self.mirror = mirror
        self.camera_options = dict(camera_options or {})
        self.corruption = _check_corruption(kind, corruption)
        self.rng = np.random.default_rng(seed)
        self._flip = np.array(get_layout(self.layout).flip_index)
        valid = np.maximum(clips.lengths - self.window + 1, 0)
        if valid.sum() == 0:
            raise ValueError(
                f"no clip has {self.window} frames or more (longest: {int(clips.lengths.max(initial=0))})"
            )
        self._cum = np.cumsum(valid)
        self._valid = valid
        # Fail now, not in the training loop, on a bad severity.
        from .corruption import severity_array

        severity_array(severity, 1, np.random.default_rng(0))

    def reseed(self, seed: int | Sequence[int]) -> None:
        """Restart the sampler's generator, e.g. with ``(seed, worker_id)`` in each DataLoader
        worker (forked workers would otherwise all draw the same windows)."""
        self.rng = np.random.default_rng(seed)

    @property
    def num_windows(self) -> int:
        """Distinct windows (stride 1) the sampler draws from."""
        return int(self._cum[-1])

    def _draw(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        u = self.rng.integers(self._cum[-1], size=batch_size)
        clip = np.searchsorted(self._cum, u, side="right")
        start = u - (self._cum[clip] - self._valid[clip])
        return clip, start

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        """A batch of corrupted windows.

        Returns:
            For "2d": ``clean`` and ``noisy`` (B, L, J, 2) float32 pixels (``noisy`` NaN where
            missing), ``confidence`` (B, L, J) float32, ``occluded`` / ``failed`` (B, L, J) bool,
            ``image_size`` (B, 2) int32 (width, height). For "3d": ``clean`` / ``noisy``
            (B, L, J, 3) float32 metres in a level camera's frame (y up, z depth), plus
            ``confidence``, ``occluded``, ``failed``. For "smpl": ``clean`` / ``noisy`` (B, L, 24,
            3, 3) local rotation matrices, ``clean_root_translation`` / ``noisy_root_translation``
            (B, L, 3), ``occluded`` / ``failed``, ``skeleton`` (B, 24, 3) rest offsets. All kinds:
            ``severity`` (B,) float32, ``clip`` / ``start`` (B,) int64 (where the window came from)
            and ``mirrored`` (B,) bool.

        Raises:
            ValueError: if ``batch_size`` < 1.
        """
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        clip, start = self._draw(int(batch_size))
        frames = self.clips.offsets[clip][:, None] + start[:, None] + np.arange(self.window)
        mirror = self.rng.random(len(clip)) < 0.5 if self.mirror else np.zeros(len(clip), dtype=bool)
        # Mirrored windows read each joint from its left/right twin and negate x.
        joints = np.where(mirror[:, None], self._flip[None, :], np.arange(len(self._flip))[None, :])
        sign = _mirror_signs(mirror)
        if self.kind == "smpl":
            # A mirrored rotation is M R M with M = diag(-1, 1, 1).
            rot = _gather(self.clips.smpl_rotations, frames, joints)
            rot *= (sign[:, :, None] * sign[:, None, :])[:, None, None]
            root = np.asarray(self.clips.smpl_root_translation[frames], dtype=np.float32) * sign[:, None]
            skel = (
                np.take_along_axis(
                    np.asarray(self.clips.smpl_skeleton[clip], dtype=np.float32), joints[:, :, None], axis=1
                )
                * sign[:, None]
            )
            out = _make_smpl(rot, root, skel, self.rng, self.severity, self.clips.fps, self.corruption)
        else:
            pos = _gather(self.clips.positions[self.layout], frames, joints)
            pos *= sign[:, None, None]
            out = _make_positions(
                self.kind, self.layout, pos, self.rng, self.severity, self.clips.fps, self.camera_options,
                self.corruption,
            )
        out["clip"], out["start"], out["mirrored"] = clip.astype(np.int64), start.astype(np.int64), mirror
        return out


def _name_seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def make_eval_set(
    cache_dir: str | os.PathLike[str] | None = None,
    kind: str = "2d",
    layout: str | None = None,
    split: str = "test",
    severity: str | float = "medium",
    seed: int = 0,
    *,
    clips: Clips | None = None,
    max_clips: int | None = None,
    camera_options: dict[str, Any] | None = None,
    corruption: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Whole clips of a split, corrupted deterministically, for evaluation and benchmarks.

    Each clip gets its own generator seeded by ``(seed, hash of the clip name)``, so a clip is
    corrupted the same way whatever else is in the set. Cameras (2d) keep the whole clip in
    the image; nothing is mirrored.

    Args:
        cache_dir, kind, layout, split, severity, clips, camera_options, corruption: as for
            :class:`WindowSampler` (``corruption`` changes the documented protocol: say so
            wherever its numbers appear).
        seed: evaluation seed (keep 0 to compare with published numbers).
        max_clips: only the first ``max_clips`` clips of the split (in cache order).

    Returns:
        One dict per clip with the fields of :meth:`WindowSampler.sample` without the batch
        axis (``(T, J, D)`` etc.), plus ``name`` (str) and ``fps`` (float).

    Raises:
        FileNotFoundError, ValueError: as :class:`WindowSampler`.
    """
    layout = _check_kind(kind, layout)
    if clips is None:
        clips = load_clips(cache_dir, split, layouts=[] if kind == "smpl" else [layout], smpl=kind == "smpl")
    from .corruption import severity_array

    severity_array(severity, 1, np.random.default_rng(0))
    corruption = _check_corruption(kind, corruption)
    count = len(clips.names) if max_clips is None else min(int(max_clips), len(clips.names))
    result = []
    for i in range(count):
        rng = np.random.default_rng([seed, _name_seed(clips.names[i])])
        frames = np.arange(clips.offsets[i], clips.offsets[i + 1])
        if kind == "smpl":
            rot = np.asarray(clips.smpl_rotations[frames], dtype=np.float32)[None]
            root = np.asarray(clips.smpl_root_translation[frames], dtype=np.float32)[None]
            skel = np.asarray(clips.smpl_skeleton[i], dtype=np.float32)[None]
            out = _make_smpl(rot, root, skel, rng, severity, clips.fps, corruption)
        else:
            pos = np.asarray(clips.positions[layout][frames], dtype=np.float32)[None]
            out = _make_positions(kind, layout, pos, rng, severity, clips.fps, dict(camera_options or {}),
                                  corruption)
        item: dict[str, Any] = {k: v[0] for k, v in out.items()}
        item["name"], item["fps"] = clips.names[i], clips.fps
        result.append(item)
    return result


def sampler_from_bvh(
    bvh_files: Sequence[str | os.PathLike[str]],
    *,
    kind: str,
    layout: str | None = None,
    window: int,
    severity: str | float = "medium",
    seed: int = 0,
) -> WindowSampler:
    """A :class:`WindowSampler` over the caller's own BVH files (Bandai-Namco skeleton), held in memory."""
    layout = _check_kind(kind, layout)
    clips = clips_from_bvh(bvh_files, layouts=[] if kind == "smpl" else [layout], smpl=kind == "smpl")
    return WindowSampler(kind=kind, layout=layout, window=window, severity=severity, seed=seed, clips=clips)


# ---------------------------------------------------------------------------------------------
# The data card


def corruption_stats(
    cache_dir: str | os.PathLike[str] | None = None, split: str = "test", seed: int = 0
) -> str:
    """Markdown table of what the corruption does to a split's clips at each named severity.

    Positions: median error of the non-missing points and mean acceleration error (norm of
    the second difference in time of the error, where defined) relative to body size B (2d)
    or in mm (3d); shares of missing / occluded / failed points; mean confidence. SMPL: median
    rotation error in degrees; shares of occluded / failed joints.
    """
    from .corruption import SEVERITIES, body_size

    rows = [
        (
            "| kind (layout) | severity | median error | accel error | missing | occluded | failed | "
            "mean confidence |"
        ),
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in KINDS:
        layout = DEFAULT_LAYOUTS[kind]
        for name in SEVERITIES:
            clips = make_eval_set(cache_dir, kind, layout, split, severity=name, seed=seed)
            occluded = np.concatenate([c["occluded"].ravel() for c in clips])
            failed = np.concatenate([c["failed"].ravel() for c in clips])
            if kind == "smpl":
                errs = []
                for c in clips:
                    rel = np.swapaxes(c["clean"], -1, -2).astype(np.float64) @ c["noisy"]
                    cos = (np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0
                    errs.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))).ravel())
                err, accel, missing, conf = f"{np.median(np.concatenate(errs)):.1f} deg", "-", "-", "-"
            else:
                errs, accels, nan, confs = [], [], [], []
                for c in clips:
                    d = (c["noisy"] - c["clean"]).astype(np.float64)
                    d *= 1000.0 if kind == "3d" else 1.0 / float(body_size(c["clean"][None])[0])
                    e = np.linalg.norm(d, axis=-1)
                    a = np.linalg.norm(d[2:] - 2 * d[1:-1] + d[:-2], axis=-1)
                    errs.append(e[np.isfinite(e)])
                    accels.append(a[np.isfinite(a)])
                    nan.append(np.isnan(e).ravel())
                    confs.append(c["confidence"].ravel())
                unit = (lambda v: f"{v:.1f} mm") if kind == "3d" else (lambda v: f"{v:.4f} B")
                err = unit(np.median(np.concatenate(errs)))
                accel = unit(np.mean(np.concatenate(accels))) + ("/frame^2" if kind == "3d" else "")
                missing = f"{np.concatenate(nan).mean():.1%}"
                conf = f"{np.mean(np.concatenate(confs)):.2f}"
            rows.append(
                f"| {kind} ({layout}) | {name} | {err} | {accel} | {missing} | {occluded.mean():.1%} | "
                f"{failed.mean():.1%} | {conf} |"
            )
    return "\n".join(rows)


def data_card(
    cache_dir: str | os.PathLike[str] | None = None, windows: Sequence[int] = (33, 101), stats: bool = True
) -> str:
    """Markdown tables of minutes, clips and windows per split (and array sizes per layout),
    the corruption protocol and, if ``stats``, what it does to the test split."""
    from .corruption import position_params, protocol_table
    from .splits import SPLITS

    folder = cache_path(cache_dir)
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    lines = [
        "| split | files | frames | minutes | "
        + " | ".join(f"windows L={w} (clips >= L)" for w in windows)
        + " |",
        "|---|---|---|---|" + "---|" * len(windows),
    ]
    sizes = []
    for split in SPLITS:
        clips = load_clips(folder, split)
        cells = [f"{clips.windows(w):,} ({int((clips.lengths >= w).sum())})" for w in windows]
        minutes = float((clips.lengths / clips.fps).sum() / 60.0)
        lines.append(
            f"| {split} | {len(clips.names):,} | {clips.num_frames:,} | {minutes:.1f} | "
            + " | ".join(cells)
            + " |"
        )
        for name in (*POSITION_LAYOUTS, *SMPL_ARRAYS):
            arr = clips.positions[name] if name in POSITION_LAYOUTS else getattr(clips, name)
            sizes.append((split, name, arr.shape, arr.nbytes / 2**20))
    size_lines = ["| split | array | shape | MiB |", "|---|---|---|---|"]
    size_lines += [f"| {s} | {n} | {tuple(int(x) for x in shp)} | {mib:.1f} |" for s, n, shp, mib in sizes]
    key = manifest["key"]
    return "\n".join(
        [
            f"Cache version {key['version']}, built in {manifest.get('build_seconds', '?')} s from "
            + ", ".join(f"{a['name']} ({a['size']:,} bytes)" for a in key["archives"])
            + ("" if key["names"] is None else f" (only {len(key['names'])} files)")
            + ".",
            "",
            (
                "Windows are counted at stride 1 and are the same for every layout (every layout and the "
                "SMPL rotations are made from the same frames)."
            ),
            "",
            *lines,
            "",
            *size_lines,
            "",
            f"2d jitter source: {position_params('2d').source}",
            "",
            protocol_table(),
            *(
                ["", "Measured on the test split (make_eval_set, seed 0):", "", corruption_stats(folder)]
                if stats
                else []
            ),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m hanet_refine.train.dataset [--build] [--card] [--mocap-dir D] [--cache-dir D]``."""
    parser = argparse.ArgumentParser(description="Build the mocap cache and print the data card.")
    parser.add_argument("--build", action="store_true", help="build the cache (skipped when up to date)")
    parser.add_argument(
        "--card", action="store_true", help="print the data-card tables (builds first if needed)"
    )
    parser.add_argument(
        "--mocap-dir",
        default=None,
        help="archives folder (default $HANET_MOCAP_DIR or ../shared/data/bandai-namco-motion)",
    )
    parser.add_argument(
        "--cache-dir", default=None, help="cache folder (default $HANET_CACHE_DIR or ./cache)"
    )
    parser.add_argument("--workers", type=int, default=1, help="conversion processes (default 1)")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = parser.parse_args(argv)
    if not (args.build or args.card):
        args.build = True
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        folder = build_cache(args.mocap_dir, args.cache_dir, workers=args.workers, force=args.force)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.card:
        print(data_card(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
