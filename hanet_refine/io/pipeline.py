"""Refining what an estimator wrote: read, link people into tracks, refine each track, write.

Each track is refined on its own, over the frames from its first to its last detection;
frames in between where the person was not detected are NaN, so the refiner fills them. What
is written holds only what the file held: refined coordinates for the keypoints it had,
absent keypoints and undetected frames left out, unless ``fill_gaps`` asks for them.
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..missing import DEFAULT_CONFIDENCE_THRESHOLD, missing_mask
from ..tracking import DEFAULT_MAX_DISTANCE, DEFAULT_MAX_GAP, link_tracks
from ._files import check_output
from .formats import read, write
from .sequence import PoseSequence

__all__ = ["DEFAULT_FILL_SCORE", "RefineSummary", "assign_tracks", "refine_file", "refine_sequence"]

logger = logging.getLogger(__name__)

#: Score written for filled keypoints: the threshold at which readers count a keypoint as
#: observed, low enough to tell a guess from a confident detection.
DEFAULT_FILL_SCORE = DEFAULT_CONFIDENCE_THRESHOLD

Refiner = Callable[..., np.ndarray]


@dataclass(frozen=True)
class RefineSummary:
    """What :func:`refine_file` did.

    Attributes:
        format, layout, kind: of the input.
        frames: frames in the input (also those where nobody was detected).
        detections: people in the input, summed over frames.
        tracks: tracks refined or skipped.
        skipped_tracks: tracks with no usable keypoint, written unchanged.
        linked: True when tracks were made by the tracker, False when taken from the file.
        added_detections: detections written for frames where a person was not detected
            (only with ``fill_gaps``).
        output: where the result was written.
    """

    format: str
    layout: str
    kind: str
    frames: int
    detections: int
    tracks: int
    skipped_tracks: int
    linked: bool
    added_detections: int
    output: Path | None = None


def assign_tracks(
    seq: PoseSequence,
    *,
    use_track_ids: bool = True,
    max_gap: int = DEFAULT_MAX_GAP,
    max_distance: float = DEFAULT_MAX_DISTANCE,
) -> tuple[PoseSequence, bool]:
    """Give every detection of ``seq`` a track id.

    The file's track ids are used when every detection has one, each at most once per frame,
    and ``use_track_ids`` is set; arrays (``.npy``) are tracks already. Otherwise people are
    linked by :func:`hanet_refine.tracking.link_tracks`.

    Returns:
        (the sequence with ``track_id`` set, True if the tracker made the ids).
    """
    if seq.format == "npy":
        return seq, False
    if use_track_ids and seq.has_track_ids:
        pairs = seq.track_id * (seq.num_frames + 1) + seq.frame
        if len(np.unique(pairs)) == len(pairs):
            return seq, False
        warnings.warn(
            f"{seq.source}: the file's track ids repeat within a frame; linking people anew", stacklevel=2
        )
    ids = link_tracks(
        seq.frame,
        seq.keypoints,
        seq.scores if seq.has_scores else None,
        max_gap=max_gap,
        max_distance=max_distance,
        zero_is_missing=seq.kind == "2d",
    )
    return seq.replace(track_id=ids), True


def _default_refiner() -> Refiner:
    from ..refine import refine  # imported late: torch loads only when something is refined

    return refine


def _refine(
    seq: PoseSequence,
    *,
    weights: str | Path | None,
    device: str | None,
    fps: float | None,
    fill_gaps: bool,
    fill_score: float,
    max_gap: int,
    max_distance: float,
    use_track_ids: bool,
    progress: bool,
    refiner: Refiner | None,
    up: str | None = None,
) -> tuple[PoseSequence, RefineSummary]:
    if not 0 <= fill_score <= 1:
        raise ValueError(f"fill_score must lie in [0, 1], got {fill_score}")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    linked_seq, linked = assign_tracks(
        seq, use_track_ids=use_track_ids, max_gap=max_gap, max_distance=max_distance
    )
    tracks = linked_seq.tracks()
    refiner = refiner or _default_refiner()
    out_tracks, skipped = [], 0
    for tr in tqdm(tracks, desc="refining", unit="track", disable=not progress):
        conf = tr.scores if seq.has_scores else None
        if missing_mask(tr.keypoints, conf, zero_is_missing=seq.kind == "2d").all():
            skipped += 1  # nothing to anchor a refinement on: leave the person as written
            continue
        refined = np.asarray(
            refiner(
                tr.keypoints,
                kind=seq.kind,
                layout=seq.layout,
                confidence=conf,
                fps=fps or seq.fps,
                weights=weights,
                device=device,
                **({"up": up} if up is not None else {}),  # 3d only; custom refiners need not know it
            ),
            dtype=np.float64,
        )
        if refined.shape != tr.keypoints.shape:
            raise RuntimeError(
                f"the refiner returned shape {refined.shape} for a track of shape {tr.keypoints.shape}"
            )
        out_tracks.append(dataclasses.replace(tr, keypoints=refined))
    if skipped:
        logger.info(
            "%d of %d tracks have no keypoint with a score >= %s and were left unchanged",
            skipped,
            len(tracks),
            DEFAULT_CONFIDENCE_THRESHOLD,
        )
    out = linked_seq.with_tracks(out_tracks, fill_gaps=fill_gaps, fill_score=fill_score)
    summary = RefineSummary(
        format=seq.format,
        layout=seq.layout,
        kind=seq.kind,
        frames=seq.num_frames,
        detections=len(seq),
        tracks=len(tracks),
        skipped_tracks=skipped,
        linked=linked,
        added_detections=int(out.added.sum()),
    )
    return out, summary


def refine_sequence(
    seq: PoseSequence,
    *,
    weights: str | Path | None = None,
    device: str | None = None,
    fps: float | None = None,
    fill_gaps: bool = False,
    fill_score: float = DEFAULT_FILL_SCORE,
    max_gap: int = DEFAULT_MAX_GAP,
    max_distance: float = DEFAULT_MAX_DISTANCE,
    use_track_ids: bool = True,
    progress: bool = False,
    refiner: Refiner | None = None,
    up: str | None = None,
) -> PoseSequence:
    """Refine every person of ``seq``.

    Args:
        seq: from :func:`hanet_refine.io.read`.
        weights: passed to :func:`hanet_refine.refine` (a folder, file or registry name).
        device: passed to :func:`hanet_refine.refine`.
        fps: the frame rate, when the file does not say (passed to the refiner).
        fill_gaps: also write the refined values of absent keypoints and of frames between a
            person's first and last detection where they were not detected.
        fill_score: the score written for filled keypoints.
        max_gap: frames a person may go undetected and keep their track (see
            :func:`hanet_refine.tracking.link_tracks`).
        max_distance: the tracker's gate, in person sizes.
        use_track_ids: use the file's track ids when it has them.
        progress: show a progress bar.
        refiner: a function with :func:`hanet_refine.refine`'s signature (default: that one).
        up: 3d only: the input's up axis (see :func:`hanet_refine.refine`); default: read
            from the data.

    Returns:
        A new sequence (``seq`` is not changed) that :func:`hanet_refine.io.write` writes in
        the input's format.

    Raises:
        ValueError: on bad options, or what the refiner raises (e.g. no weights for the layout).

    Example:
        >>> from hanet_refine.io import read, refine_sequence, write
        >>> seq = read("output_json/")  # doctest: +SKIP
        >>> write(refine_sequence(seq), "refined_json/")  # doctest: +SKIP
    """
    return _refine(
        seq,
        weights=weights,
        device=device,
        fps=fps,
        fill_gaps=fill_gaps,
        fill_score=fill_score,
        max_gap=max_gap,
        max_distance=max_distance,
        use_track_ids=use_track_ids,
        progress=progress,
        refiner=refiner,
        up=up,
    )[0]


def refine_file(
    input: str | Path,
    output: str | Path,
    *,
    format: str = "auto",
    kind: str | None = None,
    layout: str | None = None,
    image_size: tuple[float, float] | None = None,
    key: str | None = None,
    weights: str | Path | None = None,
    device: str | None = None,
    fps: float | None = None,
    fill_gaps: bool = False,
    fill_score: float = DEFAULT_FILL_SCORE,
    max_gap: int = DEFAULT_MAX_GAP,
    max_distance: float = DEFAULT_MAX_DISTANCE,
    use_track_ids: bool = True,
    write_track_ids: bool = False,
    overwrite: bool = False,
    progress: bool = False,
    refiner: Refiner | None = None,
    up: str | None = None,
) -> RefineSummary:
    """Read ``input``, refine every person, write ``output`` in the same format.

    Args:
        input: an estimator's output file or folder (see :func:`hanet_refine.io.read`).
        output: where to write; must not exist (or be an empty folder) unless ``overwrite``.
        format, kind, layout, image_size, key: see :func:`hanet_refine.io.read`.
        write_track_ids: store track ids in the output (see :func:`hanet_refine.io.write`).
        overwrite: allow replacing an existing output, or the input itself.
        Other arguments: see :func:`refine_sequence`.

    Returns:
        A :class:`RefineSummary`.

    Raises:
        FileNotFoundError: if ``input`` does not exist.
        FileExistsError: if ``output`` exists or is ``input`` and ``overwrite`` is False
            (checked before anything is read).
        FormatError: if ``input`` is corrupt or not the format.
        ValueError: on bad options.

    Example:
        >>> from hanet_refine.io import refine_file
        >>> refine_file("output_json/", "refined_json/")  # doctest: +SKIP
    """
    input, output = Path(input), Path(output)
    if not input.exists():
        raise FileNotFoundError(f"{input}: no such file or folder")
    check_output(output, overwrite=overwrite, inputs=(input,))
    if input.suffix in (".npy", ".npz") and output.suffix != input.suffix:
        raise ValueError(f"{output}: the output must be a {input.suffix} file like the input")
    seq = read(input, format, kind=kind, layout=layout, image_size=image_size, key=key, progress=progress)
    refined, summary = _refine(
        seq,
        weights=weights,
        device=device,
        fps=fps,
        fill_gaps=fill_gaps,
        fill_score=fill_score,
        max_gap=max_gap,
        max_distance=max_distance,
        use_track_ids=use_track_ids,
        progress=progress,
        refiner=refiner,
        up=up,
    )
    write(refined, output, overwrite=overwrite, write_track_ids=write_track_ids)
    return dataclasses.replace(summary, output=output)
