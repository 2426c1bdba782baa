"""Refining a layout that has no pretrained model with the model of a related layout.

MediaPipe's 33 landmarks, Halpe-26 and OpenPose COCO-18 share most joints with COCO-17 or
BODY_25 by name. The model chosen is the one whose joints the input covers best (MediaPipe and
COCO-18: COCO-17; Halpe-26: BODY_25). The shared joints are refined by that layout's model; every other joint
(fingers, heels, mouth corners, ...) moves with its nearest ancestor that the model refined,
so the whole skeleton stays together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layouts import Layout, get_layout

__all__ = ["Bridge", "find_bridge"]

#: Fewest shared joints for a model of another layout to be used.
MIN_SHARED = 13


@dataclass(frozen=True)
class Bridge:
    source: Layout
    target: Layout
    source_index: np.ndarray  # joints of source that target has, in source order
    target_index: np.ndarray  # the same joints' indices in target
    follow: np.ndarray  # per source joint: the source joint whose correction it takes

    def to_target(self, points: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(B, T, J_source, D)`` filled points -> target layout; target-only joints are missing."""
        b, t, _, d = points.shape
        out = np.zeros((b, t, self.target.num_joints, d))
        missing = np.ones((b, t, self.target.num_joints), dtype=bool)
        out[:, :, self.target_index] = points[:, :, self.source_index]
        missing[:, :, self.target_index] = mask[:, :, self.source_index]
        # Joints the source lacks: start at the centroid of the shared ones (refine fills them).
        absent = np.setdiff1d(np.arange(self.target.num_joints), self.target_index)
        out[:, :, absent] = points[:, :, self.source_index].mean(axis=2, keepdims=True)
        return out, missing

    def from_target(self, refined: np.ndarray, points: np.ndarray) -> np.ndarray:
        """Back to the source layout: shared joints refined, the others moved with their ancestor."""
        correction = np.zeros_like(points)
        correction[:, :, self.source_index] = refined[:, :, self.target_index] - points[:, :, self.source_index]
        return points + correction[:, :, self.follow]


def find_bridge(source: Layout | str, candidates: list[str]) -> Bridge | None:
    """The candidate layout whose joints ``source`` covers best (sharing at least MIN_SHARED)."""
    src = get_layout(source)
    best, shared, best_key = None, [], (-1.0, -1)
    for name in candidates:
        tgt = get_layout(name)
        common = [j for j in src.joints if j in tgt.joints]
        # Prefer the model whose own joints are all present: a joint the model always expects
        # but never gets (e.g. BODY_25's neck for MediaPipe input) is out of its training data.
        key = (len(common) / tgt.num_joints, len(common))
        if key > best_key:
            best, shared, best_key = tgt, common, key
    if best is None or len(shared) < MIN_SHARED:
        return None
    source_index = np.array([src.joints.index(j) for j in shared])
    target_index = np.array([best.joints.index(j) for j in shared])
    covered = set(source_index.tolist())
    follow = np.arange(src.num_joints)
    for j in range(src.num_joints):
        a = j
        while a not in covered and src.parents[a] >= 0:
            a = src.parents[a]
        follow[j] = a if a in covered else source_index[0]
    return Bridge(src, best, source_index, target_index, follow)
