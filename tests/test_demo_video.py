"""The real-video demo (examples/demo_video.py) runs end to end on the committed keypoints."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "demo_video.py"
NPZ = REPO / "examples" / "data" / "demo_mediapipe33.npz"


@pytest.fixture(scope="module")
def demo_video():
    if not NPZ.is_file():
        pytest.skip(f"{NPZ} not present (made by examples/mediapipe_extract.py)")
    spec = importlib.util.spec_from_file_location("demo_video", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_runs_with_a_tiny_model(demo_video, tiny_weights, tmp_path, capsys):
    from matplotlib.image import imread

    result = demo_video.main(["--weights", str(tiny_weights("2d", "coco17")), "--out", str(tmp_path)])
    printed = capsys.readouterr().out

    # MediaPipe changes person at the frames without a detection 169 and 201
    # (examples/data/README.md): three tracks, the frames at both ends outside them.
    assert result["spans"] == [(3, 169), (170, 201), (202, 227)]

    metrics = result["metrics"]
    assert list(metrics) == [
        demo_video.RAW,
        demo_video.MP_SMOOTH,
        demo_video.ONE_EURO,
        demo_video.BUTTER,
        demo_video.REFINED,
    ]
    for name, row in metrics.items():
        assert all(math.isfinite(v) for v in row.values()), (name, row)
        assert row["jitter"] > 0 and 0 <= row["median_distance"] <= row["p95_distance"]
        assert name in printed
    assert metrics[demo_video.RAW]["p95_distance"] == 0.0  # the raw points against themselves
    # A 4 Hz zero-phase low-pass removes most of the frame-to-frame shake.
    assert metrics[demo_video.BUTTER]["jitter"] < 0.7 * metrics[demo_video.RAW]["jitter"]

    # Every method that fills gives a position to every missing point inside the tracks.
    data = np.load(NPZ)
    in_tracks = np.r_[3:169, 170:201, 202:227]
    coco_from_mp = [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]  # by joint name
    vis = data["visibility"][in_tracks][:, coco_from_mp]
    missing_in_tracks = int((vis < 0.3).sum() + np.isnan(vis).sum())
    assert missing_in_tracks > 0
    for name in demo_video.FILLING:
        assert metrics[name]["filled"] == missing_in_tracks

    for path in result["figures"]:
        assert path.parent == tmp_path and path.suffix == ".png"
        image = imread(path)
        assert image.ndim == 3 and min(image.shape[:2]) > 300
        assert str(path) in printed


def test_demo_needs_an_existing_output_folder(demo_video, tmp_path):
    with pytest.raises(FileNotFoundError, match="--out"):
        demo_video.main(["--out", str(tmp_path / "absent")])
