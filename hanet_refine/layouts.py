"""Keypoint layouts: joint names, kinematic parents and left/right pairs.

Every layout names its joints in snake_case with ``left_`` / ``right_`` prefixes, so that
joints can be matched across layouts by name (see :func:`convert`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Layout", "LAYOUTS", "get_layout", "convert", "infer_layout"]


def _mirror(name: str) -> str | None:
    for a, b in (("left", "right"), ("right", "left")):
        if name.startswith(a + "_"):
            return b + name[len(a):]
        if name.endswith("_" + a):
            return name[: -len(a)] + b
    return None


@dataclass(frozen=True)
class Layout:
    """A keypoint layout.

    Attributes:
        name: registry name, e.g. ``"coco17"``.
        joints: joint names in array order.
        parents: index of each joint's parent in a kinematic tree (-1 for the root).
        extra_edges: bones drawn in addition to the tree (e.g. shoulder to shoulder).
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    extra_edges: tuple[tuple[int, int], ...] = ()
    description: str = ""
    flip_index: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.joints) != len(self.parents):
            raise ValueError(f"layout {self.name}: {len(self.joints)} joints, {len(self.parents)} parents")
        index = {n: i for i, n in enumerate(self.joints)}
        flip = tuple(index.get(_mirror(n) or n, i) for i, n in enumerate(self.joints))
        object.__setattr__(self, "flip_index", flip)

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """Bones as (parent, child) pairs: the tree plus ``extra_edges``."""
        tree = tuple((p, c) for c, p in enumerate(self.parents) if p >= 0)
        return tree + self.extra_edges

    @property
    def left_right_pairs(self) -> tuple[tuple[int, int], ...]:
        """(left, right) joint index pairs."""
        return tuple(
            (i, j) for i, j in enumerate(self.flip_index)
            if i != j and (self.joints[i].startswith("left_") or self.joints[i].endswith("_left"))
        )

    def index(self, joint: str) -> int:
        try:
            return self.joints.index(joint)
        except ValueError:
            raise ValueError(f"layout {self.name!r} has no joint {joint!r}; it has {list(self.joints)}") from None


_COCO17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_BODY25 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist", "mid_hip",
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
    "left_big_toe", "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel",
)
_OPENPOSE18 = _BODY25[:8] + _BODY25[9:19]
_HALPE26 = _COCO17 + (
    "head_top", "neck", "mid_hip",
    "left_big_toe", "right_big_toe", "left_small_toe", "right_small_toe", "left_heel", "right_heel",
)
_MEDIAPIPE33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer", "left_ear", "right_ear",
    "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee",
    "left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
_H36M17 = (
    "pelvis", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "spine", "thorax", "neck", "head_top", "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)
_SMPL24 = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)


def _parents(names: tuple[str, ...], pairs: dict[str, str | None]) -> tuple[int, ...]:
    return tuple(-1 if pairs[n] is None else names.index(pairs[n]) for n in names)


def _edges(names: tuple[str, ...], pairs: list[tuple[str, str]]) -> tuple[tuple[int, int], ...]:
    return tuple((names.index(a), names.index(b)) for a, b in pairs)


