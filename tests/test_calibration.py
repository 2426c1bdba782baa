"""Tests of the jitter measurement (hanet_refine.train.calibration) and its committed results."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from hanet_refine.layouts import LAYOUTS
from hanet_refine.train.calibration import (
    COCO17_GROUPS,
    body_size,
    estimate_jitter,
    residual_power,
    run_median,
)

REPO = Path(__file__).resolve().parents[1]
NPZ = REPO / "examples" / "data" / "demo_mediapipe33.npz"
JSON = REPO / "hanet_refine" / "train" / "jitter_calibration.json"
FPS = 30.0


def smooth_motion(frames: int, joints: int, rng: np.random.Generator) -> np.ndarray:
    """(T, J, 2) sums of sinusoids below 3 Hz with amplitudes ~50x the noise used below."""
    t = np.arange(frames)[:, None, None] / FPS
    freq = rng.uniform(0.2, 3.0, size=(3, 1, joints, 2))
    amp = rng.uniform(0.05, 0.3, size=(3, 1, joints, 2)) / (1 + freq)
    phase = rng.uniform(0, 2 * np.pi, size=(3, 1, joints, 2))
    return (amp * np.sin(2 * np.pi * freq * t[None] + phase)).sum(axis=0)


def ar1_noise(shape: tuple[int, ...], phi: float, rng: np.random.Generator) -> np.ndarray:
    """AR(1) noise along axis 0 with unit marginal variance."""
    shocks = rng.normal(size=shape)
    b = [math.sqrt(1 - phi * phi)]
    zi = signal.lfilter_zi(b, [1.0, -phi]).reshape((1,) + (1,) * (len(shape) - 1))
    return signal.lfilter(b, [1.0, -phi], shocks, axis=0, zi=zi * shocks[:1] / b[0])[0]


@pytest.mark.parametrize("std", [0.002, 0.01])
def test_recovers_white_noise_std(std):
    rng = np.random.default_rng(1)
    clean = smooth_motion(1200, 6, rng)
    report = estimate_jitter(clean + rng.normal(0, std, clean.shape), FPS)
    for s in (report.overall, *report.joints):
        assert s.noise_std_white == pytest.approx(std, rel=0.15)
    assert report.overall.noise_std == pytest.approx(std, rel=0.15)
    assert abs(report.overall.noise_ar1) < 0.15
    # The residual of white noise has the autocorrelation the filter predicts.
    np.testing.assert_allclose(report.overall.residual_autocorr, report.residual_autocorr_white, atol=0.05)
    assert report.overall.outlier_rate < 0.002
    assert report.overall.tail_ratio == pytest.approx(1.0, abs=0.1)


def test_second_difference_cross_check_on_slow_motion():
    rng = np.random.default_rng(9)
    t = np.arange(1200)[:, None, None] / FPS
    slow = 0.05 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5, (1, 4, 2)) * t)  # d2 of this is ~1e-4
    report = estimate_jitter(slow + rng.normal(0, 0.005, slow.shape), FPS)
    assert report.overall.noise_std_d2_white == pytest.approx(0.005, rel=0.1)
    # Fast motion inflates the second differences but not the low-pass estimate.
    fast = slow + 0.05 * np.sin(2 * np.pi * 3.0 * t)
    fast_report = estimate_jitter(fast + rng.normal(0, 0.005, slow.shape), FPS)
    assert fast_report.overall.noise_std_d2_white > 1.5 * 0.005
    assert fast_report.overall.noise_std_white == pytest.approx(0.005, rel=0.15)


@pytest.mark.parametrize("phi", [0.3, 0.5])
def test_recovers_correlated_noise_std_and_ar1(phi):
    rng = np.random.default_rng(2)
    std = 0.005
    clean = smooth_motion(3000, 6, rng)
    report = estimate_jitter(clean + std * ar1_noise(clean.shape, phi, rng), FPS)
    overall = report.overall
    assert overall.noise_ar1 == pytest.approx(phi, abs=0.15)
    assert overall.noise_std == pytest.approx(std, rel=0.15)
    # Per joint the std is corrected with the AR(1) fitted on all joints (shared_ar1).
    for s in report.joints:
        assert s.noise_std == pytest.approx(std, rel=0.15)
    # White-equivalent: the white std with the same power above the cutoff.
    expected_white = std * math.sqrt(residual_power(phi, FPS) / residual_power(0.0, FPS))
    assert overall.noise_std_white == pytest.approx(expected_white, rel=0.1)


def test_residual_power_matches_monte_carlo():
    rng = np.random.default_rng(3)
    sos = signal.butter(4, 6.0, fs=FPS, output="sos")
    for phi in (0.0, 0.6):
        noise = ar1_noise((100_000,), phi, rng)
        residual = (noise - signal.sosfiltfilt(sos, noise))[1000:-1000]
        assert residual_power(phi, FPS) == pytest.approx(residual.var() / noise[1000:-1000].var(), rel=0.03)
    powers = [residual_power(p, FPS) for p in (-0.5, 0.0, 0.5, 0.9)]
    assert all(a > b for a, b in itertools.pairwise(powers))  # correlated noise keeps less power above the cutoff


def test_outliers_are_counted_and_do_not_inflate_the_std():
    rng = np.random.default_rng(4)
    std = 0.004
    clean = smooth_motion(1500, 4, rng)
    noisy = clean + rng.normal(0, std, clean.shape)
    hit = rng.random(noisy.shape[:2]) < 0.02
    hit[:5] = hit[-5:] = False  # edge frames are not measured
    direction = rng.normal(size=noisy.shape)
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    noisy = noisy + np.where(hit[..., None], 0.2 * direction, 0.0)  # 50 sigma jumps
    report = estimate_jitter(noisy, FPS, gross_threshold=0.1)
    assert report.overall.noise_std_white == pytest.approx(std, rel=0.15)
    assert report.overall.outlier_rate == pytest.approx(hit.mean(), abs=0.004)
    assert report.overall.gross_rate == pytest.approx(hit.mean(), abs=0.004)
    assert report.overall.outlier_median == pytest.approx(0.2, rel=0.15)


def test_scale_and_translation_invariance_and_input_untouched():
    rng = np.random.default_rng(5)
    pts = smooth_motion(400, 3, rng) + rng.normal(0, 0.01, (400, 3, 2))
    before = pts.copy()
    ref = estimate_jitter(pts, FPS).overall
    moved = estimate_jitter(pts * 250.0 + np.array([640.0, 360.0]), FPS, scale=250.0).overall
    assert moved.noise_std_white == pytest.approx(ref.noise_std_white, rel=1e-6)
    assert moved.outlier_rate == ref.outlier_rate
    np.testing.assert_array_equal(pts, before)


def test_per_frame_scale_normalises_each_segment():
    rng = np.random.default_rng(6)
    a = smooth_motion(600, 2, rng) + rng.normal(0, 0.003, (600, 2, 2))
    b = smooth_motion(600, 2, rng) + rng.normal(0, 0.003, (600, 2, 2))
    gap = np.full((1, 2, 2), np.nan)
    pts = np.concatenate([a * 100.0, gap, b * 400.0])  # two people of different sizes
    scale = np.concatenate([np.full(600, 100.0), [np.nan], np.full(600, 400.0)])
    report = estimate_jitter(pts, FPS, scale=scale)
    assert report.overall.noise_std_white == pytest.approx(0.003, rel=0.15)
    assert report.joints[0].missing_rate == pytest.approx(1 / 1201)


def test_batched_input_equals_nan_separated_concatenation():
    rng = np.random.default_rng(7)
    batch = smooth_motion(300, 3, rng)[None] + rng.normal(0, 0.01, (2, 300, 3, 2))
    joined = np.concatenate([batch[0], np.full((1, 3, 2), np.nan), batch[1]])
    a, b = estimate_jitter(batch, FPS).overall, estimate_jitter(joined, FPS).overall
    assert a.noise_std_white == pytest.approx(b.noise_std_white)
    assert a.n_points == b.n_points


def test_short_runs_are_skipped_and_counted_and_rates_reported():
    rng = np.random.default_rng(8)
    pts = smooth_motion(200, 2, rng) + rng.normal(0, 0.01, (200, 2, 2))
    pts[100:103, 1] = np.nan  # joint 1 missing for 3 frames
    pts[103:108, 1] = 1.0  # ... then a 5-frame run: too short to measure
    pts[108, 1] = np.nan
    conf = np.ones((200, 2))
    conf[:50, 0] = 0.1
    report = estimate_jitter(pts, FPS, confidence=conf, confidence_threshold=0.5,
                             groups={"both": [0, 1]})
    assert report.skipped_runs == 1
    assert report.joints[1].missing_rate == pytest.approx(4 / 200)
    assert report.joints[0].low_confidence_rate == pytest.approx(50 / 200)
    assert report.joints[1].n_points == 200 - 4 - 5 - 4 * report.edge_frames
    assert report.groups["both"].n_points == report.joints[0].n_points + report.joints[1].n_points


def test_bad_input_is_rejected():
    pts = np.zeros((50, 3, 2))
    with pytest.raises(ValueError, match=r"shape \(T, J, D\)"):
        estimate_jitter(np.zeros((50, 2)), FPS)
    with pytest.raises(ValueError, match="cutoff_hz must be between 0 and fps / 2"):
        estimate_jitter(pts, FPS, cutoff_hz=20.0)
    with pytest.raises(ValueError, match="fps must be a positive"):
        estimate_jitter(pts, 0.0)
    with pytest.raises(ValueError, match="scale must be a number or have shape"):
        estimate_jitter(pts, FPS, scale=np.ones(7))
    with pytest.raises(ValueError, match="scale must be positive"):
        estimate_jitter(pts, FPS, scale=np.zeros(50))
    with pytest.raises(ValueError, match="group 'g' has joint indices"):
        estimate_jitter(pts, FPS, groups={"g": [5]})
    with pytest.raises(ValueError, match="no joint has a run of"):
        estimate_jitter(np.zeros((8, 3, 2)), FPS)
    with pytest.raises(ValueError, match="definition must be one of"):
        body_size(np.zeros((5, 17, 2)), definition="height")
    with pytest.raises(ValueError, match="phi must be in"):
        residual_power(1.0, FPS)


def test_body_size_known_answers():
    coco = LAYOUTS["coco17"]
    pts = np.full((2, 17, 2), np.nan)
    for side, x in (("left", 0.0), ("right", 4.0)):
        pts[0, coco.index(f"{side}_shoulder")] = (x, 0.0)
        pts[0, coco.index(f"{side}_hip")] = (x, 3.0)
    assert body_size(pts, definition="bbox_diagonal")[0] == pytest.approx(5.0)
    assert body_size(pts, definition="torso")[0] == pytest.approx(3.0)
    assert np.isnan(body_size(pts)[1])  # nothing present
    np.testing.assert_allclose(run_median(np.array([1.0, 3.0, np.nan, 5.0, 6.0, 10.0])),
                               [2.0, 2.0, np.nan, 6.0, 6.0, 6.0])


def test_groups_cover_coco17():
    names = [n for group in COCO17_GROUPS.values() for n in group]
    assert sorted(names) == sorted(LAYOUTS["coco17"].joints)


# ----------------------------------------------------------------------------------------
# The committed MediaPipe output and calibration


def _load_example():
    spec = importlib.util.spec_from_file_location("calibrate_jitter", REPO / "examples" / "calibrate_jitter.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo():
    if not NPZ.is_file():
        pytest.skip(f"{NPZ} not present (made by examples/mediapipe_extract.py)")
    return np.load(NPZ)


def test_demo_npz_contents(demo):
    lm, vis = demo["landmarks"], demo["visibility"]
    t = len(lm)
    assert lm.shape == (t, 33, 2) and vis.shape == (t, 33)
    assert float(demo["fps"]) == pytest.approx(30.0)
    width, height = demo["image_size"]
    missing = ~np.isfinite(lm).all(axis=(1, 2))
    assert 0 < missing.sum() < t // 10  # a few frames without a person, not many
    np.testing.assert_array_equal(missing, np.isnan(vis).all(axis=1))
    found = lm[~missing]
    # Pixels, not normalised coordinates: spread over the frame, mostly inside it.
    assert np.nanmax(found[..., 0]) > 1.0 and np.nanmax(found[..., 1]) > 1.0
    inside = (found[..., 0] > -0.05 * width) & (found[..., 0] < 1.05 * width) & (found[..., 1] < 1.05 * height)
    assert inside.mean() > 0.95
    assert "Sports2D" in str(demo["source"]) and "MediaPipe" in str(demo["source"])
    for i in demo["frame_indices"]:
        assert (NPZ.parent / f"demo_frame_{int(i)}.jpg").stat().st_size < 60_000


def test_committed_json_matches_a_fresh_measurement(demo):
    if not JSON.is_file():
        pytest.skip(f"{JSON} not present (made by examples/calibrate_jitter.py)")
    calib = json.loads(JSON.read_text())
    assert set(calib["joints"]) == set(LAYOUTS["coco17"].joints)
    for entry in calib["joints"].values():
        assert 0.0005 < entry["noise_std_rel"] < 0.05
        assert len(entry["autocorrelation"]) == 3 and len(entry["residual_autocorr"]) == 3
        assert 0.0 <= entry["outlier_rate"] < 0.5
    example = _load_example()
    report, info = example.measure(demo["landmarks"].astype(np.float64), demo["visibility"].astype(np.float64),
                                   float(demo["fps"]), cutoff=calib["settings"]["cutoff_hz"],
                                   size_definition="bbox_diagonal")
    assert info["segments"] == calib["segments"]
    for name, s in zip(LAYOUTS["coco17"].joints, report.joints):
        assert calib["joints"][name]["noise_std_rel"] == pytest.approx(s.noise_std_white, rel=1e-3)
        assert calib["joints"][name]["outlier_rate"] == pytest.approx(s.outlier_rate, abs=1e-3)


def test_example_splits_tracks_at_a_change_of_person():
    example = _load_example()
    rng = np.random.default_rng(10)
    person = smooth_motion(60, 17, rng) * 20 + rng.uniform(100, 300, (1, 17, 2))
    points = person.copy()
    points[30:] += np.array([800.0, 0.0])  # another person, far away, from frame 30 on
    blanked, frames = example.split_identity_switches(points)
    assert frames == [30]
    assert np.isnan(blanked[30]).all() and np.isfinite(blanked[np.arange(60) != 30]).all()
    assert np.isfinite(points).all()  # the input is not modified
