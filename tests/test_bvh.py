"""BVH reading and forward kinematics on small texts with known answers."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hanet_refine.train.bvh import (
    BvhFormatError,
    iter_archive,
    list_archive,
    parse_archive_name,
    parse_bvh,
    read_bvh,
)
from hanet_refine.train.kinematics import (
    end_site_positions,
    euler_to_matrix,
    forward_kinematics,
    local_transforms,
)

# A 3-joint chain along x: A (root, 6 channels) -> B (3 rotation channels) -> C (3) -> end site.
CHAIN = """HIERARCHY
ROOT A
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT B
  {
    OFFSET 1 0 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT C
    {
      OFFSET 1 0 0
      CHANNELS 3 Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 1 0 0
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.0333333
0 0 0 0 0 0 0 0 0 0 0 0
5 6 7 90 0 0 90 0 0 0 0 0
"""


def _one_joint(order: str, values: str) -> str:
    """A root with rotation channels in ``order`` and a child one unit along x."""
    chans = " ".join(f"{axis}rotation" for axis in order)
    return f"""HIERARCHY
ROOT R
{{
  OFFSET 0 0 0
  CHANNELS 3 {chans}
  JOINT S
  {{
    OFFSET 1 0 0
    CHANNELS 0
  }}
}}
MOTION
Frames: 1
Frame Time: 0.01
{values}
"""


def test_chain_structure():
    bvh = parse_bvh(CHAIN)
    assert bvh.joint_names == ("A", "B", "C")
    assert bvh.parents == (-1, 0, 1)
    assert bvh.channels[0] == ("Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation")
    assert bvh.channels[1] == ("Zrotation", "Xrotation", "Yrotation")
    assert bvh.num_channels == 12 and bvh.channel_starts == (0, 6, 9)
    assert bvh.motion.shape == (2, 12)
    assert bvh.fps == pytest.approx(30.0, rel=1e-5)
    assert bvh.end_site_parents == (2,)
    np.testing.assert_allclose(bvh.end_site_offsets, [[1, 0, 0]])
    np.testing.assert_allclose(bvh.channel_values("B", "zrotation"), [0, 90])


def test_chain_forward_kinematics_known_positions():
    bvh = parse_bvh(CHAIN)
    pos, rot = forward_kinematics(bvh)
    ends = end_site_positions(bvh, pos, rot)
    # Frame 0: straight along x.
    np.testing.assert_allclose(pos[0], [[0, 0, 0], [1, 0, 0], [2, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(ends[0], [[3, 0, 0]], atol=1e-12)
    # Frame 1: root at (5, 6, 7) turned 90 deg about z (x -> y), B turned another 90 deg.
    root = np.array([5, 6, 7])
    np.testing.assert_allclose(pos[1], root + np.array([[0, 0, 0], [0, 1, 0], [-1, 1, 0]]), atol=1e-12)
    np.testing.assert_allclose(ends[1], root + np.array([[-2, 1, 0]]), atol=1e-12)
    assert rot.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(
        rot @ np.swapaxes(rot, -1, -2), np.broadcast_to(np.eye(3), rot.shape), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(rot), 1.0)


def test_channel_order_matters_zxy_vs_xyz():
    # Intrinsic ZXY with Z=90, X=90: Rz @ Rx; the x axis goes to +y.
    zxy = parse_bvh(_one_joint("ZXY", "90 90 0"))
    # Intrinsic XYZ with X=90, Z=90: Rx @ Rz; the x axis goes to +z.
    xyz = parse_bvh(_one_joint("XYZ", "90 0 90"))
    np.testing.assert_allclose(forward_kinematics(zxy)[0][0, 1], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(forward_kinematics(xyz)[0][0, 1], [0, 0, 1], atol=1e-12)


@pytest.mark.parametrize("seq", ["ZXY", "XYZ", "YZX", "ZYX", "XZY", "YXZ", "Y", "XZ"])
def test_euler_to_matrix_matches_scipy_intrinsic(seq):
    angles = np.random.default_rng(0).uniform(-400, 400, (4, 5, len(seq)))
    expected = Rotation.from_euler(seq, angles.reshape(-1, len(seq)), degrees=True).as_matrix()
    np.testing.assert_allclose(euler_to_matrix(seq, angles), expected.reshape(4, 5, 3, 3), atol=1e-12)


def test_three_channel_root_keeps_its_offset_and_position_channels_replace_offsets():
    text = """HIERARCHY
ROOT R
{
  OFFSET 1 2 3
  CHANNELS 3 Yrotation Xrotation Zrotation
  JOINT S
  {
    OFFSET 10 0 0
    CHANNELS 3 Xposition Yposition Zposition
  }
}
MOTION
Frames: 1
Frame Time: 0.1
0 0 0 0 4 0
"""
    bvh = parse_bvh(text)
    pos, _ = forward_kinematics(bvh)
    np.testing.assert_allclose(pos[0, 0], [1, 2, 3])
    np.testing.assert_allclose(pos[0, 1], [1, 6, 3])  # channels (0, 4, 0) replace the offset
    pos_fixed, _ = forward_kinematics(bvh, use_position_channels=False)
    np.testing.assert_allclose(pos_fixed[0, 1], [11, 2, 3])


def test_rotation_only_subset_and_lowercase_channel_names():
    text = _one_joint("Z", "90").replace("CHANNELS 3 Zrotation", "CHANNELS 1 zROTATION")
    bvh = parse_bvh(text)
    assert bvh.channels[0] == ("Zrotation",)
    rot, _ = local_transforms(bvh)
    np.testing.assert_allclose(rot[0, 0] @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_same_line_braces_and_blank_lines():
    text = CHAIN.replace("ROOT A\n{", "ROOT A {").replace("MOTION\n", "MOTION\n\n")
    np.testing.assert_allclose(
        forward_kinematics(parse_bvh(text))[0], forward_kinematics(parse_bvh(CHAIN))[0]
    )


def test_parse_does_not_share_memory_and_is_read_only():
    bvh = parse_bvh(CHAIN)
    with pytest.raises(ValueError):
        bvh.motion[0, 0] = 1.0


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (
            lambda t: t.replace(
                "Zrotation Xrotation Yrotation\n    JOINT C", "Zrotation Wrotation Yrotation\n    JOINT C"
            ),
            r"line 9: unknown channel 'Wrotation'",
        ),
        (
            lambda t: t.replace("5 6 7 90 0 0 90 0 0 0 0 0", "5 6 7 90 0 0 90 0 0 0 0"),
            r"line 25: expected 12 channel values, got 11",
        ),
        (lambda t: t.replace("5 6 7 90", "5 six 7 90"), r"line 25"),
        (lambda t: t.replace("Frames: 2", "Frames: 3"), r"Frames: 3 but the file has 2"),
        (lambda t: t.replace("MOTION", "MOTON"), r"no MOTION"),
        (
            lambda t: t.replace("OFFSET 1 0 0\n    CHANNELS 3", "OFFSET 1 0\n    CHANNELS 3"),
            r"line 9: expected a number",
        ),
        (lambda t: t.replace("Frame Time: 0.0333333", "Frame Time: 0"), r"Frame Time > 0"),
        (lambda t: t.replace("ROOT A", "ROOT A\n}"), r"line 3: expected '\{'"),
        (lambda t: t.replace("JOINT C", "JOINT B"), r"joint name 'B' appears twice"),
    ],
)
def test_malformed_text_names_source_and_line(mutate, match):
    with pytest.raises(BvhFormatError, match=match) as info:
        parse_bvh(mutate(CHAIN), source="bad.bvh")
    assert "bad.bvh" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_extra_frames_warn_and_are_kept():
    with pytest.warns(UserWarning, match="Frames: 1 but the file has 2"):
        bvh = parse_bvh(CHAIN.replace("Frames: 2", "Frames: 1"))
    assert bvh.num_frames == 2


def test_zero_frames():
    bvh = parse_bvh(CHAIN.split("Frames:")[0] + "Frames: 0\nFrame Time: 0.1\n")
    pos, rot = forward_kinematics(bvh)
    assert pos.shape == (0, 3, 3) and rot.shape == (0, 3, 3, 3)


def test_read_bvh(tmp_path):
    path = tmp_path / "chain.bvh"
    path.write_text(CHAIN)
    assert read_bvh(path).num_frames == 2
    with pytest.raises(FileNotFoundError, match="nothere.bvh"):
        read_bvh(tmp_path / "nothere.bvh")
    path.write_text(CHAIN.replace("CHANNELS 3 Zrotation", "CHANNELS x Zrotation", 1))
    with pytest.raises(BvhFormatError, match="chain.bvh, line 9"):
        read_bvh(path)


def _make_archive(path, members: dict[str, str]) -> None:
    with tarfile.open(path, "w:xz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_archive_streaming(tmp_path):
    archive = tmp_path / "motion.tar.xz"
    _make_archive(
        archive,
        {
            "ds/data/dataset-1_walk_normal_001.bvh": CHAIN,
            "ds/data/dataset-1_walk_normal_001.json": '{"content": 0, "style": 0}',
            "ds/README.md": "hello",
            "ds/data/dataset-1_run_happy_002.bvh": CHAIN.replace("5 6 7", "8 9 10"),
        },
    )
    assert list_archive(archive) == ["dataset-1_walk_normal_001.bvh", "dataset-1_run_happy_002.bvh"]
    items = list(iter_archive(archive))
    assert [n for n, _ in items] == list_archive(archive)
    np.testing.assert_allclose(items[1][1].motion[1, :3], [8, 9, 10])
    assert "dataset-1_run_happy_002.bvh" in items[1][1].source
    only = list(iter_archive(archive, ["dataset-1_run_happy_002"]))
    assert [n for n, _ in only] == ["dataset-1_run_happy_002.bvh"]
    with pytest.raises(ValueError, match="dataset-1_missing_x_001.bvh"):
        list(iter_archive(archive, ["dataset-1_walk_normal_001.bvh", "dataset-1_missing_x_001"]))
    with pytest.raises(FileNotFoundError, match="HANET_MOCAP_DIR"):
        list(iter_archive(tmp_path / "absent.tar.xz"))


def test_parse_archive_name():
    assert parse_archive_name("dir/dataset-2_walk-turn-left_not-confident_013.bvh") == {
        "dataset": 2,
        "content": "walk-turn-left",
        "style": "not-confident",
        "index": 13,
    }
    with pytest.raises(ValueError, match="not a Bandai-Namco"):
        parse_archive_name("walk.bvh")
