from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest

from hanet_refine.layouts import get_layout
from hanet_refine.train.bvh import archive_paths
from hanet_refine.train.corruption import JOINT_CLASSES
from hanet_refine.train.dataset import (
    POSITION_LAYOUTS,
    WindowSampler,
    build_cache,
    load_clips,
    make_eval_set,
    sampler_from_bvh,
)

# Two small training files near the start of archive 1 (about 100 and 60 frames): two clips, so
# that windows crossing a clip boundary would show.
FILES = ("dataset-1_dash_proud_001", "dataset-1_run_masculinity_001")


@pytest.fixture(scope="module")
def archive():
    try:
        return archive_paths()[0]
    except FileNotFoundError:
        pytest.skip("mocap archives not found (set HANET_MOCAP_DIR)")


@pytest.fixture(scope="module")
def cache(archive, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache")
    build_cache(archive.parent, folder, names=FILES, progress=False)
    return folder


def test_cache_arrays(cache):
    manifest = json.loads((cache / "manifest.json").read_text())
    assert manifest["splits"]["train"]["clips"] == 2
    clips = load_clips(cache, "train")
    assert set(clips.names) == set(FILES) and clips.fps == 30.0
    frames = clips.num_frames
    assert clips.offsets[0] == 0 and (np.diff(clips.offsets) > 30).all()
    for name in POSITION_LAYOUTS:
        arr = clips.positions[name]
        assert arr.shape == (frames, get_layout(name).num_joints, 3) and arr.dtype == np.float32
        assert isinstance(arr, np.memmap)
    assert clips.smpl_rotations.shape == (frames, 24, 3, 3)
    assert clips.smpl_root_translation.shape == (frames, 3)
    assert clips.smpl_skeleton.shape == (2, 24, 3)
    # Metres, y up, standing on the floor.
    coco = np.asarray(clips.positions["coco17"])
    assert 1.3 < np.median(coco[:, 0, 1]) < 2.0  # nose height
    assert np.median(coco[:, -2:, 1].min(axis=1)) < 0.2  # one ankle near the floor most of the time
    assert load_clips(cache, "test").num_frames == 0


def test_build_is_idempotent(cache, archive):
    before = (cache / "manifest.json").stat().st_mtime_ns
    build_cache(archive.parent, cache, names=FILES, progress=False)
    assert (cache / "manifest.json").stat().st_mtime_ns == before
    with pytest.raises(ValueError, match="not in the committed split"):
        build_cache(archive.parent, cache, names=["dataset-1_fly_normal_001"], progress=False)


def test_training_corruption_can_be_changed(cache):
    quiet = {"jitter": dict.fromkeys(JOINT_CLASSES, 0.0), "motion_blur": 0.0, "bias": 0.0, "occlusion_rate": 0.0, "missed_rate": 0.0,
             "swap_rate": 0.0, "jump_rate": 0.0}
    batch = WindowSampler(cache, kind="2d", layout="coco17", window=9, seed=0, corruption=quiet).sample(8)
    np.testing.assert_allclose(batch["noisy"], batch["clean"], atol=1e-3)
    no_bias = WindowSampler(cache, kind="2d", layout="coco17", window=9, seed=0, corruption={"bias": 0.0})
    assert np.abs(no_bias.sample(8)["bias"]).max() == 0.0
    default = WindowSampler(cache, kind="2d", layout="coco17", window=9, seed=0).sample(8)
    assert np.abs(default["bias"]).max() > 0.0
    with pytest.raises(ValueError, match="unknown corruption settings \\['bais'\\]"):
        WindowSampler(cache, kind="2d", layout="coco17", window=9, corruption={"bais": 0.0})


def test_concurrent_builds_share_one_cache(archive, tmp_path):
    # Two trainings started together raced here (the second os.replace failed); now one waits.
    import multiprocessing

    folder = tmp_path / "cache"
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = [pool.apply_async(build_cache, (archive.parent, folder), dict(names=FILES[:1], progress=False))
                   for _ in range(2)]
        assert [r.get(timeout=300) for r in results] == [folder, folder]
    assert list(load_clips(folder, "train").names) == [FILES[0]]
    assert not list(folder.glob(".building-*"))


def _bone_lengths(points: np.ndarray, layout: str) -> np.ndarray:
    edges = np.array(get_layout(layout).edges)
    return np.linalg.norm(points[..., edges[:, 0], :] - points[..., edges[:, 1], :], axis=-1)


def test_3d_windows_are_rigid_copies_of_one_clip(cache):
    sampler = WindowSampler(cache, kind="3d", layout="h36m17", window=33, seed=1, mirror=False)
    batch = sampler.sample(64)
    clips = sampler.clips
    lengths = clips.lengths
    assert (batch["start"] >= 0).all() and (batch["start"] + 33 <= lengths[batch["clip"]]).all()
    assert set(np.unique(batch["clip"])) == {0, 1}
    source = np.asarray(clips.positions["h36m17"])
    for b in range(64):
        first = clips.offsets[batch["clip"][b]] + batch["start"][b]
        expected = _bone_lengths(source[first : first + 33], "h36m17")
        np.testing.assert_allclose(_bone_lengths(batch["clean"][b], "h36m17"), expected, atol=1e-4)
    # In front of the level virtual camera.
    assert (batch["clean"][..., 2] > 1.0).all()


def test_mirrored_windows_are_valid_people(cache):
    sampler = WindowSampler(cache, kind="3d", layout="coco17", window=33, seed=2)
    batch = sampler.sample(64)
    assert 10 < batch["mirrored"].sum() < 54
    clean = batch["clean"].astype(np.float64)
    coco = get_layout("coco17")
    source = np.asarray(sampler.clips.positions["coco17"])
    for b in range(64):
        first = sampler.clips.offsets[batch["clip"][b]] + batch["start"][b]
        ref = source[first : first + 33]
        if batch["mirrored"][b]:
            ref = ref[:, list(coco.flip_index)]  # a mirror image with left and right renamed
        dist = np.linalg.norm(clean[b][:, :, None] - clean[b][:, None], axis=-1)
        np.testing.assert_allclose(dist, np.linalg.norm(ref[:, :, None] - ref[:, None], axis=-1), atol=1e-4)
    # Left is on the body's left: facing = (left hip - right hip) x up, and the nose is in front
    # of the ears, mirrored or not.
    hips = clean[:, :, coco.index("left_hip")] - clean[:, :, coco.index("right_hip")]
    facing = np.cross(hips, [0.0, 1.0, 0.0])
    ears = (clean[:, :, coco.index("left_ear")] + clean[:, :, coco.index("right_ear")]) / 2
    ahead = np.einsum("btd,btd->bt", clean[:, :, coco.index("nose")] - ears, facing)
    assert (np.median(ahead, axis=1) > 0).all()


@pytest.mark.parametrize(
    "kind,layout,d", [("2d", "coco17", 2), ("2d", "body25", 2), ("3d", "h36m17", 3), ("3d", "smpl24", 3)]
)
def test_position_batches(cache, kind, layout, d):
    sampler = WindowSampler(cache, kind=kind, layout=layout, window=33, severity="mixed", seed=0)
    batch = sampler.sample(32)
    j = get_layout(layout).num_joints
    assert batch["clean"].shape == batch["noisy"].shape == (32, 33, j, d)
    assert batch["clean"].dtype == batch["noisy"].dtype == batch["confidence"].dtype == np.float32
    assert batch["occluded"].shape == batch["failed"].shape == (32, 33, j)
    assert batch["occluded"].dtype == bool
    assert np.isfinite(batch["clean"]).all()
    nan = np.isnan(batch["noisy"]).any(axis=-1)
    assert not (nan & ~batch["occluded"]).any()
    if kind == "2d":
        size = batch["image_size"][:, None, None, :]
        assert batch["image_size"].shape == (32, 2)
        assert (batch["clean"] >= 0).all() and (batch["clean"] <= size).all()
    again = WindowSampler(cache, kind=kind, layout=layout, window=33, severity="mixed", seed=0).sample(32)
    np.testing.assert_array_equal(again["noisy"], batch["noisy"])


def test_smpl_batches_and_mirroring_keep_a_valid_body(cache):
    from hanet_refine.train.mocap_layouts import smpl_forward_kinematics

    sampler = WindowSampler(cache, kind="smpl", window=33, seed=3, severity="low")
    batch = sampler.sample(16)
    assert batch["clean"].shape == batch["noisy"].shape == (16, 33, 24, 3, 3)
    assert batch["clean_root_translation"].shape == batch["noisy_root_translation"].shape == (16, 33, 3)
    assert batch["skeleton"].shape == (16, 24, 3)
    assert batch["mirrored"].any() and not batch["mirrored"].all()
    rot = batch["clean"].astype(np.float64)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-4)  # mirrored too: still rotations
    # Forward kinematics of the sampled (possibly mirrored, turned) rotations gives the same body
    # as the cached joint positions: all joint-to-joint distances agree per frame.
    clips = sampler.clips
    source = np.asarray(load_clips(cache, "train").positions["smpl24"])
    for b in range(16):
        pos = smpl_forward_kinematics(
            rot[b],
            batch["clean_root_translation"][b].astype(np.float64),
            batch["skeleton"][b].astype(np.float64),
        )
        first = clips.offsets[batch["clip"][b]] + batch["start"][b]
        ref = source[first : first + 33]
        if batch["mirrored"][b]:
            ref = ref[:, list(get_layout("smpl24").flip_index)]
        dist = np.linalg.norm(pos[:, :, None] - pos[:, None], axis=-1)
        ref_dist = np.linalg.norm(ref[:, :, None] - ref[:, None], axis=-1)
        np.testing.assert_allclose(dist, ref_dist, atol=0.02)


