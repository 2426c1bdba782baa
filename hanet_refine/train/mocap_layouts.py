"""From the Bandai-Namco mocap skeleton to our keypoint layouts and to SMPL-style rotations.

The mocap skeleton (22 nodes: ``joint_Root``, ``Hips``, ``Spine``, ``Chest``, ``Neck``,
``Head`` and per side ``Shoulder``, ``UpperArm``, ``LowerArm``, ``Hand``, ``UpperLeg``,
``LowerLeg``, ``Foot``, ``Toes`` with suffix ``_L`` / ``_R``) has no face, head-top, finger or
foot-surface points, and its bones run along each joint's local x axis, so its
identity-rotation pose is not a T-pose. Two tables below make it usable:

- :data:`REST_AXES`: the world rotation of every mocap joint when the skeleton stands in an
  SMPL-like T-pose (facing +z, y up, the actor's left at +x, arms out along +-x, palms down,
  legs straight down, feet flat). ``C_j = G_j @ Q_j^T`` is then the joint's *body-aligned
  frame*: its columns are the joint's (left, up, forward) directions, the same for both sides,
  so a keypoint is placed at ``joint + s * C_j @ offset`` with one offset per name and a
  mirrored one for the other side. It was checked on the data (see
  ``tests/test_mocap_layouts.py`` and ``docs/figures/layout_*.png``): the nose is in front of
  the head, toes in front of the ankles, left joints on the body's left.
- :data:`KEYPOINTS`: every keypoint of every layout as a weighted sum of mocap joints plus an
  offset in one joint's body-aligned frame, scaled to the actor (``s`` = leg length / 0.80 m).

SMPL: :func:`to_smpl` re-bases the global rotations on the T-pose, ``G_smpl = G_bvh @ Q^T``,
and converts them to local rotations ``G_parent^T @ G_j`` on the SMPL tree, so identity
rotations are the T-pose of :data:`DEFAULT_SMPL_SKELETON` (our own SMPL-like skeleton with
this actor's bone lengths, not the licence-restricted SMPL model's joint regressor).

Example:
    >>> bvh = next(iter_archive(path))[1]  # doctest: +SKIP
    >>> positions, rotations = forward_kinematics(bvh)
    >>> coco = to_layout(positions, rotations, bvh.joint_names, "coco17")   # (T, 17, 3) metres
    >>> smpl = to_smpl(positions, rotations, bvh.joint_names)               # rotations (T, 24, 3, 3)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from hanet_refine.layouts import get_layout

from .bvh import Bvh
from .kinematics import forward_kinematics

__all__ = [
    "DEFAULT_SMPL_SKELETON",
    "KEYPOINTS",
    "REFERENCE_LEG_LENGTH",
    "REST_AXES",
    "SMPL_ROTATION_SOURCES",
    "SUPPORTED_LAYOUTS",
    "body_frames",
    "body_scale",
    "convert_bvh",
    "rest_rotations",
    "smpl_forward_kinematics",
    "smpl_skeleton",
    "to_layout",
    "to_smpl",
]

_UP, _DOWN = (0.0, 1.0, 0.0), (0.0, -1.0, 0.0)
_LEFT, _RIGHT = (1.0, 0.0, 0.0), (-1.0, 0.0, 0.0)
_FWD, _BACK = (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)
# Measured on the data: with the foot flat on the ground (stance frames of walks, toe speed
# < 5 cm/s) the Foot bone (ankle -> ball) points 39.6 deg below horizontal and the Toes bone
# 22.7 deg below; taking these as the rest makes a flat foot the identity (as SMPL's T-pose).
_FOOT_DOWN = np.radians(39.6)
_TOES_DOWN = np.radians(22.7)
_FOOT_L = (0.0, -np.sin(_FOOT_DOWN), np.cos(_FOOT_DOWN))
_TOES_L = (0.0, -np.sin(_TOES_DOWN), np.cos(_TOES_DOWN))

#: World directions of each mocap joint's local (x, y) axes in the T-pose rest (z = x cross y).
#: Read off the data (walks facing +z): bones run along +x on the left and the spine, along
#: -x on the right; the right side's frames are the left's turned 180 deg about the bone.
REST_AXES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "joint_Root": (_LEFT, _UP),
    "Hips": (_UP, _RIGHT),  # z forward
    "Spine": (_UP, _FWD),  # z left; same for Chest, Neck, Head
    "Chest": (_UP, _FWD),
    "Neck": (_UP, _FWD),
    "Head": (_UP, _FWD),  # y is where the face looks
    "Shoulder_L": (_LEFT, _UP),
    "UpperArm_L": (_LEFT, _UP),  # z forward: thumb side
    "LowerArm_L": (_LEFT, _UP),
    "Hand_L": (_LEFT, _UP),
    "Shoulder_R": (_LEFT, _DOWN),
    "UpperArm_R": (_LEFT, _DOWN),  # z backward, bone along -x
    "LowerArm_R": (_LEFT, _DOWN),
    "Hand_R": (_LEFT, _DOWN),
    "UpperLeg_L": (_DOWN, _LEFT),
    "LowerLeg_L": (_DOWN, _LEFT),  # z forward
    "Foot_L": (_FOOT_L, _LEFT),
    "Toes_L": (_TOES_L, _LEFT),
    "UpperLeg_R": (_UP, _LEFT),
    "LowerLeg_R": (_UP, _LEFT),  # z backward, bone along -x
    "Foot_R": (tuple(-np.array(_FOOT_L)), _LEFT),
    "Toes_R": (tuple(-np.array(_TOES_L)), _LEFT),
}

#: Leg length (hip to knee to ankle) of the reference body the offsets below are written for
#: (the Bandai-Namco actor skeleton: 39.08 + 40.99 cm). Offsets scale with leg length / this.
REFERENCE_LEG_LENGTH = 0.8007

# One keypoint definition: ((mocap joint, weight), ...), frame joint or None, offset in metres
# in that joint's body-aligned frame (left, up, forward) for the reference body.
_Def = tuple[tuple[tuple[str, float], ...], str | None, tuple[float, float, float]]
_ZERO = (0.0, 0.0, 0.0)


def _j(name: str) -> _Def:
    return (((name, 1.0),), None, _ZERO)


def _at(name: str, offset: tuple[float, float, float]) -> _Def:
    return (((name, 1.0),), name, offset)


def _mid(a: str, b: str, wa: float = 0.5) -> _Def:
    return (((a, wa), (b, 1.0 - wa)), None, _ZERO)


#: Every keypoint of every supported layout. Keys are joint names of hanet_refine.layouts;
#: "layout/name" keys override a name for one layout (the same name means a different place
#: there). Only left-side entries are written: the right side mirrors them (``_L`` -> ``_R``,
#: the "left" offset component negated). Offsets (left, up, forward) in metres for the
#: reference body; the Head joint is at the top of the neck (chin height), the Foot joint at
#: the ankle (11.7 cm above the floor when standing), Toes at the ball of the foot (4.2 cm).
KEYPOINTS: dict[str, _Def] = {
    # --- joints the mocap has (coco17, body25, halpe26, mediapipe33, smpl24) ---
    "left_shoulder": _j("UpperArm_L"),  # glenohumeral joint, not the clavicle root
    "left_elbow": _j("LowerArm_L"),
    "left_wrist": _j("Hand_L"),
    "left_hip": _j("UpperLeg_L"),
    "left_knee": _j("LowerLeg_L"),
    "left_ankle": _j("Foot_L"),
    # --- face, in the Head frame ---
    "nose": _at("Head", (0.0, 0.095, 0.105)),  # nose tip
    "left_eye": _at("Head", (0.032, 0.125, 0.085)),
    "left_eye_inner": _at("Head", (0.016, 0.125, 0.092)),
    "left_eye_outer": _at("Head", (0.048, 0.123, 0.075)),
    "left_ear": _at("Head", (0.072, 0.110, 0.0)),  # ear canal, above the neck line
    "mouth_left": _at("Head", (0.024, 0.062, 0.095)),
    "head_top": _at("Head", (0.0, 0.225, 0.010)),  # vertex of the skull
    # --- combinations (OpenPose / Halpe define them from other keypoints) ---
    "neck": _mid("UpperArm_L", "UpperArm_R"),  # OpenPose neck = mid-shoulders
    "mid_hip": _mid("UpperLeg_L", "UpperLeg_R"),
    # --- feet: heel in the Foot frame, toes in the Toes frame (flat foot = body axes) ---
    "left_heel": _at("Foot_L", (0.0, -0.088, -0.060)),  # back of the heel, 3 cm above floor
    "left_big_toe": _at("Toes_L", (-0.015, -0.025, 0.070)),  # tip, medial (foot 23 cm long)
    "left_small_toe": _at("Toes_L", (0.035, -0.025, 0.040)),  # tip, lateral
    "left_foot_index": _at("Toes_L", (-0.005, -0.025, 0.068)),  # MediaPipe: 2nd toe tip
    # --- hand points (MediaPipe), in the Hand frame: left = along the fingers, up = back
    # of the hand, forward = thumb side (T-pose, palms down) ---
    "left_pinky": _at("Hand_L", (0.075, 0.0, -0.030)),
    "left_index": _at("Hand_L", (0.085, 0.0, 0.020)),
    "left_thumb": _at("Hand_L", (0.050, -0.010, 0.045)),
    # --- Human3.6M 17 (its names mean other places than OpenPose's) ---
    "h36m17/pelvis": _j("Hips"),  # 2.2 cm above the hip line, centred
    "h36m17/spine": _mid("Spine", "Chest"),  # mid-torso
    "h36m17/thorax": _j("Neck"),  # base of the neck, at shoulder height
    "h36m17/neck": _at("Head", (0.0, 0.050, 0.050)),  # H36M "neck/nose": chin-mouth
    "h36m17/head_top": _at("Head", (0.0, 0.165, 0.030)),  # H36M "head": forehead / crown
    # --- SMPL 24 (positions consistent with to_smpl: each is rigid in the frame of the
    # mocap joint its SMPL parent takes its rotation from) ---
    "smpl24/pelvis": _j("Hips"),
    "smpl24/spine1": _j("Spine"),
    "smpl24/spine2": _j("Chest"),
    "smpl24/spine3": _mid("Chest", "Neck", 0.75),  # a quarter up the Chest -> Neck bone
    "smpl24/neck": _j("Neck"),
    "smpl24/head": _j("Head"),
    "smpl24/left_collar": _j("Shoulder_L"),  # clavicle root
    "smpl24/left_foot": _j("Toes_L"),  # SMPL foot joint = ball of the foot
    "smpl24/left_hand": _at("Hand_L", (0.080, 0.0, 0.0)),  # knuckles
}

#: Which mocap joint's rotation each SMPL joint takes (local rotation of spine3 and the
#: hands is then identity: they move rigidly with Chest and Hand).
SMPL_ROTATION_SOURCES: dict[str, str] = {
    "pelvis": "Hips",
    "spine1": "Spine",
    "spine2": "Chest",
    "spine3": "Chest",
    "neck": "Neck",
    "head": "Head",
    "left_hip": "UpperLeg_L",
    "left_knee": "LowerLeg_L",
    "left_ankle": "Foot_L",
    "left_foot": "Toes_L",
    "left_collar": "Shoulder_L",
    "left_shoulder": "UpperArm_L",
    "left_elbow": "LowerArm_L",
    "left_wrist": "Hand_L",
    "left_hand": "Hand_L",
}

#: Layouts :func:`to_layout` can produce.
SUPPORTED_LAYOUTS = ("coco17", "body25", "openpose18", "halpe26", "mediapipe33", "h36m17", "smpl24")


def _mirror_name(name: str) -> str:
    """left <-> right in a layout name (``left_eye``, ``mouth_left``) or a mocap joint (``_L``)."""
    if name.endswith("_left"):
        return name[: -len("left")] + "right"
    return name.replace("left_", "right_").replace("_L", "_R")


def _mirror(d: _Def) -> _Def:
    weights, frame, off = d
    return (
        tuple((_mirror_name(j), w) for j, w in weights),
        None if frame is None else _mirror_name(frame),
        (-off[0], off[1], off[2]),
    )


def _expand(table: dict[str, Any]) -> dict[str, Any]:
    out = dict(table)
    for key, value in table.items():
        if "left_" in key or key.endswith("_left"):
            out[_mirror_name(key)] = _mirror(value) if isinstance(value, tuple) else _mirror_name(value)
    return out


_ALL_KEYPOINTS = _expand(KEYPOINTS)
_ALL_SMPL_SOURCES = _expand(SMPL_ROTATION_SOURCES)


def _definition(layout: str, name: str) -> _Def:
    return _ALL_KEYPOINTS.get(f"{layout}/{name}") or _ALL_KEYPOINTS[name]


def rest_rotations(joint_names: Sequence[str]) -> np.ndarray:
    """T-pose world rotation ``Q_j`` of each mocap joint (see :data:`REST_AXES`).

    Returns:
        ``(J, 3, 3)`` rotation matrices; columns are the local axes in world coordinates.

    Raises:
        ValueError: if a joint is not in :data:`REST_AXES`.
    """
    return _rest_rotations(tuple(joint_names)).copy()


@functools.lru_cache(maxsize=64)
def _rest_rotations(joint_names: tuple[str, ...]) -> np.ndarray:
    unknown = [n for n in joint_names if n not in REST_AXES]
    if unknown:
        raise ValueError(
            f"no T-pose rest known for mocap joints {unknown}; this mapping is written for the "
            f"Bandai-Namco skeleton with joints {list(REST_AXES)}"
        )
    out = np.empty((len(joint_names), 3, 3))
    for i, n in enumerate(joint_names):
        x, y = (np.asarray(v, dtype=np.float64) for v in REST_AXES[n])
        x = x / np.linalg.norm(x)
        out[i] = np.stack([x, y, np.cross(x, y)], axis=1)
    out.flags.writeable = False  # cached: shared between calls
    return out


def _check(
    positions: np.ndarray, rotations: np.ndarray, joint_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    positions = np.asarray(positions, dtype=np.float64)
    rotations = np.asarray(rotations, dtype=np.float64)
    j = len(joint_names)
    if positions.ndim != 3 or positions.shape[1:] != (j, 3):
        raise ValueError(f"positions must have shape (T, {j}, 3) for {j} joint names, got {positions.shape}")
    if rotations.shape != positions.shape[:2] + (3, 3):
        raise ValueError(
            f"rotations must have shape {positions.shape[:2] + (3, 3)} to match positions, "
            f"got {rotations.shape}"
        )
    return positions, rotations


def body_frames(rotations: np.ndarray, joint_names: Sequence[str]) -> np.ndarray:
    """Body-aligned frames ``C_j = G_j @ Q_j^T``: columns are each joint's (left, up, forward).

    Shape:
        rotations: ``(T, J, 3, 3)`` world rotations; returns ``(T, J, 3, 3)``.
    """
    q = _rest_rotations(tuple(joint_names))
    return np.asarray(rotations) @ np.swapaxes(q, -1, -2)


def _index(joint_names: Sequence[str]) -> dict[str, int]:
    return {n: i for i, n in enumerate(joint_names)}


def body_scale(positions: np.ndarray, joint_names: Sequence[str], *, unit_scale: float = 0.01) -> float:
    """Actor size relative to the reference body: leg length / :data:`REFERENCE_LEG_LENGTH`.

    Leg length is hip-knee plus knee-ankle, mean of both sides, median over frames.

    Raises:
        ValueError: if the leg joints are not in ``joint_names``.
    """
    idx = _index(joint_names)
    legs = [f"{n}_{side}" for side in "LR" for n in ("UpperLeg", "LowerLeg", "Foot")]
    if any(n not in idx for n in legs):
        raise ValueError(f"body_scale needs mocap joints {legs}, got joint_names {list(joint_names)}")
    p = np.asarray(positions, dtype=np.float64)
    if p.shape[0] == 0:
        return 1.0
    lengths = []
    for side in "LR":
        hip, knee, ankle = (idx[f"{n}_{side}"] for n in ("UpperLeg", "LowerLeg", "Foot"))
        lengths.append(
            np.linalg.norm(p[:, knee] - p[:, hip], axis=-1)
            + np.linalg.norm(p[:, ankle] - p[:, knee], axis=-1)
        )
    return float(np.median(np.mean(lengths, axis=0)) * unit_scale / REFERENCE_LEG_LENGTH)


def to_layout(
    positions: np.ndarray,
    rotations: np.ndarray,
    joint_names: Sequence[str],
    layout: str,
    *,
    unit_scale: float = 0.01,
) -> np.ndarray:
    """Keypoints of ``layout`` from mocap forward-kinematics output.

    Args:
        positions: world joint positions from :func:`~hanet_refine.train.kinematics.forward_kinematics`.
        rotations: world joint rotations from the same call.
        joint_names: the mocap joint names (``bvh.joint_names``).
        layout: one of :data:`SUPPORTED_LAYOUTS`.
        unit_scale: metres per file unit (0.01: the Bandai-Namco files are in centimetres).

    Returns:
        ``(T, J_layout, 3)`` float64 keypoints in metres, y up, in the mocap's world frame,
        joints in ``hanet_refine.layouts`` order.

    Raises:
        ValueError: for an unsupported layout, a skeleton without the needed joints, or
            mismatched shapes.

    Shape:
        positions ``(T, J, 3)``, rotations ``(T, J, 3, 3)``.
    """
    if layout not in SUPPORTED_LAYOUTS:
        raise ValueError(f"to_layout supports layouts {list(SUPPORTED_LAYOUTS)}, got {layout!r}")
    positions, rotations = _check(positions, rotations, joint_names)
    defs = [_definition(layout, name) for name in get_layout(layout).joints]
    idx = _index(joint_names)
    needed = {j for weights, frame, _ in defs for j, _ in weights} | {f for _, f, _ in defs if f}
    missing = sorted(needed - set(idx))
    if missing:
        raise ValueError(
            f"layout {layout!r} needs mocap joints {missing}, not in joint_names {list(joint_names)}"
        )
    frame_joints = sorted({f for _, f, _ in defs if f}, key=idx.__getitem__)
    frames = body_frames(rotations[:, [idx[f] for f in frame_joints]], frame_joints)
    frame_of = {f: k for k, f in enumerate(frame_joints)}
    scale = body_scale(positions, joint_names, unit_scale=unit_scale)
    out = np.zeros((positions.shape[0], len(defs), 3))
    for k, (weights, frame, offset) in enumerate(defs):
        for joint, w in weights:
            out[:, k] += w * positions[:, idx[joint]]
        out[:, k] *= unit_scale
        if frame is not None:
            out[:, k] += scale * frames[:, frame_of[frame]] @ np.asarray(offset)
    return out


# ---------------------------------------------------------------------------------------------
# SMPL


_SMPL = get_layout("smpl24")

#: Our SMPL-like skeleton: rest offset (metres) of each SMPL-24 joint from its parent in the
#: T-pose (identity rotations; facing +z, y up, left = +x). Derived from the Bandai-Namco
#: actor's bone lengths through :data:`KEYPOINTS` and :data:`REST_AXES` (``smpl_skeleton``
#: of any file gives the same numbers to 0.1 mm); not taken from the SMPL model files. Row 0
#: (pelvis) is zero: the pelvis sits at ``root_translation``.
DEFAULT_SMPL_SKELETON = np.array(
    [
        [0.0, 0.0, 0.0],  # pelvis (root)
        [0.0647, -0.0219, 0.0],  # left_hip       from pelvis (Hips -> UpperLeg_L)
        [-0.0647, -0.0219, 0.0],  # right_hip
        [0.0, 0.1574, 0.0],  # spine1         from pelvis (Hips -> Spine)
        [0.0, -0.3908, 0.0],  # left_knee      from left_hip (thigh)
        [0.0, -0.3908, 0.0],  # right_knee
        [0.0, 0.0898, -0.0041],  # spine2         from spine1 (Spine -> Chest)
        [0.0, -0.4099, 0.0],  # left_ankle     from left_knee (shank)
        [0.0, -0.4099, 0.0],  # right_ankle
        [0.0, 0.0409, 0.0],  # spine3         from spine2 (1/4 of Chest -> Neck)
        [0.0, -0.0749, 0.0906],  # left_foot      from left_ankle (ankle -> ball, foot flat)
        [0.0, -0.0749, 0.0906],  # right_foot
        [0.0, 0.1228, 0.0],  # neck           from spine3
        [0.0498, 0.0890, -0.0024],  # left_collar    from spine3 (clavicle root)
        [-0.0498, 0.0890, -0.0024],  # right_collar
        [0.0, 0.0646, 0.0],  # head           from neck (Neck -> Head)
        [0.0535, 0.0, 0.0],  # left_shoulder  from left_collar (clavicle)
        [-0.0535, 0.0, 0.0],  # right_shoulder
        [0.2433, 0.0, 0.0],  # left_elbow     from left_shoulder (upper arm)
        [-0.2433, 0.0, 0.0],  # right_elbow
        [0.2229, 0.0, 0.0],  # left_wrist     from left_elbow (forearm)
        [-0.2229, 0.0, 0.0],  # right_wrist
        [0.0800, 0.0, 0.0],  # left_hand      from left_wrist (wrist -> knuckles)
        [-0.0800, 0.0, 0.0],  # right_hand
    ]
)
DEFAULT_SMPL_SKELETON.flags.writeable = False


def _smpl_sources(joint_names: Sequence[str]) -> list[int]:
    idx = _index(joint_names)
    missing = sorted({s for s in _ALL_SMPL_SOURCES.values() if s not in idx})
    if missing:
        raise ValueError(
            f"SMPL retargeting needs mocap joints {missing}, not in joint_names {list(joint_names)}"
        )
    return [idx[_ALL_SMPL_SOURCES[n]] for n in _SMPL.joints]


def smpl_skeleton(
    positions: np.ndarray, rotations: np.ndarray, joint_names: Sequence[str], *, unit_scale: float = 0.01
) -> np.ndarray:
    """The actor's own SMPL-like skeleton: rest offsets that make :func:`smpl_forward_kinematics`
    of :func:`to_smpl`'s rotations reproduce ``to_layout(..., "smpl24")``.

    Each offset is the child's position expressed in the T-pose frame of the joint its SMPL
    parent takes its rotation from, averaged over frames.

    Returns:
        ``(24, 3)`` offsets in metres (row 0 zero), like :data:`DEFAULT_SMPL_SKELETON`.

    Raises:
        ValueError: if there are no frames, or for a skeleton without the needed joints.
    """
    positions, rotations = _check(positions, rotations, joint_names)
    if positions.shape[0] == 0:
        raise ValueError("smpl_skeleton needs at least one frame")
    src = _smpl_sources(joint_names)
    joints = to_layout(positions, rotations, joint_names, "smpl24", unit_scale=unit_scale)
    glob = body_frames(rotations[:, src], [joint_names[s] for s in src])  # G_smpl, (T, 24, 3, 3)
    out = np.zeros((24, 3))
    for j, p in enumerate(_SMPL.parents):
        if p >= 0:
            rel = np.einsum("tba,tb->ta", glob[:, p], joints[:, j] - joints[:, p])
            out[j] = rel.mean(axis=0)
    return out


def to_smpl(
    positions: np.ndarray,
    rotations: np.ndarray,
    joint_names: Sequence[str],
    *,
    unit_scale: float = 0.01,
) -> dict[str, np.ndarray]:
    """Retarget mocap rotations to SMPL-24 local rotations (identity = T-pose).

    ``G_smpl_j = G_bvh_src(j) @ Q_src(j)^T`` (:data:`SMPL_ROTATION_SOURCES`, :data:`REST_AXES`),
    then ``local_j = G_smpl_parent^T @ G_smpl_j``. spine3 and the hands have no mocap joint of
    their own: their local rotation is identity (they follow Chest and Hand).

    Args:
        positions: world joint positions from ``forward_kinematics``, file units.
        rotations: world joint rotations from the same call.
        joint_names: the mocap joint names.
        unit_scale: metres per file unit.

    Returns:
        ``{"rotations": (T, 24, 3, 3) local rotation matrices in SMPL joint order,
        "root_translation": (T, 3) pelvis position in metres,
        "global_rotations": (T, 24, 3, 3), "skeleton": (24, 3) the actor's rest offsets
        (see :func:`smpl_skeleton`)}``, float64.

    Raises:
        ValueError: for mismatched shapes or a skeleton without the needed joints.
    """
    positions, rotations = _check(positions, rotations, joint_names)
    src = _smpl_sources(joint_names)
    glob = body_frames(rotations[:, src], [joint_names[s] for s in src])
    local = glob.copy()
    parents = np.array(_SMPL.parents)
    local[:, 1:] = np.swapaxes(glob[:, parents[1:]], -1, -2) @ glob[:, 1:]
    root = positions[:, src[0]] * unit_scale
    skeleton = (
        smpl_skeleton(positions, rotations, joint_names, unit_scale=unit_scale)
        if positions.shape[0]
        else DEFAULT_SMPL_SKELETON.copy()
    )
    return {"rotations": local, "root_translation": root, "global_rotations": glob, "skeleton": skeleton}


def smpl_forward_kinematics(rotations: Any, root_translation: Any = None, skeleton: Any = None) -> Any:
    """Joint positions of an SMPL-24 skeleton from local rotations.

    NumPy in gives NumPy out; a torch tensor gives a tensor on its device and dtype (so it can
    be used inside a loss).

    Args:
        rotations: local rotation matrices in SMPL joint order (identity = T-pose).
        root_translation: pelvis positions; None puts the pelvis at the origin.
        skeleton: ``(24, 3)`` rest offsets from each joint's parent; None uses
            :data:`DEFAULT_SMPL_SKELETON`.

    Returns:
        ``(..., 24, 3)`` joint positions, in the skeleton's unit (metres).

    Raises:
        ValueError: for wrong shapes.

    Shape:
        rotations ``(..., 24, 3, 3)`` (e.g. ``(T, 24, 3, 3)`` or ``(N, T, 24, 3, 3)``),
        root_translation ``(..., 3)``.
    """
    is_torch = type(rotations).__module__.startswith("torch")
    if is_torch:
        import torch

        def as_array(x: Any) -> Any:
            if isinstance(x, np.ndarray):
                x = np.array(x)  # writable copy: torch refuses read-only arrays
            return torch.as_tensor(x, dtype=rotations.dtype, device=rotations.device)

        einsum, stack = torch.einsum, torch.stack
    else:
        rotations = np.asarray(rotations)
        if not np.issubdtype(rotations.dtype, np.floating):
            rotations = rotations.astype(np.float64)

        def as_array(x: Any) -> Any:
            return np.asarray(x, dtype=rotations.dtype)

        einsum, stack = np.einsum, np.stack
    shape = tuple(rotations.shape)
    if len(shape) < 3 or shape[-3:] != (24, 3, 3):
        raise ValueError(f"rotations must have shape (..., 24, 3, 3), got {shape}")
    offsets = as_array(DEFAULT_SMPL_SKELETON if skeleton is None else skeleton)
    if tuple(offsets.shape) != (24, 3):
        raise ValueError(f"skeleton must have shape (24, 3), got {tuple(offsets.shape)}")
    if root_translation is not None:
        root_translation = as_array(root_translation)
        if tuple(root_translation.shape) != shape[:-3] + (3,):
            raise ValueError(
                f"root_translation must have shape {shape[:-3] + (3,)} to match rotations, "
                f"got {tuple(root_translation.shape)}"
            )
    glob: list[Any] = [rotations[..., 0, :, :]]
    pos: list[Any] = [root_translation if root_translation is not None else rotations[..., 0, :, 0] * 0]
    for j in range(1, 24):
        p = _SMPL.parents[j]
        pos.append(pos[p] + einsum("...ab,b->...a", glob[p], offsets[j]))
        glob.append(glob[p] @ rotations[..., j, :, :])
    return stack(pos, -2)


def convert_bvh(
    bvh: Bvh,
    layouts: Sequence[str] = ("coco17", "body25", "h36m17", "smpl24"),
    *,
    smpl: bool = True,
    unit_scale: float = 0.01,
) -> dict[str, np.ndarray]:
    """Forward kinematics once, then every requested layout (and SMPL rotations).

    Returns:
        ``{layout: (T, J_layout, 3) metres}`` for each layout, plus, if ``smpl``,
        ``"smpl_rotations"`` (T, 24, 3, 3), ``"smpl_root_translation"`` (T, 3) and
        ``"smpl_skeleton"`` (24, 3). float64.
    """
    positions, rotations = forward_kinematics(bvh)
    out = {
        name: to_layout(positions, rotations, bvh.joint_names, name, unit_scale=unit_scale)
        for name in layouts
    }
    if smpl:
        s = to_smpl(positions, rotations, bvh.joint_names, unit_scale=unit_scale)
        out["smpl_rotations"] = s["rotations"]
        out["smpl_root_translation"] = s["root_translation"]
        out["smpl_skeleton"] = s["skeleton"]
    return out
