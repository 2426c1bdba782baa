import numpy as np
import pytest

from hanet_refine.train.benchmark import markdown_table, tune_filter
from hanet_refine.train.evaluate import bias_only_method, bias_only_scores, raw_method, refine_method, score_clips


def clip(seed=0, t=90, kind="2d"):
    rng = np.random.default_rng(seed)
    d = 2 if kind == "2d" else 3
    scale = 1.0 if kind == "2d" else 0.005
    time = np.arange(t)[:, None, None]
    clean = (300 + 80 * np.sin(time / 12 + rng.normal(size=(1, 17, d)))) * scale
    noisy = clean + rng.normal(size=clean.shape) * 4 * scale
    occluded = np.zeros((t, 17), bool)
    occluded[20:30, 9] = True
    noisy[occluded] = np.nan
    failed = np.zeros((t, 17), bool)
    failed[50:52, 10] = True
    noisy[failed] += 40 * scale
    out = {"clean": clean, "noisy": noisy, "occluded": occluded, "failed": failed}
    if kind == "2d":
        out["confidence"] = np.where(occluded, 0.0, 0.9)
    return out


def test_raw_scores_known_noise():
    clips = [clip(s) for s in range(3)]
    scores = score_clips(raw_method("2d"), clips, "2d")
    # Gaussian noise of std 4 per axis: mean 2d distance 4 * sqrt(pi / 2) = 5.01, a bit more with failures.
    assert 4.8 < scores["mpjpe"] < 6.5
    assert scores["mpjpe_failed"] > 30  # the 40 px jumps
    assert set(scores) >= {"pck@0.05", "pck@0.1", "pck@0.2", "accel", "mpjpe_occluded", "mpjpe_failed"}


def test_3d_scores_in_millimetres():
    scores = score_clips(raw_method("3d"), [clip(0, kind="3d")], "3d")
    # 20 mm noise per axis: 32 mm mean 3d distance, x sqrt(2) after aligning the (noisy) root joint.
    assert 38 < scores["mpjpe"] < 52 and "pa_mpjpe" in scores


def test_tuning_picks_a_filter_that_beats_raw():
    clips = [clip(s) for s in range(2)]
    params, err = tune_filter("gaussian", "2d", clips)
    assert err < score_clips(raw_method("2d"), clips, "2d")["mpjpe"]
    assert set(params) == {"sigma_seconds"}


def test_refine_method_runs(tiny_weights):
    scores = score_clips(refine_method("2d", "coco17", tiny_weights("2d", "coco17")), [clip()], "2d")
    assert np.isfinite(scores["mpjpe"])


def test_bias_only_scores_only_the_bias():
    c = clip()
    c["bias"] = np.full_like(c["clean"], 3.0)  # 3 px along x and y: 4.24 px everywhere
    c["bias"][..., 1] = -3.0
    scores = score_clips(bias_only_method, [c], "2d")
    assert scores["mpjpe"] == pytest.approx(np.hypot(3, 3))
    assert scores["accel"] == pytest.approx(0.0, abs=1e-9)


def test_bias_only_row_only_where_there_is_a_bias():
    c = clip()
    assert bias_only_scores([c], "2d") is None  # smpl clips and bias-free protocols carry none
    c["bias"] = np.zeros_like(c["clean"])
    assert bias_only_scores([c], "2d") is None
    c["bias"][5, 3] = 1.0
    assert bias_only_scores([c], "2d")["mpjpe"] == pytest.approx(np.sqrt(2) / (c["clean"].shape[0] * 17))


def test_markdown_table():
    table = markdown_table({"raw": {"mpjpe": 2.0}, "x": {"mpjpe": 1.234, "accel": 3}}, ["mpjpe", "accel", "pck"])
    assert table.splitlines() == ["| method | mpjpe | accel |", "|---|---|---|", "| raw | 2.00 | - |",
                                  "| x | 1.23 | 3.00 |"]


@pytest.mark.parametrize("kind", ["2d"])
def test_scores_weighted_by_points(kind):
    a, b = clip(0, t=30), clip(1, t=90)
    both = score_clips(raw_method(kind), [a, b], kind)["mpjpe"]
    sa, sb = (score_clips(raw_method(kind), [c], kind)["mpjpe"] for c in (a, b))
    assert both == pytest.approx((sa * 30 + sb * 90) / 120)
