"""NumPy .npy / .npz keypoint arrays: read, write back, errors."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from hanet_refine.io import FormatError, detect_format, read, refine_file, write
from hanet_refine.missing import fill_missing, missing_mask


def _refiner(offset: float, calls: list | None = None):
    def refine(kp, *, kind, layout, confidence, fps, weights, device):
        if calls is not None:
            calls.append(
                {
                    "kind": kind,
                    "layout": layout,
                    "fps": fps,
                    "has_conf": confidence is not None,
                    "shape": kp.shape,
                }
            )
        mask = missing_mask(kp, confidence, zero_is_missing=kind == "2d")
        return fill_missing(kp, mask) + offset

    return refine


def _tracks(n: int = 2, t: int = 12, j: int = 17, c: int = 3, dtype=np.float32) -> np.ndarray:
    rng = np.random.default_rng(0)
    arr = rng.uniform(50, 500, (n, t, j, c)).astype(dtype)
    if c == 3:
        arr[..., 2] = rng.uniform(0.5, 1.0, (n, t, j))
    return arr


def test_npy_tracks_keep_shape_dtype_and_missing_values(tmp_path):
    arr = _tracks()
    arr[1, 4:7] = np.nan  # track 1 undetected in frames 4-6
    arr[0, 2, 3, :2] = 0.0  # a 2d joint at exactly (0, 0)
    np.save(tmp_path / "k.npy", arr)
    assert detect_format(tmp_path / "k.npy") == "npy"
    seq = read(tmp_path / "k.npy")
    assert (seq.layout, seq.num_frames, len(seq)) == ("coco17", 12, 21)  # 3 rows undetected
    calls: list = []
    summary = refine_file(tmp_path / "k.npy", tmp_path / "out.npy", refiner=_refiner(1.0, calls))
    assert summary.tracks == 2 and not summary.linked
    assert calls[0]["shape"] == (12, 17, 2) and calls[0]["has_conf"]
    out = np.load(tmp_path / "out.npy")
    assert out.shape == arr.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 2], arr[..., 2])  # confidence passed through
    assert np.isnan(out[1, 4:7]).all()  # undetected frames are not invented
    np.testing.assert_array_equal(out[0, 2, 3], arr[0, 2, 3])  # (0, 0) stays
    keep = np.isfinite(arr[..., :2]).all(-1) & ~(arr[..., :2] == 0).all(-1)
    np.testing.assert_allclose(out[..., :2][keep], arr[..., :2][keep] + 1.0, rtol=1e-6)

    refine_file(
        tmp_path / "k.npy", tmp_path / "filled.npy", refiner=_refiner(0.0), fill_gaps=True, fill_score=0.5
    )
    filled = np.load(tmp_path / "filled.npy")
    assert np.isfinite(filled).all()
    assert (filled[1, 4:7, :, 2] == 0.5).all() and filled[0, 2, 3, 2] == 0.5


def test_tracks_that_start_late_or_never_appear(tmp_path):
    arr = _tracks(n=3, c=2, dtype=np.float64)
    arr[1, :5] = np.nan  # track 1 appears at frame 5
    arr[2] = np.nan  # track 2 is never detected
    np.save(tmp_path / "k.npy", arr)
    calls: list = []
    summary = refine_file(
        tmp_path / "k.npy", tmp_path / "out.npy", refiner=_refiner(1.0, calls), fill_gaps=True
    )
    assert summary.tracks == 2 and [c["shape"][0] for c in calls] == [12, 7]
    out = np.load(tmp_path / "out.npy")
    assert np.isnan(out[1, :5]).all() and np.isnan(out[2]).all()  # nothing before the first detection
    np.testing.assert_allclose(out[1, 5:], arr[1, 5:] + 1.0)
    np.save(tmp_path / "none.npy", np.full((4, 17, 2), np.nan))
    with pytest.raises(FormatError, match="every keypoint is missing"):
        read(tmp_path / "none.npy")


def test_single_track_3d_without_confidence_and_identity_round_trip(tmp_path):
    arr = _tracks(n=1, c=3, dtype=np.float64)[0]  # (T, J, 3): xyz for kind 3d
    np.save(tmp_path / "p.npy", arr)
    seq = read(tmp_path / "p.npy", kind="3d")
    assert (seq.kind, seq.layout, seq.dim, seq.has_scores) == ("3d", "h36m17", 3, False)
    write(seq, tmp_path / "same.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "same.npy"), arr)
    calls: list = []
    refine_file(tmp_path / "p.npy", tmp_path / "out.npy", kind="3d", refiner=_refiner(-0.5, calls))
    assert calls[0]["kind"] == "3d" and not calls[0]["has_conf"]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), arr - 0.5)


def test_npz_other_arrays_and_fps_are_kept(tmp_path):
    arr = _tracks(n=1, c=2)
    extra = np.arange(5)
    np.savez_compressed(tmp_path / "k.npz", keypoints=arr, frame_ids=extra, fps=np.array(25.0))
    calls: list = []
    refine_file(tmp_path / "k.npz", tmp_path / "out.npz", refiner=_refiner(2.0, calls))
    assert calls[0]["fps"] == 25.0
    with np.load(tmp_path / "out.npz") as out:
        assert out.files == ["keypoints", "frame_ids", "fps"]
        np.testing.assert_array_equal(out["frame_ids"], extra)
        np.testing.assert_allclose(out["keypoints"], arr + 2.0, rtol=1e-6)
    with zipfile.ZipFile(tmp_path / "out.npz") as z:  # still compressed
        assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())


def test_npz_separate_confidence_array(tmp_path):
    # The layout examples/mediapipe_extract.py writes: pixels and visibility in two arrays.
    pts = _tracks(n=1, c=2)[0]
    vis = np.random.default_rng(1).uniform(0.5, 1.0, pts.shape[:2]).astype(np.float32)
    vis[3, 2] = 0.1  # below the threshold: the refiner is told so
    pts[5] = np.nan
    vis[5] = np.nan  # no person found
    np.savez(tmp_path / "mp.npz", landmarks=pts, visibility=vis, fps=np.float32(30))
    seq = read(tmp_path / "mp.npz", key="landmarks")
    assert seq.has_scores and seq.scores[3, 2] == pytest.approx(0.1)
    calls: list = []
    refine_file(
        tmp_path / "mp.npz",
        tmp_path / "out.npz",
        key="landmarks",
        refiner=_refiner(1.0, calls),
        fill_gaps=True,
    )
    assert calls[0]["has_conf"]
    with np.load(tmp_path / "out.npz") as out:
        got, want = out["landmarks"].copy(), pts + 1.0
        # the low-confidence point was re-estimated (here: interpolated by the stand-in refiner)
        np.testing.assert_allclose(got[3, 2], (pts[2, 2] + pts[4, 2]) / 2 + 1.0, rtol=1e-6)
        got[3, 2] = want[3, 2]
        np.testing.assert_allclose(got[[0, 1, 2, 3, 4, 6]], want[[0, 1, 2, 3, 4, 6]], rtol=1e-6)
        assert np.isfinite(out["landmarks"][5]).all()  # filled on request
        np.testing.assert_array_equal(out["visibility"][5], np.full(17, 0.3, np.float32))
        np.testing.assert_array_equal(out["visibility"][:5], vis[:5])


def test_npz_key_selection(tmp_path):
    np.savez(tmp_path / "two.npz", a=_tracks(n=1), b=_tracks(n=1))
    with pytest.raises(FormatError, match=r"no array named 'keypoints' among \['a', 'b'\]; pass key="):
        read(tmp_path / "two.npz")
    assert read(tmp_path / "two.npz", key="b").num_frames == 12
    with pytest.raises(FormatError, match="no array named 'c'"):
        read(tmp_path / "two.npz", key="c")


@pytest.mark.parametrize(
    "arr, kind, match",
    [
        (np.zeros((10, 17)), "2d", r"shape \(T, J, C\) or \(N, T, J, C\)"),
        (np.zeros((10, 17, 4)), "2d", "last axis must be 2 .* or 3"),
        (np.zeros((10, 17, 2)), "3d", "last axis must be 3 .* or 4"),
        (np.zeros((10, 13, 2)), "2d", "cannot infer the layout of 13 joints"),
        (np.full((4, 17, 2), "a"), "2d", "must be numbers"),
    ],
)
def test_bad_arrays(tmp_path, arr, kind, match):
    np.save(tmp_path / "bad.npy", arr)
    with pytest.raises(FormatError, match=match):
        read(tmp_path / "bad.npy", kind=kind)


def test_corrupt_and_pickled_files(tmp_path):
    np.save(tmp_path / "ok.npy", _tracks(n=1))
    data = (tmp_path / "ok.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"cut\.npy"):
        read(tmp_path / "cut.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FormatError, match=r"obj\.npy: cannot read"):
        read(tmp_path / "obj.npy")


def test_output_suffix_must_match(tmp_path):
    np.save(tmp_path / "k.npy", _tracks(n=1))
    with pytest.raises(ValueError, match="must be a .npy file"):
        refine_file(tmp_path / "k.npy", tmp_path / "out.npz", refiner=_refiner(0.0))
    assert not (tmp_path / "out.npz").exists()