def test_eval_set_is_deterministic_whole_clips(cache):
    a = make_eval_set(cache, "2d", split="train", severity="high")
    b = make_eval_set(cache, "2d", split="train", severity="high")
    clips = load_clips(cache, "train")
    assert [x["name"] for x in a] == list(clips.names)
    for x, y, n in zip(a, b, clips.lengths):
        assert x["clean"].shape == (n, 17, 2) and x["confidence"].shape == (n, 17)
        np.testing.assert_array_equal(x["noisy"], y["noisy"])
    other = make_eval_set(cache, "2d", split="train", severity="high", seed=1)
    assert not np.array_equal(other[0]["noisy"], a[0]["noisy"], equal_nan=True)
    smpl = make_eval_set(cache, "smpl", split="train", max_clips=1)
    assert len(smpl) == 1 and smpl[0]["clean"].shape == (clips.lengths[0], 24, 3, 3)


def test_sampler_from_bvh_files(archive, tmp_path):
    with tarfile.open(archive, "r:xz") as tar:
        for member in tar:
            if member.name.endswith(FILES[1] + ".bvh"):
                (tmp_path / (FILES[1] + ".bvh")).write_bytes(tar.extractfile(member).read())
                break
    sampler = sampler_from_bvh(
        [tmp_path / (FILES[1] + ".bvh")], kind="2d", layout="coco17", window=21, seed=0
    )
    batch = sampler.sample(4)
    assert batch["noisy"].shape == (4, 21, 17, 2)