_FACE_TO_NOSE = {"left_eye": "nose", "right_eye": "nose", "left_ear": "left_eye", "right_ear": "right_eye"}
_LIMBS = {
    "left_elbow": "left_shoulder", "right_elbow": "right_shoulder",
    "left_wrist": "left_elbow", "right_wrist": "right_elbow",
    "left_knee": "left_hip", "right_knee": "right_hip",
    "left_ankle": "left_knee", "right_ankle": "right_knee",
}
_FEET = {
    "left_big_toe": "left_ankle", "left_small_toe": "left_big_toe", "left_heel": "left_ankle",
    "right_big_toe": "right_ankle", "right_small_toe": "right_big_toe", "right_heel": "right_ankle",
}
_COCO_TREE = {
    "nose": None, **_FACE_TO_NOSE, "left_shoulder": "nose", "right_shoulder": "nose",
    "left_hip": "left_shoulder", "right_hip": "right_shoulder", **_LIMBS,
}
_OPENPOSE_TREE = {
    "mid_hip": None, "neck": "mid_hip", "nose": "neck", **_FACE_TO_NOSE,
    "left_shoulder": "neck", "right_shoulder": "neck", "left_hip": "mid_hip", "right_hip": "mid_hip",
    **_LIMBS, **_FEET,
}
_OPENPOSE18_TREE = {**_OPENPOSE_TREE, "neck": None, "left_hip": "neck", "right_hip": "neck"}
_HALPE_TREE = {**_OPENPOSE_TREE, "head_top": "neck"}
_MP_TREE = {
    "nose": None, "left_eye_inner": "nose", "left_eye": "left_eye_inner", "left_eye_outer": "left_eye",
    "right_eye_inner": "nose", "right_eye": "right_eye_inner", "right_eye_outer": "right_eye",
    "left_ear": "left_eye_outer", "right_ear": "right_eye_outer",
    "mouth_left": "nose", "mouth_right": "nose",
    "left_shoulder": "nose", "right_shoulder": "nose",
    "left_hip": "left_shoulder", "right_hip": "right_shoulder", **_LIMBS,
    "left_pinky": "left_wrist", "left_index": "left_wrist", "left_thumb": "left_wrist",
    "right_pinky": "right_wrist", "right_index": "right_wrist", "right_thumb": "right_wrist",
    "left_heel": "left_ankle", "left_foot_index": "left_ankle",
    "right_heel": "right_ankle", "right_foot_index": "right_ankle",
}
_SHOULDERS_HIPS = [("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")]

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("coco17", _COCO17, _parents(_COCO17, _COCO_TREE), _edges(_COCO17, _SHOULDERS_HIPS),
               "COCO keypoints (ViTPose, RTMPose, MMPose, Detectron2, YOLO-pose)"),
        Layout("body25", _BODY25, _parents(_BODY25, _OPENPOSE_TREE), (),
               "OpenPose BODY_25"),
        Layout("openpose18", _OPENPOSE18, _parents(_OPENPOSE18, _OPENPOSE18_TREE), (),
               "OpenPose COCO-18 model"),
        Layout("halpe26", _HALPE26, _parents(_HALPE26, _HALPE_TREE), (),
               "Halpe-26 (AlphaPose, RTMPose body8-halpe26)"),
        Layout("mediapipe33", _MEDIAPIPE33, _parents(_MEDIAPIPE33, _MP_TREE),
               _edges(_MEDIAPIPE33, _SHOULDERS_HIPS), "MediaPipe Pose / BlazePose landmarks"),
        Layout("h36m17", _H36M17, (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15), (),
               "Human3.6M 17 joints (VideoPose3D, MotionBERT, MHFormer)"),
        Layout("smpl24", _SMPL24,
               (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21), (),
               "SMPL body model joints (HMR, SPIN, PARE, VIBE, 4DHumans)"),
    )
}

# Layouts tried when only the joint count is known, per kind; ambiguous counts are not listed.
_DEFAULT_BY_COUNT = {
    "2d": {17: "coco17", 25: "body25", 18: "openpose18", 26: "halpe26", 33: "mediapipe33"},
    "3d": {17: "h36m17", 24: "smpl24"},
    "smpl": {24: "smpl24"},
}


def get_layout(name: str | Layout) -> Layout:
    """Return the layout called ``name``.

    Raises:
        ValueError: if no layout has that name.
    """
    if isinstance(name, Layout):
        return name
    if name not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r}; known layouts: {sorted(LAYOUTS)}")
    return LAYOUTS[name]


def infer_layout(kind: str, num_joints: int) -> Layout:
    """Pick the default layout of ``kind`` with ``num_joints`` joints.

    Raises:
        ValueError: if no layout of that size is known for ``kind``; the message lists layouts.
    """
    name = _DEFAULT_BY_COUNT.get(kind, {}).get(num_joints)
    if name is None:
        known = ", ".join(f"{n} ({LAYOUTS[n].num_joints} joints)" for n in sorted(LAYOUTS))
        raise ValueError(
            f"cannot infer the layout of {num_joints} joints for kind={kind!r}; "
            f"pass layout=... (known layouts: {known})"
        )
    return LAYOUTS[name]


def convert(keypoints: np.ndarray, source: str | Layout, target: str | Layout) -> np.ndarray:
    """Reorder ``(..., J_source, D)`` keypoints into ``target``'s joints, matched by name.

    Joints that ``target`` has and ``source`` lacks are NaN (missing), so a refiner fills them.

    Raises:
        ValueError: if the joint axis does not match ``source``.
    """
    src, dst = get_layout(source), get_layout(target)
    keypoints = np.asarray(keypoints)
    if keypoints.ndim < 2 or keypoints.shape[-2] != src.num_joints:
        raise ValueError(
            f"keypoints of layout {src.name!r} need shape (..., {src.num_joints}, D), got {keypoints.shape}"
        )
    out = np.full(keypoints.shape[:-2] + (dst.num_joints, keypoints.shape[-1]), np.nan,
                  dtype=np.result_type(keypoints.dtype, np.float32))
    for j, name in enumerate(dst.joints):
        if name in src.joints:
            out[..., j, :] = keypoints[..., src.joints.index(name), :]
    return out
