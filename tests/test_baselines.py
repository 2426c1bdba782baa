"""Tests of the classical baselines and the SmoothNet module (hanet_refine.baselines)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from hanet_refine.baselines import (
    DEFAULT_PARAMS,
    FILTERS,
    PARAM_GRID,
    OneEuroFilter,
    SmoothNet,
    butterworth,
    gaussian,
    kalman,
    one_euro,
    pose_scale,
    savgol,
)

NAMES = sorted(FILTERS)
ZERO_PHASE = ["savgol", "gaussian", "butterworth", "kalman"]
J = 17  # coco17 / h36m17


def body(rng: np.random.Generator, d: int, size: float = 1.0) -> np.ndarray:
    """A random rest pose of J points about ``size`` across."""
    return rng.uniform(0.0, size, (J, d))


def smooth_motion(fps: float, seconds: float = 4.0, d: int = 3) -> np.ndarray:
    """A body of size ~1 swaying at 0.8 Hz with a little 2.5 Hz motion: (T, J, d)."""
    t = np.arange(round(seconds * fps)) / fps
    rest = np.linspace(0.0, 1.0, J)[None, :, None] * np.array([0.4, 1.0, 0.2][:d])
    sway = 0.3 * np.sin(2 * np.pi * 0.8 * t)[:, None, None] * np.array([1.0, 0.3, 0.5][:d])
    wiggle = 0.05 * np.sin(2 * np.pi * 2.5 * t + 1.0)[:, None, None]
    return rest + sway + wiggle


# ---------------------------------------------------------------------------------------
# Array in, array out


@pytest.mark.parametrize("name", NAMES)
def test_numpy_float32_in_float32_out_and_input_untouched(name: str) -> None:
    rng = np.random.default_rng(0)
    x = (body(rng, 2, 200.0)[None] + rng.normal(0, 2, (40, J, 2))).astype(np.float32)
    x[5, 3] = np.nan
    before = x.copy()
    out = FILTERS[name](x, "2d", fps=30)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_array_equal(x, before)  # NaN included: assert_array_equal treats NaN == NaN
    assert np.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_torch_in_torch_out_with_batch_axis(name: str) -> None:
    rng = np.random.default_rng(1)
    x = torch.tensor(body(rng, 3)[None, None] + rng.normal(0, 0.01, (2, 30, J, 3)), dtype=torch.float32)
    before = x.clone()
    out = FILTERS[name](x, "3d", fps=25)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == x.shape
    assert out.device == x.device
    assert torch.equal(x, before)


@pytest.mark.parametrize("name", NAMES)
def test_confidence_column_comes_back_unchanged(name: str) -> None:
    rng = np.random.default_rng(2)
    xy = body(rng, 2, 100.0)[None] + rng.normal(0, 1, (20, J, 2))
    conf = rng.uniform(0.5, 1.0, (20, J, 1))
    out = FILTERS[name](np.concatenate([xy, conf], axis=-1), "2d")
    assert out.shape == (20, J, 3)
    np.testing.assert_array_equal(out[..., 2:], conf)


@pytest.mark.parametrize("name", NAMES)
def test_batch_equals_tracks_filtered_one_by_one(name: str) -> None:
    rng = np.random.default_rng(3)
    # Two tracks of very different sizes: per-track scales must not leak between them.
    a = body(rng, 3)[None] + rng.normal(0, 0.01, (30, J, 3))
    b = 50 * (body(rng, 3)[None] + rng.normal(0, 0.01, (30, J, 3)))
    both = FILTERS[name](np.stack([a, b]), "3d")
    np.testing.assert_allclose(both[0], FILTERS[name](a, "3d"), atol=1e-12)
    np.testing.assert_allclose(both[1], FILTERS[name](b, "3d"), atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_translation_and_scale_equivariance(name: str) -> None:
    rng = np.random.default_rng(4)
    x = body(rng, 3)[None] + rng.normal(0, 0.02, (25, J, 3))
    shift, factor = np.array([3.0, -1.0, 10.0]), 250.0
    out = FILTERS[name](x, "3d")
    moved = FILTERS[name](factor * x + shift, "3d")
    np.testing.assert_allclose(moved, factor * out + shift, rtol=1e-9, atol=1e-8)


# ---------------------------------------------------------------------------------------
# What a smoother must do


@pytest.mark.parametrize("name", NAMES)
def test_constant_signal_stays_constant(name: str) -> None:
    pose = body(np.random.default_rng(5), 2, 300.0) + 10.0
    x = np.broadcast_to(pose, (50, J, 2)).copy()
    np.testing.assert_allclose(FILTERS[name](x, "2d"), x, rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ZERO_PHASE)
def test_constant_velocity_line_is_preserved(name: str) -> None:
    fps = 30.0
    t = np.arange(90) / fps
    velocity = np.random.default_rng(6).normal(0, 1.0, (J, 3))
    x = body(np.random.default_rng(7), 3)[None] + t[:, None, None] * velocity
    out = FILTERS[name](x, "3d", fps=fps)
    interior = slice(10, -10)
    np.testing.assert_allclose(out[interior], x[interior], atol=1e-5)
    # Savitzky-Golay ("interp") and Gaussian ("odd" padding) keep it to the very ends.
    if name in ("savgol", "gaussian"):
        np.testing.assert_allclose(out, x, atol=1e-9)
    else:
        np.testing.assert_allclose(out, x, atol=1e-2)


@pytest.mark.parametrize("name", NAMES)
def test_noise_is_reduced_on_a_noisy_sine(name: str) -> None:
    rng = np.random.default_rng(8)
    fps = 30.0
    t = np.arange(150) / fps
    clean = body(rng, 2, 200.0)[None] + 20.0 * np.sin(2 * np.pi * 0.3 * t)[:, None, None]
    noisy = clean + rng.normal(0, 2.0, clean.shape)
    out = FILTERS[name](noisy, "2d", fps=fps)
    assert np.std(out - clean) < 0.8 * np.std(noisy - clean)


@pytest.mark.parametrize("name", NAMES)
def test_same_motion_at_30_and_60_fps_gives_the_same_curve(name: str) -> None:
    params = {"window_seconds": 0.4} if name == "savgol" else {}  # 13 and 25 frames: same span
    slow, fast = smooth_motion(30.0), smooth_motion(60.0)
    out_slow = FILTERS[name](slow, "3d", fps=30.0, **params)
    out_fast = FILTERS[name](fast, "3d", fps=60.0, **params)
    change = np.abs(out_slow - slow).max()  # how much the filter does at all
    assert change > 1e-3
    tolerance = 0.25 if name == "one_euro" else 0.1  # One Euro's discretisation is coarser
    interior = slice(15, -15)
    assert np.abs(out_slow - out_fast[::2])[interior].max() < tolerance * change


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("frames", [1, 2, 3, 4, 7])
def test_short_sequences_work(name: str, frames: int) -> None:
    rng = np.random.default_rng(9)
    x = body(rng, 2, 100.0)[None] + rng.normal(0, 1, (frames, J, 2))
    out = FILTERS[name](x, "2d", fps=30)
    assert out.shape == x.shape and np.isfinite(out).all()


# ---------------------------------------------------------------------------------------
# Missing points


@pytest.mark.parametrize("name", NAMES)
def test_missing_points_get_finite_estimates(name: str) -> None:
    rng = np.random.default_rng(10)
    x = body(rng, 2, 100.0)[None] + 5.0 + rng.normal(0, 1, (40, J, 2))
    conf = np.ones((40, J))
    x[3:9, 2] = np.nan  # NaN gap
    x[:4, 5] = 0.0  # OpenPose's "not found", at the start
    x[-6:, 7] = 0.0  # and at the end
    conf[10:20, 11] = 0.05  # a low-confidence gap
    out = FILTERS[name](x, "2d", confidence=conf)
    assert np.isfinite(out).all()
    # Filled points are estimates near the joint's track, not zeros or wild values.
    assert np.abs(out[:4, 5] - x[10, 5]).max() < 10 and np.abs(out[-6:, 7] - x[-10, 7]).max() < 10


def test_kalman_bridges_a_gap_with_the_motion_model_not_the_bad_values() -> None:
    fps = 30.0
    t = np.arange(60)[:, None, None] / fps
    # A parabola (constant acceleration): the Kalman smoother's motion model bridges it
    # exactly, while the linear interpolation used to fill gaps cuts the corner.
    rest = body(np.random.default_rng(11), 2, 100.0)[None] + 50.0
    track = rest + t * np.array([30.0, -12.0]) - 40.0 * t**2
    corrupted = track.copy()
    corrupted[20:30, 4] = [400.0, 400.0]  # garbage where confidence is low
    conf = np.ones((60, J))
    conf[20:30, 4] = 0.0
    out = kalman(corrupted, "2d", fps=fps, confidence=conf)
    np.testing.assert_allclose(out[20:30, 4], track[20:30, 4], atol=0.05)
    chord = savgol(corrupted, "2d", window=1, confidence=conf)  # window 1: the filled input
    assert np.abs(chord[20:30, 4] - track[20:30, 4]).max() > 0.5


# ---------------------------------------------------------------------------------------
# One Euro streaming


def test_one_euro_stream_equals_batch_call() -> None:
    rng = np.random.default_rng(12)
    x = (
        body(rng, 3)[None]
        + 0.2 * np.sin(np.arange(80) / 7.0)[:, None, None]
        + rng.normal(0, 0.01, (80, J, 3))
    )
    params = {"fps": 50.0, "min_cutoff": 0.8, "beta": 5.0, "d_cutoff": 1.5}
    batch = one_euro(x, "3d", scale=0.7, **params)
    stream = OneEuroFilter(scale=0.7, **params)
    online = np.stack([stream(frame) for frame in x])
    np.testing.assert_allclose(online, batch, rtol=0, atol=1e-12)
    # Equal timestamps give the same as the frame rate.
    timed = OneEuroFilter(scale=0.7, **params)
    np.testing.assert_allclose(np.stack([timed(f, i / 50.0) for i, f in enumerate(x)]), batch, atol=1e-12)


def test_one_euro_is_causal() -> None:
    rng = np.random.default_rng(13)
    x = body(rng, 2, 100.0)[None] + rng.normal(0, 1, (40, J, 2))
    changed = x.copy()
    changed[25:] += 30.0
    size = float(pose_scale(x[None])[0])  # a fixed scale: the automatic one sees all frames
    a, b = one_euro(x, "2d", scale=size), one_euro(changed, "2d", scale=size)
    np.testing.assert_array_equal(a[:25], b[:25])  # the future does not change the past
    assert np.abs(a[25:] - b[25:]).max() > 1.0


def test_one_euro_stream_holds_missing_points_and_reset() -> None:
    f = OneEuroFilter(fps=30, scale=1.0)
    first = np.array([[0.0, 0.0], [np.nan, np.nan], [1.0, 1.0]])
    out = f(first)
    np.testing.assert_array_equal(out[0], [0.0, 0.0])
    assert np.isnan(out[1]).all()  # never seen: no estimate yet
    second = f(np.array([[0.5, 0.5], [2.0, 2.0], [np.nan, np.nan]]))
    assert 0.0 < second[0, 0] < 0.5  # smoothed towards the new value
    np.testing.assert_array_equal(second[1], [2.0, 2.0])  # first sighting passes through
    np.testing.assert_array_equal(second[2], [1.0, 1.0])  # missing: last estimate held
    with pytest.raises(ValueError, match="reset"):
        f(np.zeros((4, 2)))
    f.reset()
    assert f(np.zeros((4, 2))).shape == (4, 2)
    with pytest.raises(ValueError, match="timestamp must increase"):
        f(np.zeros((4, 2)), timestamp=-1.0)


def test_one_euro_filter_returns_torch_for_torch() -> None:
    f = OneEuroFilter()
    out = f(torch.ones(J, 2, dtype=torch.float64))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64


# ---------------------------------------------------------------------------------------
# Parameters and errors


def test_defaults_match_signatures_and_grid_is_usable() -> None:
    assert set(DEFAULT_PARAMS) == set(FILTERS) == set(PARAM_GRID)
    x = body(np.random.default_rng(14), 2, 100.0)[None] + np.zeros((20, 1, 1))
    for name, func in FILTERS.items():
        signature = inspect.signature(func).parameters
        for key, value in DEFAULT_PARAMS[name].items():
            default = signature[key].default
            assert default == value or (default is None and key == "window_seconds"), (name, key)
        for key, values in PARAM_GRID[name].items():
            assert 3 <= len(values) <= 6 and key in signature, (name, key)
            func(x, "2d", **{key: values[0]})


def test_savgol_window_conversion_and_explicit_window() -> None:
    rng = np.random.default_rng(15)
    x = body(rng, 2, 100.0)[None] + rng.normal(0, 1, (50, J, 2))
    # 0.4 s at 30 fps spans 12 frame steps: a 13-frame window.
    np.testing.assert_allclose(savgol(x, fps=30, window_seconds=0.4), savgol(x, window=13), atol=1e-12)
    with pytest.raises(ValueError, match="not both"):
        savgol(x, window=9, window_seconds=0.3)


def test_butterworth_above_nyquist_warns_and_passes_through() -> None:
    x = body(np.random.default_rng(16), 3)[None] + np.random.default_rng(17).normal(0, 0.01, (20, J, 3))
    with pytest.warns(UserWarning, match="Nyquist"):
        out = butterworth(x, "3d", fps=10, cutoff_hz=6.0)
    np.testing.assert_allclose(out, x)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: savgol(x, "smpl"), "kind='3d'"),
        (lambda x: savgol(x, "2D"), "kind must be one of"),
        (lambda x: kalman(x, fps=0), "fps must be"),
        (lambda x: gaussian(x, fps=True), "fps must be"),
        (lambda x: butterworth(x, cutoff_hz=-1.0), "cutoff_hz must be"),
        (lambda x: butterworth(x, order=0), "order must be"),
        (lambda x: savgol(x, polyorder=1.5), "polyorder must be"),
        (lambda x: savgol(x, mode="edge"), "mode must be one of"),
        (lambda x: one_euro(x, beta=-1.0), "beta must be"),
        (lambda x: kalman(x, measurement_noise=0.0), "measurement_noise must be"),
        (lambda x: kalman(x[..., :1]), r"shape \(T, J, 2\)"),
        (lambda x: one_euro(np.full_like(x, np.inf)), "inf"),
    ],
)
def test_bad_input_is_rejected(call, message: str) -> None:
    x = body(np.random.default_rng(18), 2, 100.0)[None] + np.zeros((10, 1, 1))
    with pytest.raises(ValueError, match=message):
        call(x)


# ---------------------------------------------------------------------------------------
# SmoothNet


def test_smoothnet_shapes_channels_independent_and_trainable() -> None:
    torch.manual_seed(0)
    net = SmoothNet(window=16, hidden=32, res_hidden=16, num_blocks=2, dropout=0.1)
    x = torch.randn(3, 16, 34)
    out = net(x)
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    net.eval()
    with torch.no_grad():
        base = net(x)
        poked = x.clone()
        poked[:, :, 5] += 1.0
        changed = net(poked)
    # A temporal-only MLP: changing channel 5 changes channel 5 and nothing else.
    assert not torch.allclose(changed[:, :, 5], base[:, :, 5])
    others = [c for c in range(34) if c != 5]
    torch.testing.assert_close(changed[:, :, others], base[:, :, others])
    net.train()
    net(x).pow(2).mean().backward()
    assert all(p.grad is not None for p in net.parameters())
    rebuilt = SmoothNet(**net.config)
    rebuilt.load_state_dict(net.state_dict(), strict=True)


def test_smoothnet_default_size_and_errors() -> None:
    net = SmoothNet()
    count = sum(p.numel() for p in net.parameters())
    # window 32, hidden 512, residual 256, 3 blocks: the linear layers' weights and biases.
    expected = (32 * 512 + 512) + 3 * (512 * 256 + 256 + 256 * 512 + 512) + (512 * 32 + 32)
    assert count == expected
    with pytest.raises(ValueError, match=r"expects \(batch, 32, channels\)"):
        net(torch.zeros(2, 31, 34))
    with pytest.raises(ValueError, match="window must be"):
        SmoothNet(window=0)
    with pytest.raises(ValueError, match="dropout must be"):
        SmoothNet(dropout=1.0)