def test_errors(cache, tmp_path):
    with pytest.raises(ValueError, match="kind must be one of"):
        WindowSampler(cache, kind="2D")
    with pytest.raises(ValueError, match="layout for kind='2d' must be one of"):
        WindowSampler(cache, kind="2d", layout="halpe26")
    with pytest.raises(ValueError, match="smpl24"):
        WindowSampler(cache, kind="smpl", layout="coco17")
    with pytest.raises(ValueError, match="no clip has 500 frames"):
        WindowSampler(cache, kind="3d", window=500)
    with pytest.raises(ValueError, match="severity must be"):
        WindowSampler(cache, kind="3d", severity="extreme")
    with pytest.raises(FileNotFoundError, match="build it with"):
        WindowSampler(tmp_path / "nothing", kind="2d")
    with pytest.raises(ValueError, match="split must be one of"):
        load_clips(cache, "val")


def test_reseed_gives_independent_streams(cache):
    a = WindowSampler(cache, kind="2d", window=33, seed=0)
    b = WindowSampler(cache, kind="2d", window=33, seed=0)
    a.reseed((0, 1))
    b.reseed((0, 2))
    assert not np.array_equal(a.sample(8)["clean"], b.sample(8)["clean"])
    b.reseed((0, 1))
    a.reseed((0, 1))
    np.testing.assert_array_equal(a.sample(8)["clean"], b.sample(8)["clean"])
