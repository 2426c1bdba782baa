from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hanet_refine.layouts import get_layout
from hanet_refine.train import corruption
from hanet_refine.train.corruption import (
    PositionParams,
    body_size,
    corrupt,
    corrupt_smpl,
    joint_class,
    protocol_table,
    severity_array,
)

COCO = get_layout("coco17")


def _clean2d(b: int = 64, t: int = 60, seed: int = 0) -> np.ndarray:
    """A standing COCO-17 person about 400 px tall, drifting slowly to the right."""
    rng = np.random.default_rng(seed)
    y = np.array(
        [40, 30, 30, 35, 35, 100, 100, 180, 180, 250, 250, 240, 240, 330, 330, 420, 420], dtype=float
    )
    x = np.array([0, -8, 8, -16, 16, -50, 50, -60, 60, -65, 65, -30, 30, -32, 32, -34, 34], dtype=float)
    person = np.stack([x, y], axis=-1)
    base = rng.uniform(300, 900, size=(b, 1, 1, 2))
    motion = np.linspace(0, 40, t)[None, :, None, None] * np.array([1.0, 0.0])
    return (person[None, None] + base + motion).astype(np.float32)


def test_shapes_dtypes_and_ranges():
    clean = _clean2d()
    out = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(0), severity="high")
    assert out["noisy"].shape == clean.shape and out["noisy"].dtype == np.float32
    assert out["confidence"].shape == clean.shape[:3] and out["confidence"].dtype == np.float32
    assert out["occluded"].dtype == bool and out["failed"].dtype == bool
    assert out["occluded"].shape == out["failed"].shape == clean.shape[:3]
    conf = out["confidence"]
    assert (conf >= 0).all() and (conf <= 1).all()
    clean3 = np.random.default_rng(0).normal(size=(3, 20, 17, 3))
    out3 = corrupt(clean3, kind="3d", layout="h36m17", rng=np.random.default_rng(0))
    assert out3["noisy"].shape == clean3.shape and out3["noisy"].dtype == np.float64


def test_input_not_modified_and_seeded_determinism():
    clean = _clean2d()
    copy = clean.copy()
    a = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(7), severity="medium")
    b = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(7), severity="medium")
    c = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(8), severity="medium")
    np.testing.assert_array_equal(clean, copy)
    for key in ("noisy", "confidence", "occluded", "failed"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["noisy"], c["noisy"], equal_nan=True)


def test_severity_zero_is_clean():
    clean = _clean2d()
    out = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(0), severity=0.0)
    np.testing.assert_array_equal(out["noisy"], clean)
    assert not out["occluded"].any() and not out["failed"].any()
    assert (out["confidence"] > 0.8).all()


def _median_error(out: dict, clean: np.ndarray) -> float:
    return float(np.nanmedian(np.linalg.norm(out["noisy"] - clean, axis=-1)))


@pytest.mark.parametrize("kind,layout", [("2d", "coco17"), ("3d", "h36m17")])
def test_error_grows_with_severity(kind, layout):
    clean = _clean2d() if kind == "2d" else np.random.default_rng(0).normal(size=(64, 60, 17, 3)) * 0.3
    stats = []
    for sev in ("low", "medium", "high"):
        out = corrupt(clean, kind=kind, layout=layout, rng=np.random.default_rng(1), severity=sev)
        stats.append((_median_error(out, clean), out["occluded"].mean() + out["failed"].mean()))
    errors, events = zip(*stats)
    assert errors[0] < errors[1] < errors[2]
    assert errors[2] / errors[0] > 2.5  # magnitudes scale linearly: 4x from low to high
    assert events[0] < events[1] < events[2]


def test_flags_consistent_with_nan_and_confidence():
    clean = _clean2d(b=128)
    out = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(3), severity="high")
    nan = np.isnan(out["noisy"]).any(axis=-1)
    assert nan.any() and out["failed"].any()
    assert (np.isnan(out["noisy"]).all(axis=-1) == nan).all()  # both coordinates or none
    assert out["occluded"][nan].all()  # every missing point is flagged occluded
    assert (out["confidence"][nan] == 0).all()
    assert not (out["failed"] & nan).any()  # a missing point is not also "failed"
    drifting = out["occluded"] & ~nan
    assert drifting.any() and (out["confidence"][drifting] <= 0.5).all()
    assert (out["confidence"][out["failed"]] <= 0.7).all()
    normal = ~out["occluded"] & ~out["failed"]
    assert np.median(out["confidence"][normal]) > 0.6
    # Whole missed frames exist at high severity (every joint NaN at once).
    assert nan.all(axis=-1).any()


