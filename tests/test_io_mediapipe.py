"""MediaPipe Pose landmarks: normalised -> pixels, 33 -> COCO-17 and back, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hanet_refine.io import FormatError, detect_format, read, refine_file, write
from hanet_refine.layouts import get_layout
from hanet_refine.missing import fill_missing, missing_mask

W, H = 1280, 720
MP = get_layout("mediapipe33")
COCO = get_layout("coco17")


def _pose(t: int, x0: float = 0.3, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed * 1000 + t)
    xs = x0 + 0.002 * t + np.linspace(0, 0.1, 33) + rng.normal(0, 0.001, 33)
    ys = 0.2 + np.linspace(0, 0.6, 33)
    return [
        {
            "x": round(float(x), 6),
            "y": round(float(y), 6),
            "z": round(float(-0.1 * k / 33), 6),
            "visibility": round(float(v), 4),
        }
        for k, (x, y, v) in enumerate(zip(xs, ys, rng.uniform(0.6, 1.0, 33), strict=True))
    ]


def _offset_refiner(dx: float, dy: float):
    def refine(kp, *, kind, layout, confidence, fps, weights, device):
        assert layout in ("coco17", "mediapipe33")
        return fill_missing(kp, missing_mask(kp, confidence, zero_is_missing=True)) + [dx, dy]

    return refine


def _write(tmp_path: Path, doc) -> Path:
    path = tmp_path / "landmarks.json"
    path.write_text(json.dumps(doc))
    return path


def test_read_converts_to_pixels_and_coco17(tmp_path):
    frames = [_pose(t) for t in range(5)]
    frames[2] = None  # nobody found
    path = _write(tmp_path, {"image_width": W, "image_height": H, "fps": 25, "frames": frames})
    assert detect_format(path) == "mediapipe"
    seq = read(path)
    assert (seq.layout, seq.num_frames, len(seq), seq.fps) == ("coco17", 5, 4, 25.0)
    np.testing.assert_array_equal(seq.people_per_frame(), [1, 1, 0, 1, 1])
    for j, name in enumerate(COCO.joints):
        lm = frames[0][MP.index(name)]
        np.testing.assert_allclose(seq.keypoints[0, j], [lm["x"] * W, lm["y"] * H])
        assert seq.scores[0, j] == lm["visibility"]
    seq33 = read(path, layout="mediapipe33")
    assert seq33.layout == "mediapipe33" and seq33.num_joints == 33


def test_identity_round_trip_is_exact(tmp_path):
    doc = {"image_width": W, "image_height": H, "frames": [_pose(t) for t in range(4)]}
    path = _write(tmp_path, doc)
    write(read(path), tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text()) == doc


def test_refined_coco_joints_move_and_the_rest_follow_their_ancestor(tmp_path):
    doc = {"image_width": W, "image_height": H, "frames": [_pose(t) for t in range(6)]}
    path = _write(tmp_path, doc)
    refine_file(path, tmp_path / "out.json", refiner=_offset_refiner(12.8, -7.2))
    out = json.loads((tmp_path / "out.json").read_text())
    for f_in, f_out in zip(doc["frames"], out["frames"], strict=True):
        for k, (a, b) in enumerate(zip(f_in, f_out, strict=True)):
            # every landmark, mapped or not, moves by the same 12.8 px, -7.2 px here
            np.testing.assert_allclose([b["x"], b["y"]], [a["x"] + 0.01, a["y"] - 0.01], atol=2e-6)
            assert b["z"] == a["z"] and b["visibility"] == a["visibility"]


def test_unmapped_landmarks_follow_their_own_ancestor(tmp_path):
    doc = {"image_width": W, "image_height": H, "frames": [_pose(t) for t in range(3)]}
    path = _write(tmp_path, doc)
    wrist = COCO.index("left_wrist")

    def move_left_wrist(kp, **kw):
        out = fill_missing(kp, missing_mask(kp, kw["confidence"]))
        out[:, wrist] += [64.0, 0.0]  # 0.05 of the width
        return out

    refine_file(path, tmp_path / "out.json", refiner=move_left_wrist)
    out = json.loads((tmp_path / "out.json").read_text())
    moved = {"left_wrist", "left_pinky", "left_index", "left_thumb"}
    for k, name in enumerate(MP.joints):
        dx = out["frames"][1][k]["x"] - doc["frames"][1][k]["x"]
        assert dx == pytest.approx(0.05 if name in moved else 0.0, abs=2e-6), name


def test_tasks_api_multi_pose_frames_and_fill(tmp_path):
    a = [_pose(t, 0.2, 0) for t in range(6)]
    b = [_pose(t, 0.7, 1) for t in range(6)]
    frames = []
    for t in range(6):
        poses = [a[t]] + ([] if t in (2, 3) else [b[t]])
        frames.append({"timestamp_ms": 40 * t, "pose_landmarks": poses[::-1] if t % 2 else poses})
    path = _write(tmp_path, {"frames": frames})
    seq = read(path, image_size=(W, H))
    assert len(seq) == 10 and seq.num_frames == 6
    summary = refine_file(
        path, tmp_path / "out.json", image_size=(W, H), refiner=_offset_refiner(0, 0), fill_gaps=True
    )
    assert summary.tracks == 2 and summary.added_detections == 2
    out = json.loads((tmp_path / "out.json").read_text())
    assert [len(f["pose_landmarks"]) for f in out["frames"]] == [2] * 6
    assert out["frames"][3]["timestamp_ms"] == 120
    added = out["frames"][2]["pose_landmarks"][1]
    assert len(added) == 33 and all(lm["visibility"] == 0.3 for lm in added)
    # b's track filled linearly between frames 1 and 4: x of its nose at frame 2 is 1/3 of the way
    nose = MP.index("nose")
    expect = b[1][nose]["x"] + (b[4][nose]["x"] - b[1][nose]["x"]) / 3
    assert added[nose]["x"] == pytest.approx(expect, abs=2e-6)


def test_legacy_message_to_dict_poses(tmp_path):
    frames = [{"landmark": _pose(t)} for t in range(3)] + [{}]
    frames[3] = None
    path = _write(tmp_path, {"width": W, "height": H, "frames": frames})
    seq = read(path)
    assert len(seq) == 3
    refine_file(path, tmp_path / "out.json", refiner=_offset_refiner(0, 0), fill_gaps=True)
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["frames"][3] is None  # after the last detection: nothing to fill
    assert set(out["frames"][0]) == {"landmark"}


def test_image_size_is_required_and_checked(tmp_path):
    path = _write(tmp_path, [_pose(0), _pose(1)])
    with pytest.raises(FormatError, match=r"pass image_size=\(width, height\) \(--image-size W H\)"):
        read(path)
    assert read(path, image_size=(W, H)).num_frames == 2
    path = _write(tmp_path, {"image_width": W, "image_height": H, "frames": [_pose(0)]})
    with pytest.raises(FormatError, match="1280x720 but image_size=640x480"):
        read(path, image_size=(640, 480))
    path = _write(tmp_path, {"image_width": 0, "image_height": H, "frames": [_pose(0)]})
    with pytest.raises(FormatError, match="must be positive"):
        read(path)


@pytest.mark.parametrize(
    "frames, match",
    [
        ([_pose(0)[:20]], "expected 33 pose landmarks, got 20"),
        ([_pose(0), {"foo": 1}], r"frame \[1\]: expected null, a pose"),
        ([[{"x": "a", "y": 1}] * 33], "must be numbers"),
        ([None, []], "no pose in any"),
    ],
)
def test_bad_frames(tmp_path, frames, match):
    path = _write(tmp_path, {"image_width": W, "image_height": H, "frames": frames})
    with pytest.raises(FormatError, match=match):
        read(path, "mediapipe")


def test_truncated_file(tmp_path):
    path = _write(tmp_path, {"image_width": W, "image_height": H, "frames": [_pose(0)]})
    path.write_text(path.read_text()[:-40])
    with pytest.raises(FormatError, match=r"landmarks\.json: line 1 column \d+: invalid JSON"):
        read(path)
