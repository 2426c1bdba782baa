"""The data every reader returns and every writer takes: people detected per frame, and tracks.

A :class:`PoseSequence` is a flat table of detections (one row per person per frame, in file
order) plus what the writer of its format needs to write the file back with only the
keypoints changed. A :class:`Track` is one person's detections laid out on a dense time axis,
which is what the refiner needs.

Missing values: a keypoint is *absent* when its coordinates are NaN. Readers turn each
format's marker of a joint it did not find (OpenPose's 0, 0, 0; NaN in arrays) into NaN, and
writers leave an absent keypoint in the file as it was, unless a filled value is written on
purpose (``fill_gaps``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..layouts import get_layout

__all__ = ["KINDS", "PoseSequence", "Track"]

KINDS = ("2d", "3d", "smpl")


def _nearest(indices: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """For each target position, the entry of sorted ``indices`` closest to it."""
    pos = np.clip(np.searchsorted(indices, targets), 1, len(indices) - 1) if len(indices) > 1 else None
    if pos is None:
        return np.zeros(len(targets), dtype=np.int64)
    left, right = indices[pos - 1], indices[pos]
    return np.where(targets - left <= right - targets, pos - 1, pos)


@dataclass(eq=False)
class Track:
    """One person over consecutive frames ``start .. start + T - 1``.

    Attributes:
        track_id: the track's id (from the file, or given by :func:`hanet_refine.tracking.link_tracks`).
        start: the first frame index.
        keypoints: coordinates; NaN in frames where the person was not detected and for absent joints.
        scores: keypoint confidences; 0 where the person was not detected.
        detection: row of each frame's detection in the :class:`PoseSequence`, -1 where the person
            was not detected.

    Shape:
        keypoints: ``(T, J, D)``; scores: ``(T, J)``; detection: ``(T,)``.
    """

    track_id: int
    start: int
    keypoints: np.ndarray
    scores: np.ndarray
    detection: np.ndarray

    def __len__(self) -> int:
        return int(self.detection.shape[0])

    def __repr__(self) -> str:
        return (
            f"Track(track_id={self.track_id}, start={self.start}, frames={len(self)}, "
            f"observed={int(self.observed.sum())})"
        )

    @property
    def frames(self) -> np.ndarray:
        """Frame index of each row, ``(T,)``."""
        return np.arange(self.start, self.start + len(self))

    @property
    def observed(self) -> np.ndarray:
        """True where the person was detected, ``(T,)``."""
        return self.detection >= 0


@dataclass(eq=False)
class PoseSequence:
    """People detected in the frames of one video, as read from a file.

    Attributes:
        keypoints: coordinates (pixels for 2D image formats); NaN marks an absent keypoint.
        scores: keypoint confidences (1 where the format has none, see ``has_scores``).
        frame: frame index of each detection, ``0 <= frame < num_frames``.
        track_id: the file's track id of each detection, -1 where it has none.
        num_frames: number of frames, counting frames where nobody was detected.
        layout: the keypoint layout name (see :mod:`hanet_refine.layouts`).
        kind: ``"2d"``, ``"3d"`` or ``"smpl"``.
        format: the name of the format the sequence was read from (the writer used for it).
        source: the file or folder it was read from.
        fps: frames per second when the file says so.
        has_scores: False when the format holds no confidences.
        frame_names: a name per frame (file names, image ids) for messages.
        origin: index of the file entry each detection came from; for detections added by gap
            filling, the entry whose other fields the writer copies.
        added: True for detections that were not in the file (added by gap filling).
        state: what the format's writer needs (the parsed documents); not for users.

    Shape:
        keypoints: ``(P, J, D)``; scores: ``(P, J)``; frame, track_id, origin, added: ``(P,)``,
        with P the number of detections.
    """

    keypoints: np.ndarray
    scores: np.ndarray
    frame: np.ndarray
    track_id: np.ndarray
    num_frames: int
    layout: str
    kind: str = "2d"
    format: str = "npy"
    source: Path | None = None
    fps: float | None = None
    has_scores: bool = True
    frame_names: tuple[str, ...] | None = None
    origin: np.ndarray | None = None
    added: np.ndarray | None = None
    state: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float64)
        if self.keypoints.ndim != 3:
            raise ValueError(f"keypoints must have shape (P, J, D), got {self.keypoints.shape}")
        p, j, _ = self.keypoints.shape
        self.scores = np.asarray(self.scores, dtype=np.float64)
        self.frame = np.asarray(self.frame, dtype=np.int64)
        self.track_id = np.asarray(self.track_id, dtype=np.int64)
        self.origin = (
            np.arange(p, dtype=np.int64) if self.origin is None else np.asarray(self.origin, np.int64)
        )
        self.added = np.zeros(p, dtype=bool) if self.added is None else np.asarray(self.added, dtype=bool)
        if self.scores.shape != (p, j):
            raise ValueError(f"scores must have shape {(p, j)} to match keypoints, got {self.scores.shape}")
        for name in ("frame", "track_id", "origin", "added"):
            if getattr(self, name).shape != (p,):
                raise ValueError(f"{name} must have shape ({p},), got {getattr(self, name).shape}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {list(KINDS)}, got {self.kind!r}")
        if p and (self.frame.min() < 0 or self.frame.max() >= self.num_frames):
            raise ValueError(
                f"frame indices must lie in [0, {self.num_frames}), got {self.frame.min()}.."
                f"{self.frame.max()}"
            )
        layout = get_layout(self.layout)
        if layout.num_joints != j:
            raise ValueError(f"layout {layout.name!r} has {layout.num_joints} joints, keypoints have {j}")

    def __repr__(self) -> str:
        return (
            f"PoseSequence(format={self.format!r}, kind={self.kind!r}, layout={self.layout!r}, "
            f"frames={self.num_frames}, detections={len(self)}, joints={self.num_joints}, dim={self.dim}, "
            f"source={str(self.source) if self.source else None!r})"
        )

    # --- sizes -------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.keypoints.shape[1])

    @property
    def dim(self) -> int:
        return int(self.keypoints.shape[2])

    @property
    def has_track_ids(self) -> bool:
        """True when every detection has a track id from the file."""
        return len(self) > 0 and bool((self.track_id >= 0).all())

    def replace(self, **changes: Any) -> PoseSequence:
        """A copy with some fields changed (arrays not listed are shared, never modified)."""
        return dataclasses.replace(self, **changes)

    def people_per_frame(self) -> np.ndarray:
        """Number of detections in each frame, ``(num_frames,)``."""
        return np.bincount(self.frame, minlength=self.num_frames)

    # --- tracks --------------------------------------------------------------------------
    def tracks(self) -> list[Track]:
        """Split the detections into :class:`Track` objects by ``track_id``.

        Returns:
            Tracks ordered by id; frames between a track's first and last detection where the
            person was not detected are NaN.

        Raises:
            ValueError: if a detection has no track id (-1) or a track has two detections in
                one frame; give ids with :func:`hanet_refine.tracking.link_tracks` first.
        """
        if len(self) and (self.track_id < 0).any():
            raise ValueError(
                "some detections have no track id (-1); assign them with "
                "hanet_refine.tracking.link_tracks first"
            )
        out = []
        order = np.lexsort((self.frame, self.track_id))
        ids, starts = np.unique(self.track_id[order], return_index=True)
        bounds = list(starts) + [len(order)]
        for k, tid in enumerate(ids):
            rows = order[bounds[k] : bounds[k + 1]]
            frames = self.frame[rows]
            if (np.diff(frames) == 0).any():
                dup = int(frames[np.argmax(np.diff(frames) == 0)])
                raise ValueError(
                    f"track {int(tid)} has two detections in frame {dup}; track ids must be "
                    "unique within a frame (re-link them with hanet_refine.tracking.link_tracks)"
                )
            start, length = int(frames[0]), int(frames[-1] - frames[0] + 1)
            kp = np.full((length, self.num_joints, self.dim), np.nan)
            sc = np.zeros((length, self.num_joints))
            det = np.full(length, -1, dtype=np.int64)
            kp[frames - start] = self.keypoints[rows]
            sc[frames - start] = self.scores[rows]
            det[frames - start] = rows
            out.append(Track(int(tid), start, kp, sc, det))
        return out

    def with_tracks(
        self, tracks: list[Track], *, fill_gaps: bool = False, fill_score: float = 0.3
    ) -> PoseSequence:
        """Put (refined) tracks back into a new sequence.

        A detection's keypoints are replaced by its track's; absent keypoints stay absent, and
        frames where a person was not detected get no detection, unless ``fill_gaps``: then
        absent keypoints take the track's value and each frame between a track's first and
        last detection gets a detection (``added``), all with score ``fill_score``.
        Scores of keypoints that were present are kept.

        Args:
            tracks: tracks made by :meth:`tracks` from this sequence, keypoints changed.
            fill_gaps: write filled values for absent keypoints and undetected frames.
            fill_score: the score written for filled keypoints.

        Returns:
            A new sequence; this one is not modified.

        Raises:
            ValueError: if a track does not belong to this sequence.
        """
        kp, sc = self.keypoints.copy(), self.scores.copy()
        new_kp, new_sc, new_frame, new_tid, new_origin = [], [], [], [], []
        for tr in tracks:
            if tr.keypoints.shape[1:] != kp.shape[1:] or len(tr.keypoints) != len(tr):
                raise ValueError(
                    f"track {tr.track_id}: keypoints of shape {tr.keypoints.shape} do not fit "
                    f"this sequence's (T, {self.num_joints}, {self.dim})"
                )
            seen = tr.observed
            rows = tr.detection[seen]
            if len(rows) and (rows.max() >= len(self) or (self.track_id[rows] != tr.track_id).any()):
                raise ValueError(f"track {tr.track_id} does not belong to this sequence")
            value = tr.keypoints[seen]
            finite = np.isfinite(value).all(axis=-1)
            present = np.isfinite(kp[rows]).all(axis=-1)
            take = finite & (present | fill_gaps)
            kp[rows] = np.where(take[..., None], value, kp[rows])
            sc[rows] = np.where(take & ~present, fill_score, sc[rows])
            if fill_gaps and not seen.all():
                gaps = np.flatnonzero(~seen)
                seen_idx = np.flatnonzero(seen)
                template = tr.detection[seen_idx[_nearest(seen_idx, gaps)]]
                value = tr.keypoints[gaps]
                new_kp.append(value)
                new_sc.append(np.where(np.isfinite(value).all(axis=-1), fill_score, 0.0))
                new_frame.append(tr.start + gaps)
                new_tid.append(np.full(len(gaps), tr.track_id))
                new_origin.append(self.origin[template])
        out = self.replace(keypoints=kp, scores=sc)
        if new_kp:
            n = sum(len(a) for a in new_frame)
            frame = np.concatenate([self.frame, *new_frame])
            order = np.argsort(frame, kind="stable")  # added rows go after the frame's own rows
            out = self.replace(
                keypoints=np.concatenate([kp, *new_kp])[order],
                scores=np.concatenate([sc, *new_sc])[order],
                frame=frame[order],
                track_id=np.concatenate([self.track_id, *new_tid])[order],
                origin=np.concatenate([self.origin, *new_origin])[order],
                added=np.concatenate([self.added, np.ones(n, dtype=bool)])[order],
            )
        return out