def test_failures_are_far_from_the_truth():
    clean = _clean2d(b=128)
    out = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(4), severity="high")
    err = np.linalg.norm(out["noisy"] - clean, axis=-1)
    normal = ~out["occluded"] & ~out["failed"]
    assert np.nanmedian(err[out["failed"]]) > 5 * np.median(err[normal])


def test_jitter_per_joint_class_as_configured():
    clean = _clean2d(b=256)
    table = {c: 0.005 for c in corruption.JOINT_CLASSES} | {"wrist": 0.01}
    params = PositionParams(
        jitter=table, motion_blur=0.0, occlusion_rate=0, missed_rate=0, swap_rate=0, jump_rate=0, bias=0.0
    )
    out = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(5), params=params)
    d = (out["noisy"] - clean) / body_size(clean)[:, None, None, None]
    wrist, hip = COCO.index("left_wrist"), COCO.index("left_hip")
    assert abs(d[..., wrist, :].std() / 0.01 - 1) < 0.05
    assert abs(d[..., hip, :].std() / 0.005 - 1) < 0.05


def test_bias_is_returned_and_is_the_whole_error_without_jitter_or_events():
    clean = _clean2d(b=128, t=90)
    params = PositionParams(jitter={c: 0.0 for c in corruption.JOINT_CLASSES}, motion_blur=0.0, occlusion_rate=0,
                            missed_rate=0, swap_rate=0, jump_rate=0, bias=0.01)
    out = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(3), params=params)
    np.testing.assert_allclose(out["noisy"], clean + out["bias"], atol=1e-3)
    rel = out["bias"] / body_size(clean)[:, None, None, None]
    assert abs(rel.std() / 0.01 - 1) < 0.1
    # Slow: neighbouring frames differ by a fraction of the bias (white noise would give about 1.1x).
    assert np.abs(np.diff(rel, axis=1)).mean() < 0.2 * np.abs(rel).mean()
    # With the default protocol the bias is one part of the error, not all of it.
    full = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(3))
    assert full["bias"].shape == clean.shape
    assert np.nanmean(np.abs(full["noisy"] - clean - full["bias"])) > 0.1 * np.abs(full["bias"]).mean()


def _swinging(b: int = 256, t: int = 90) -> np.ndarray:
    """The standing person with arms and legs swinging like a walk (wrists and ankles move most)."""
    clean = _clean2d(b=b, t=t).astype(np.float64)
    phase = np.sin(np.linspace(0, 6 * np.pi, t))[None, :, None]
    for name, amp in (
        ("left_wrist", 60),
        ("right_wrist", -60),
        ("left_elbow", 30),
        ("right_elbow", -30),
        ("left_ankle", -50),
        ("right_ankle", 50),
        ("left_knee", -25),
        ("right_knee", 25),
    ):
        clean[:, :, COCO.index(name), 0] += amp * phase[..., 0]
    return clean.astype(np.float32)


def test_errors_larger_at_wrists_than_hips_by_default():
    # The calibrated MediaPipe jitter is about equal at wrists and hips for a still person; fast
    # limbs blur more and jump more often (measured outlier rates), so in motion wrists and
    # ankles are worse.
    clean = _swinging()
    out = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(5), severity="medium")
    d = (out["noisy"] - clean).astype(np.float64)
    # High-frequency error: the second difference in time of the error (the slow bias cancels).
    hf = np.linalg.norm(d[:, 2:] - 2 * d[:, 1:-1] + d[:, :-2], axis=-1)
    seen = ~(out["occluded"][:, 2:] | out["occluded"][:, 1:-1] | out["occluded"][:, :-2])

    def mean_of(*names: str) -> float:
        return float(
            np.mean(np.concatenate([hf[..., COCO.index(n)][seen[..., COCO.index(n)]] for n in names]))
        )

    hip = mean_of("left_hip", "right_hip")
    assert mean_of("left_wrist", "right_wrist") > 1.2 * hip
    assert mean_of("left_ankle", "right_ankle") > 1.2 * hip


def test_jitter_is_temporally_correlated_as_configured():
    clean = _clean2d(b=256, t=200)
    params = PositionParams(
        jitter={c: 0.01 for c in corruption.JOINT_CLASSES},
        jitter_rho=0.6,
        bias=0.0,
        occlusion_rate=0,
        missed_rate=0,
        swap_rate=0,
        jump_rate=0,
    )
    out = corrupt(clean, kind="2d", layout="coco17", rng=np.random.default_rng(6), params=params)
    d = (out["noisy"] - clean)[..., 0]
    lag1 = np.mean(d[:, 1:] * d[:, :-1]) / np.mean(d * d)
    assert abs(lag1 - 0.6) < 0.05


