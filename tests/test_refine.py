import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hanet_refine import refine


def walk(t=60, j=17, d=2, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(1, j, d)) * 40 + 300
    time = np.arange(t)[:, None, None]
    return base + 20 * np.sin(time / 7.0 + np.arange(j)[None, :, None]) + rng.normal(size=(t, j, d))


@pytest.fixture
def w2d(tiny_weights):
    return tiny_weights("2d", "coco17")


@pytest.fixture
def w3d(tiny_weights):
    return tiny_weights("3d", "h36m17")


@pytest.mark.parametrize("t", [1, 2, 4, 5, 6, 1000])  # tiny window L = 5
def test_every_frame_returned(w2d, t):
    out = refine(walk(t), weights=w2d)
    assert out.shape == (t, 17, 2) and np.isfinite(out).all()


def test_numpy_dtype_kept_and_input_untouched(w2d):
    for dtype in (np.float32, np.float64):
        x = walk().astype(dtype)
        copy = x.copy()
        out = refine(x, weights=w2d)
        assert isinstance(out, np.ndarray) and out.dtype == dtype
        assert np.array_equal(x, copy)


def test_int_input_gives_float64(w2d):
    assert refine(walk().astype(np.int64), weights=w2d).dtype == np.float64


def test_torch_in_torch_out(w2d):
    x = torch.from_numpy(walk()).float()
    copy = x.clone()
    out = refine(x, weights=w2d)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.device == x.device
    assert torch.equal(x, copy)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_tensor_stays_on_cuda(w2d):
    out = refine(torch.from_numpy(walk()).cuda(), weights=w2d)
    assert out.is_cuda


def test_confidence_column_passed_through(w2d):
    x = walk()
    conf = np.random.default_rng(1).uniform(0.5, 1, size=x.shape[:2])
    out = refine(np.concatenate([x, conf[..., None]], -1), weights=w2d)
    assert out.shape == (60, 17, 3) and np.array_equal(out[..., 2], conf)


def test_batch_of_tracks_equals_one_by_one(w2d):
    tracks = np.stack([walk(seed=s) for s in range(3)])
    batched = refine(tracks, weights=w2d)
    single = np.stack([refine(t, weights=w2d) for t in tracks])
    assert np.allclose(batched, single, atol=1e-9)


def test_missing_points_are_all_treated_alike(w2d):
    x = walk()
    nan, zero, low = x.copy(), x.copy(), np.concatenate([x, np.ones(x.shape[:2] + (1,))], -1)
    nan[10:20, 9] = np.nan
    zero[10:20, 9] = 0.0
    low[10:20, 9, 2] = 0.05
    a, b, c = refine(nan, weights=w2d), refine(zero, weights=w2d), refine(low, weights=w2d)[..., :2]
    assert np.isfinite(a).all()
    assert np.allclose(a, b) and np.allclose(a, c)
    # The network is told the points are missing: a real observation at the filled-in place differs.
    filled = x.copy()
    filled[10:20, 9] = np.linspace(x[9, 9], x[20, 9], 12)[1:-1]
    assert not np.allclose(refine(filled, weights=w2d), a)


def test_confidence_argument(w2d):
    x = walk()
    conf = np.ones(x.shape[:2])
    conf[5, 3] = 0.0
    out = refine(x, confidence=conf, weights=w2d)
    x_nan = x.copy()
    x_nan[5, 3] = np.nan
    assert np.allclose(out, refine(x_nan, weights=w2d))


def test_3d_zero_is_a_position(w3d):
    x = walk(d=3, j=17)
    x[:, 0] = 0.0  # a root-relative pelvis at the origin is real data in 3d
    assert np.isfinite(refine(x, "3d", weights=w3d)).all()


@settings(max_examples=15, deadline=None)
@given(shift=st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)), scale=st.floats(0.01, 100))
def test_2d_shift_and_scale_equivariance(tiny_weights, shift, scale):
    weights = tiny_weights("2d", "coco17")
    x = walk(40)
    base = refine(x, weights=weights)
    moved = refine(x * scale + np.array(shift), weights=weights)
    assert np.allclose(moved, base * scale + np.array(shift), rtol=1e-6, atol=1e-6 * (scale * 400 + 1e4))


@settings(max_examples=10, deadline=None)
@given(unit=st.sampled_from([1.0, 100.0, 1000.0]), offset=st.tuples(*[st.floats(-50, 50)] * 3))
def test_3d_unit_and_position_invariance(tiny_weights, unit, offset):
    weights = tiny_weights("3d", "h36m17")
    metres = walk(40, d=3) / 300.0
    base = refine(metres, "3d", weights=weights)
    other = refine((metres + np.array(offset)) * unit, "3d", weights=weights)
    assert np.allclose(other / unit - np.array(offset), base, atol=1e-7)


def test_fps_resampling(w2d):
    x = walk(120)
    assert np.allclose(refine(x, fps=30, weights=w2d), refine(x, weights=w2d))
    out = refine(x, fps=60, weights=w2d)
    assert out.shape == x.shape and np.isfinite(out).all()
    # A straight line at constant speed stays on its line whatever the frame rate.
    line = np.linspace(0, 1, 120)[:, None, None] * np.ones((1, 17, 2))
    line = line + np.random.default_rng(0).normal(size=(1, 17, 2))
    assert refine(line, fps=24, weights=w2d).shape == line.shape


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(kind="2D"), ValueError, r"kind must be one of \['2d', '3d', 'smpl'\], got '2D'"),
        (dict(layout="coco18"), ValueError, "unknown layout 'coco18'"),
        (dict(fps=0), ValueError, "fps must be a positive number"),
        (dict(fps=float("nan")), ValueError, "fps must be a positive number"),
    ],
)
def test_bad_arguments(w2d, kwargs, error, match):
    with pytest.raises(error, match=match):
        refine(walk(), weights=w2d, **kwargs)


@pytest.mark.parametrize(
    "array, kind, match",
    [
        (np.zeros((100, 17)), "3d", r"kind='3d' must have shape \(T, J, 3\) or \(N, T, J, 3\), got \(100, 17\)"),
        (np.zeros((0, 17, 2)), "2d", "must not be empty"),
        (np.zeros((10, 17, 4)), "2d", r"got \(10, 17, 4\)"),
        (np.full((10, 17, 2), np.inf), "2d", "contain inf"),
        (np.array([["a", "b"]]), "2d", "real numbers"),
        (np.zeros((10, 19, 2), dtype=bool), "2d", "real numbers"),
        (np.ones((10, 19, 2)), "2d", "cannot infer the layout of 19 joints"),
        (np.full((10, 17, 2), np.nan), "2d", "no observed keypoint"),
    ],
)
def test_bad_keypoints(w2d, array, kind, match):
    with pytest.raises(ValueError, match=match):
        refine(array, kind, weights=w2d)


def test_layout_mismatch(w2d):
    with pytest.raises(ValueError, match="layout 'body25' has 25 joints but keypoints have 17"):
        refine(walk(), layout="body25", weights=w2d)


def test_weights_for_another_layout(tiny_weights):
    with pytest.raises(ValueError, match="are for kind='2d', layout='body25'"):
        refine(walk(), weights=tiny_weights("2d", "body25"))


def test_missing_weights_path():
    with pytest.raises(FileNotFoundError, match="no/such/folder"):
        refine(walk(), weights="./no/such/folder")
