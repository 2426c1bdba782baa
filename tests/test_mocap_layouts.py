"""Mocap skeleton -> keypoint layouts and SMPL rotations.

Synthetic tests build a skeleton with the Bandai-Namco joint names and axis conventions but
our own round bone lengths; the real-data tests read one walking clip of dataset 1 and skip
when the archive is absent.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hanet_refine.layouts import get_layout
from hanet_refine.train.bvh import Bvh, archive_paths, iter_archive
from hanet_refine.train.kinematics import forward_kinematics
from hanet_refine.train.mocap_layouts import (
    DEFAULT_SMPL_SKELETON,
    SUPPORTED_LAYOUTS,
    convert_bvh,
    rest_rotations,
    smpl_forward_kinematics,
    smpl_skeleton,
    to_layout,
    to_smpl,
)

# name, parent, offset (cm): bones along +x on the left and the spine, -x on the right.
_SKELETON = [
    ("joint_Root", None, (0, 0, 0)),
    ("Hips", "joint_Root", (0, 95, 0)),
    ("Spine", "Hips", (15, 0, 0)),
    ("Chest", "Spine", (9, 0, 0)),
    ("Neck", "Chest", (16, 0, 0)),
    ("Head", "Neck", (6, 0, 0)),
    ("Shoulder_L", "Chest", (13, 0, 5)),
    ("UpperArm_L", "Shoulder_L", (5, 0, 0)),
    ("LowerArm_L", "UpperArm_L", (25, 0, 0)),
    ("Hand_L", "LowerArm_L", (22, 0, 0)),
    ("Shoulder_R", "Chest", (13, 0, -5)),
    ("UpperArm_R", "Shoulder_R", (-5, 0, 0)),
    ("LowerArm_R", "UpperArm_R", (-25, 0, 0)),
    ("Hand_R", "LowerArm_R", (-22, 0, 0)),
    ("UpperLeg_L", "Hips", (-2, -7, 0)),
    ("LowerLeg_L", "UpperLeg_L", (40, 0, 0)),
    ("Foot_L", "LowerLeg_L", (41, 0, 0)),
    ("Toes_L", "Foot_L", (12, 0, 0)),
    ("UpperLeg_R", "Hips", (-2, 7, 0)),
    ("LowerLeg_R", "UpperLeg_R", (-40, 0, 0)),
    ("Foot_R", "LowerLeg_R", (-41, 0, 0)),
    ("Toes_R", "Foot_R", (-12, 0, 0)),
]
_NAMES = tuple(n for n, _, _ in _SKELETON)
_PARENTS = tuple(-1 if p is None else _NAMES.index(p) for _, p, _ in _SKELETON)
_CHANNELS = ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")


def _synthetic(global_rotations: np.ndarray, root: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Bvh:
    """A Bvh whose joints have the given world rotations ``(T, J, 3, 3)``."""
    t = global_rotations.shape[0]
    offsets = np.array([o for _, _, o in _SKELETON], dtype=float)
    motion = np.zeros((t, 6 * len(_NAMES)))
    for j, p in enumerate(_PARENTS):
        local = (
            global_rotations[:, j]
            if p < 0
            else np.swapaxes(global_rotations[:, p], -1, -2) @ global_rotations[:, j]
        )
        motion[:, 6 * j : 6 * j + 3] = offsets[j] + (np.asarray(root) if p < 0 else 0)
        with warnings.catch_warnings():  # gimbal lock: the angles still give the same matrix
            warnings.simplefilter("ignore", UserWarning)
            motion[:, 6 * j + 3 : 6 * j + 6] = Rotation.from_matrix(local).as_euler("ZXY", degrees=True)
    return Bvh(_NAMES, _PARENTS, offsets, (_CHANNELS,) * len(_NAMES), 1 / 30, motion)


def _t_pose(yaw_deg: float = 0.0, frames: int = 1) -> Bvh:
    """Every joint at its T-pose rest rotation, the whole body turned by ``yaw`` about y."""
    yaw = Rotation.from_euler("y", yaw_deg, degrees=True).as_matrix()
    rest = rest_rotations(_NAMES)
    glob = yaw @ rest
    glob[0] = np.eye(3)  # joint_Root (ground projection) stays unrotated
    return _synthetic(np.broadcast_to(glob, (frames, len(_NAMES), 3, 3)).copy())


def _points(bvh: Bvh, layout: str) -> dict[str, np.ndarray]:
    pos, rot = forward_kinematics(bvh)
    k = to_layout(pos, rot, bvh.joint_names, layout)
    return {n: k[:, i] for i, n in enumerate(get_layout(layout).joints)}


@pytest.mark.parametrize("yaw", [0.0, 90.0, -135.0])
def test_t_pose_geometry_in_body_axes(yaw):
    """Left is left, the face looks forward, toes point forward, for any heading."""
    r = Rotation.from_euler("y", yaw, degrees=True).as_matrix()
    left, up, fwd = r[:, 0], r[:, 1], r[:, 2]
    p = {k: v[0] for k, v in _points(_t_pose(yaw), "body25").items()}
    head = (p["left_ear"] + p["right_ear"]) / 2
    assert (p["nose"] - head) @ fwd > 0.05
    assert (p["left_eye"] - p["right_eye"]) @ left > 0.04
    assert (p["left_ear"] - p["right_ear"]) @ left > 0.1
    assert p["left_wrist"] @ left > p["left_elbow"] @ left > p["left_shoulder"] @ left > p["neck"] @ left
    assert p["right_wrist"] @ left < p["right_elbow"] @ left < p["right_shoulder"] @ left < p["neck"] @ left
    for side, lateral in (("left", 1), ("right", -1)):
        assert (p[f"{side}_big_toe"] - p[f"{side}_ankle"]) @ fwd > 0.1
        assert (p[f"{side}_heel"] - p[f"{side}_ankle"]) @ fwd < -0.03
        assert p[f"{side}_heel"] @ up < p[f"{side}_ankle"] @ up - 0.05
        assert lateral * (p[f"{side}_small_toe"] - p[f"{side}_big_toe"]) @ left > 0.03
        assert p[f"{side}_ankle"] @ up < p[f"{side}_knee"] @ up < p[f"{side}_hip"] @ up
    assert p["nose"] @ up > p["neck"] @ up


def test_t_pose_is_identity_in_smpl_and_heading_goes_to_pelvis():
    bvh = _t_pose(yaw_deg=90.0, frames=2)
    pos, rot = forward_kinematics(bvh)
    smpl = to_smpl(pos, rot, bvh.joint_names)
    assert smpl["rotations"].shape == (2, 24, 3, 3)
    expected = np.broadcast_to(np.eye(3), (2, 23, 3, 3))
    np.testing.assert_allclose(smpl["rotations"][:, 1:], expected, atol=1e-9)
    np.testing.assert_allclose(
        smpl["rotations"][:, 0],
        Rotation.from_euler("y", 90, degrees=True).as_matrix()[None].repeat(2, 0),
        atol=1e-9,
    )
    np.testing.assert_allclose(smpl["root_translation"], pos[:, 1] / 100)


def test_smpl_forward_kinematics_reproduces_layout_for_random_poses():
    rng = np.random.default_rng(0)
    glob = Rotation.random(5 * len(_NAMES), random_state=rng).as_matrix().reshape(5, len(_NAMES), 3, 3)
    bvh = _synthetic(glob, root=(10.0, 5.0, -20.0))
    pos, rot = forward_kinematics(bvh)
    smpl = to_smpl(pos, rot, bvh.joint_names)
    fk = smpl_forward_kinematics(smpl["rotations"], smpl["root_translation"], smpl["skeleton"])
    ref = to_layout(pos, rot, bvh.joint_names, "smpl24")
    np.testing.assert_allclose(fk, ref, atol=1e-9)
    r = smpl["rotations"]
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-9)


def test_smpl_forward_kinematics_rest_pose_batch_and_torch():
    rest = smpl_forward_kinematics(np.broadcast_to(np.eye(3), (2, 3, 24, 3, 3)))
    assert rest.shape == (2, 3, 24, 3)
    smpl = get_layout("smpl24")
    p = {n: rest[0, 0, i] for i, n in enumerate(smpl.joints)}
    np.testing.assert_allclose(p["pelvis"], 0)
    # Our T-pose: arms out along +-x at one height, legs straight down, feet forward.
    assert p["left_hand"][0] > p["left_wrist"][0] > p["left_elbow"][0] > p["left_shoulder"][0] > 0.05
    np.testing.assert_allclose(p["left_hand"][1], p["left_shoulder"][1])
    np.testing.assert_allclose(p["left_ankle"][[0, 2]], p["left_hip"][[0, 2]])
    assert p["left_foot"][2] > 0.05 and p["head"][1] > p["neck"][1] > p["spine3"][1] > 0
    flip = smpl.flip_index
    np.testing.assert_allclose(rest[0, 0] * [-1, 1, 1], rest[0, 0, list(flip)], atol=1e-12)  # symmetric
    # Torch in, torch out; same numbers; root translation added to every joint.
    torch = pytest.importorskip("torch")
    rots = torch.as_tensor(
        Rotation.random(48, random_state=1).as_matrix().reshape(2, 24, 3, 3), dtype=torch.float32
    )
    root = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    out = smpl_forward_kinematics(rots, root)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (2, 24, 3)
    ref = smpl_forward_kinematics(rots.double().numpy()) + root.double().numpy()[:, None]
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-5)


def test_smpl_forward_kinematics_bad_shapes():
    with pytest.raises(ValueError, match=r"\(\.\.\., 24, 3, 3\)"):
        smpl_forward_kinematics(np.zeros((5, 17, 3, 3)))
    with pytest.raises(ValueError, match="root_translation must have shape"):
        smpl_forward_kinematics(np.zeros((5, 24, 3, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="skeleton must have shape"):
        smpl_forward_kinematics(np.zeros((5, 24, 3, 3)), skeleton=np.zeros((17, 3)))


def test_every_layout_shape_units_and_input_untouched():
    bvh = _t_pose(frames=3)
    pos, rot = forward_kinematics(bvh)
    pos_copy, rot_copy = pos.copy(), rot.copy()
    for layout in SUPPORTED_LAYOUTS:
        k = to_layout(pos, rot, bvh.joint_names, layout)
        assert k.shape == (3, get_layout(layout).num_joints, 3)
        assert np.isfinite(k).all()
        assert 1.0 < k[..., 1].max() < 2.0  # metres: the head of a ~1.6 m person
    np.testing.assert_array_equal(pos, pos_copy)
    np.testing.assert_array_equal(rot, rot_copy)
    in_mm = to_layout(pos * 10, rot, bvh.joint_names, "coco17", unit_scale=0.001)
    np.testing.assert_allclose(in_mm, to_layout(pos, rot, bvh.joint_names, "coco17"), atol=1e-12)


def test_bad_input_errors():
    bvh = _t_pose()
    pos, rot = forward_kinematics(bvh)
    with pytest.raises(ValueError, match=r"to_layout supports layouts .*got 'coco'"):
        to_layout(pos, rot, bvh.joint_names, "coco")
    with pytest.raises(ValueError, match=r"positions must have shape \(T, 22, 3\)"):
        to_layout(pos[:, :5], rot, bvh.joint_names, "coco17")
    with pytest.raises(ValueError, match="rotations must have shape"):
        to_layout(pos, rot[:, :5], bvh.joint_names, "coco17")
    names = tuple(n.replace("Head", "Kopf") for n in bvh.joint_names)
    with pytest.raises(ValueError, match=r"layout 'h36m17' needs mocap joints \['Head'\]"):
        to_layout(pos, rot, names, "h36m17")


# ---------------------------------------------------------------------------------------------
# Real data: one walking clip of dataset 1 (skipped when the archive is absent)

_CLIP = "dataset-1_walk_normal_001"


@pytest.fixture(scope="module")
def walk():
    try:
        archive = next(p for p in archive_paths() if "motion-1" in p.name)
    except (FileNotFoundError, StopIteration):
        pytest.skip("Bandai-Namco mocap archive not found (set HANET_MOCAP_DIR)")
    _, bvh = next(iter_archive(archive, [_CLIP]))
    pos, rot = forward_kinematics(bvh)
    hips = pos[:, bvh.joint_index("Hips")] / 100
    direction = hips[-1] - hips[0]
    direction[1] = 0
    forward = direction / np.linalg.norm(direction)  # the clip walks straight
    left = np.cross([0.0, 1.0, 0.0], forward)  # facing +z with y up, the left is +x
    return {"bvh": bvh, "pos": pos, "rot": rot, "forward": forward, "left": left, "hips": hips}


def test_real_bone_lengths_are_constant(walk):
    bvh, pos, rot = walk["bvh"], walk["pos"], walk["rot"]
    for j, p in enumerate(bvh.parents):
        if p > 0:
            assert np.linalg.norm(pos[:, j] - pos[:, p], axis=-1).std() < 0.1  # cm: < 1 mm
    for layout, edges in (
        ("smpl24", None),
        (
            "coco17",
            [
                ("left_shoulder", "left_elbow"),
                ("left_elbow", "left_wrist"),
                ("right_hip", "right_knee"),
                ("right_knee", "right_ankle"),
                ("nose", "left_eye"),
                ("left_ear", "right_ear"),
            ],
        ),
    ):
        lay = get_layout(layout)
        k = to_layout(pos, rot, bvh.joint_names, layout)
        pairs = lay.edges if edges is None else [(lay.index(a), lay.index(b)) for a, b in edges]
        for a, b in pairs:
            assert np.linalg.norm(k[:, a] - k[:, b], axis=-1).std() < 1e-3, (
                layout,
                lay.joints[a],
                lay.joints[b],
            )


def test_real_walk_speed(walk):
    step = np.diff(walk["hips"][:, [0, 2]], axis=0)
    speed = np.linalg.norm(step, axis=1).sum() / (len(step) / walk["bvh"].fps)
    assert 0.5 < speed < 2.5


def test_real_left_is_left_face_forward_toes_forward(walk):
    bvh, pos, rot, fwd, left = walk["bvh"], walk["pos"], walk["rot"], walk["forward"], walk["left"]
    for layout in ("coco17", "body25", "h36m17", "smpl24"):
        lay = get_layout(layout)
        k = to_layout(pos, rot, bvh.joint_names, layout)
        for a, b in lay.left_right_pairs:
            side = (k[:, a] - k[:, b]) @ left
            assert side.mean() > 0, (layout, lay.joints[a])
            if any(w in lay.joints[a] for w in ("hip", "shoulder", "eye", "ear", "collar")):
                assert (side > 0).mean() > 0.95, (layout, lay.joints[a])
    p = _points_real(walk, "body25")
    head = (p["left_ear"] + p["right_ear"]) / 2
    assert ((p["nose"] - head) @ fwd > 0.03).mean() > 0.95
    assert ((p["nose"] - head) @ left).std() < 0.05
    for side in ("left", "right"):
        on_ground = np.r_[np.linalg.norm(np.diff(p[f"{side}_ankle"], axis=0), axis=1) * bvh.fps < 0.2, False]
        assert on_ground.sum() > 20
        for toe in ("big_toe", "small_toe"):
            assert ((p[f"{side}_{toe}"] - p[f"{side}_ankle"])[on_ground] @ fwd > 0.05).all()
        assert ((p[f"{side}_heel"] - p[f"{side}_ankle"])[on_ground] @ fwd < 0).all()
        lateral = 1.0 if side == "left" else -1.0  # the small toe is on the outside of the foot
        assert (lateral * (p[f"{side}_small_toe"] - p[f"{side}_big_toe"])[on_ground] @ left > 0.02).all()
        # Arms swing at the sides, palms facing the thighs: thumbs forward of the little fingers.
        hand = _points_real(walk, "mediapipe33")
        assert ((hand[f"{side}_thumb"] - hand[f"{side}_pinky"]) @ fwd > 0.02).mean() > 0.9
        # Feet flat in stance: heel and toe tips within 4 cm of the floor.
        for point in ("heel", "big_toe", "small_toe"):
            assert np.median(p[f"{side}_{point}"][on_ground, 1]) < 0.04


def _points_real(walk, layout):
    k = to_layout(walk["pos"], walk["rot"], walk["bvh"].joint_names, layout)
    return {n: k[:, i] for i, n in enumerate(get_layout(layout).joints)}


def test_real_smpl_retarget_reproduces_joint_positions(walk):
    """Stated tolerance: < 1 micrometre with the actor's skeleton (exact up to rounding),
    < 1 mm with DEFAULT_SMPL_SKELETON (derived from the same actor, rounded to 0.1 mm)."""
    bvh, pos, rot = walk["bvh"], walk["pos"], walk["rot"]
    out = convert_bvh(bvh, layouts=("smpl24",))
    ref = out["smpl24"]
    fk = smpl_forward_kinematics(out["smpl_rotations"], out["smpl_root_translation"], out["smpl_skeleton"])
    assert np.linalg.norm(fk - ref, axis=-1).mean() < 1e-6
    fk_default = smpl_forward_kinematics(out["smpl_rotations"], out["smpl_root_translation"])
    assert np.linalg.norm(fk_default - ref, axis=-1).mean() < 1e-3
    np.testing.assert_allclose(smpl_skeleton(pos, rot, bvh.joint_names), DEFAULT_SMPL_SKELETON, atol=1e-3)
    # The pelvis' forward axis follows the walking direction.
    pelvis_forward = out["smpl_rotations"][:, 0, :, 2]
    assert (pelvis_forward @ walk["forward"]).mean() > 0.9