def test_3d_depth_errors_larger():
    clean = np.random.default_rng(0).normal(size=(128, 60, 17, 3)) * 0.3 + [0, 1, 5]
    out = corrupt(clean, kind="3d", layout="h36m17", rng=np.random.default_rng(2), severity="medium")
    ok = ~out["occluded"] & ~out["failed"]
    d = (out["noisy"] - clean)[ok]
    assert d[:, 2].std() > 2 * d[:, 0].std() and d[:, 2].std() > 2 * d[:, 1].std()


def test_smpl_corruption():
    b, t = 32, 90
    rng = np.random.default_rng(0)
    rot = Rotation.random(b * t * 24, random_state=1).as_matrix().reshape(b, t, 24, 3, 3).astype(np.float32)
    trans = rng.normal(size=(b, t, 3)).astype(np.float32)
    out = corrupt_smpl(rot, trans, rng=np.random.default_rng(3), severity="high")
    again = corrupt_smpl(rot, trans, rng=np.random.default_rng(3), severity="high")
    np.testing.assert_array_equal(out["rotations"], again["rotations"])
    noisy = out["rotations"]
    assert noisy.shape == rot.shape and noisy.dtype == np.float32 and np.isfinite(noisy).all()
    # Still rotations.
    np.testing.assert_allclose(
        noisy @ np.swapaxes(noisy, -1, -2), np.broadcast_to(np.eye(3), noisy.shape), atol=1e-4
    )
    # Angular error: small where nothing happened, larger at wrists than at the spine.
    rel = np.swapaxes(rot, -1, -2) @ noisy
    angle = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))
    ok = ~out["occluded"] & ~out["failed"]
    smpl = get_layout("smpl24")
    wrist, spine = smpl.index("left_wrist"), smpl.index("spine2")
    assert np.median(angle[..., wrist][ok[..., wrist]]) > 2 * np.median(angle[..., spine][ok[..., spine]])
    assert np.median(angle[ok]) < 20
    # Failed frames exist; a global flip turns the root by 180 degrees about y.
    assert out["failed"].any()
    flipped = angle[..., 0] > 150
    assert out["failed"][..., 0][flipped].all()
    assert out["root_translation"].shape == trans.shape
    d = out["root_translation"] - trans
    assert d[..., 2].std() > 2 * d[..., 0].std()
    clean_out = corrupt_smpl(rot, trans, rng=np.random.default_rng(3), severity=0.0)
    np.testing.assert_allclose(clean_out["rotations"], rot, atol=1e-6)


def test_severity_parsing_and_errors():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(severity_array("high", 3, rng), [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(severity_array("1.5", 2, rng), [1.5, 1.5])
    mixed = severity_array("mixed", 1000, rng)
    assert mixed.min() >= 0.25 and mixed.max() <= 2.5 and mixed.std() > 0.3
    with pytest.raises(ValueError, match="severity must be one of"):
        severity_array("extreme", 3, rng)
    with pytest.raises(ValueError, match=">= 0"):
        severity_array(-1.0, 3, rng)
    with pytest.raises(ValueError, match=r"\(B, T, 17, 2\)"):
        corrupt(np.zeros((2, 5, 17, 3)), kind="2d", layout="coco17", rng=rng)
    with pytest.raises(ValueError, match="finite"):
        corrupt(np.full((1, 5, 17, 2), np.nan), kind="2d", layout="coco17", rng=rng)
    with pytest.raises(ValueError, match="kind must be"):
        corrupt(np.zeros((1, 5, 24, 3)), kind="smpl", layout="smpl24", rng=rng)


def test_joint_classes_cover_all_layouts():
    from hanet_refine.layouts import LAYOUTS

    assert joint_class("left_wrist") == "wrist" and joint_class("right_big_toe") == "ankle"
    assert joint_class("mid_hip") == "torso" and joint_class("left_hip") == "hip"
    assert joint_class("left_collar") == "shoulder" and joint_class("head_top") == "face"
    for layout in LAYOUTS.values():
        classes = {joint_class(n) for n in layout.joints}
        assert classes <= set(corruption.JOINT_CLASSES)
        assert corruption.occlusion_groups(layout).any(axis=0).all()  # every joint can be occluded


def test_protocol_table_in_docstring_and_data_card():
    table = protocol_table()
    assert table in corruption.__doc__
    assert "| low (s = 0.5) | medium (s = 1) | high (s = 2) |" in table
    card = Path(__file__).resolve().parents[1] / "docs" / "DATA_CARD.md"
    if not card.is_file():
        pytest.skip("docs/DATA_CARD.md is not in this checkout (sdist)")
    assert table in card.read_text(encoding="utf-8"), (
        "regenerate: python -m hanet_refine.train.dataset --card"
    )
