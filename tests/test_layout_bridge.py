import hashlib

import numpy as np
import pytest

from hanet_refine import refine, registry
from hanet_refine.layout_bridge import find_bridge
from hanet_refine.layouts import convert, get_layout
from hanet_refine.registry import PretrainedWeights


@pytest.fixture
def coco_registered(tiny_weights, monkeypatch):
    folder = tiny_weights("2d", "coco17")
    entry = PretrainedWeights(name="tiny-coco", kind="2d", layout="coco17", repo_id="x/tiny", revision="main",
                              sha256=hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest(),
                              window=5, sample_interval=1, fps=30.0, training_data="random", license="MIT")
    monkeypatch.setattr(registry, "PRETRAINED", {entry.name: entry})  # only this model is registered
    monkeypatch.setattr(registry, "_packaged_dir", lambda name: folder if name == entry.name else None)
    return folder


def mediapipe_track(t=40, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(1, 33, 2)) * 50 + 400
    return base + 10 * np.sin(np.arange(t)[:, None, None] / 6) + rng.normal(size=(t, 33, 2))


def test_bridge_picks_layout_with_most_shared_joints():
    bridge = find_bridge("mediapipe33", ["coco17", "body25", "h36m17"])
    # BODY_25 shares 19 joints (heels too) but MediaPipe has no neck or mid-hip for it.
    assert bridge.target.name == "coco17" and len(bridge.source_index) == 17
    assert find_bridge("halpe26", ["coco17", "body25"]).target.name == "body25"
    assert find_bridge("openpose18", ["coco17", "body25"]).target.name == "coco17"
    assert find_bridge("mediapipe33", ["h36m17"]) is None  # only the 12 limb joints are shared
    mp = get_layout("mediapipe33")
    assert mp.joints[bridge.follow[mp.index("left_pinky")]] == "left_wrist"


def test_mediapipe_refined_through_coco_model(coco_registered):
    x = mediapipe_track()
    out = refine(x)  # 33 joints: mediapipe33, which has no model of its own
    assert out.shape == x.shape and np.isfinite(out).all()
    # The 17 shared joints are exactly what the COCO model gives for them.
    coco = refine(convert(x, "mediapipe33", "coco17"), weights=coco_registered)
    assert np.allclose(convert(out, "mediapipe33", "coco17"), coco)
    # A finger moves with its wrist.
    mp = get_layout("mediapipe33")
    wrist, pinky = mp.index("left_wrist"), mp.index("left_pinky")
    assert np.allclose(out[:, pinky] - x[:, pinky], out[:, wrist] - x[:, wrist])


def test_no_bridge_without_a_related_model(monkeypatch):
    monkeypatch.setattr(registry, "PRETRAINED", {})
    with pytest.raises(ValueError, match="no pretrained model for kind='2d', layout='mediapipe33'"):
        refine(mediapipe_track())


def test_packaged_models_refine_mediapipe_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    x = mediapipe_track(t=50)
    out = refine(x)
    assert out.shape == x.shape and np.isfinite(out).all()
