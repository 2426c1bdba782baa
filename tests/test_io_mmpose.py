"""MMPose predictions (inferencer video JSON, demo instance_info, per-image folders, 3D)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hanet_refine.io import FormatError, detect_format, read, refine_file, write
from hanet_refine.missing import fill_missing, missing_mask

J = 17


def _walker(x0: float, frames: int, seed: int, dim: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = np.stack([x0 + rng.uniform(0, 60, J), 80 + np.linspace(0, 180, J), rng.uniform(-1, 1, J)], axis=1)[
        :, :dim
    ]
    step = np.array([4.0, 0.0, 0.01])[:dim]
    xy = base + np.arange(frames)[:, None, None] * step + rng.normal(0, 1, (frames, J, dim))
    return np.round(xy, 3), np.round(rng.uniform(0.4, 1.0, (frames, J)), 4)


def _instance(kp: np.ndarray, sc: np.ndarray, **extra) -> dict:
    x0, y0 = kp[:, :2].min(0)
    x1, y1 = kp[:, :2].max(0)
    return {
        "keypoints": kp.tolist(),
        "keypoint_scores": sc.tolist(),
        "bbox": [[x0, y0, x1, y1]],
        "bbox_score": 0.97,
        **extra,
    }


def _frames(dim: int = 2, track_ids: bool = False) -> list[list[dict]]:
    """8 frames: A throughout, B missing in frames 3-4, frame 6 empty."""
    (a, sa), (b, sb) = _walker(100, 8, 0, dim), _walker(500, 8, 1, dim)
    frames = []
    for t in range(8):
        people = [] if t == 6 else [(0, a[t], sa[t])] + ([] if t in (3, 4) else [(1, b[t], sb[t])])
        frames.append(
            [
                _instance(kp, sc, **({"track_id": k} if track_ids else {}))
                for k, kp, sc in (people[::-1] if t % 2 else people)
            ]
        )
    return frames


def _offset_refiner(offset: float, kind: str = "2d"):
    def refine(kp, *, kind_=kind, **kw):
        assert kw["kind"] == kind_
        return fill_missing(kp, missing_mask(kp, kw["confidence"], zero_is_missing=kind_ == "2d")) + offset

    return refine


def _check_only_keypoints_moved(inst_in: dict, inst_out: dict, offset: float) -> None:
    assert {k: v for k, v in inst_in.items() if k != "keypoints"} == {
        k: v for k, v in inst_out.items() if k != "keypoints"
    }
    np.testing.assert_allclose(
        np.array(inst_out["keypoints"]), np.array(inst_in["keypoints"]) + offset, atol=1e-3
    )


def test_inferencer_video_file(tmp_path):
    frames = _frames()
    doc = [{"frame_id": t, "instances": inst} for t, inst in enumerate(frames)]
    path = tmp_path / "video.json"
    path.write_text(json.dumps(doc))
    assert detect_format(path) == "mmpose"
    seq = read(path)
    assert (seq.layout, seq.kind, seq.num_frames, len(seq)) == ("coco17", "2d", 8, 12)
    np.testing.assert_array_equal(seq.people_per_frame(), [len(f) for f in frames])
    np.testing.assert_allclose(seq.scores[0], frames[0][0]["keypoint_scores"])

    write(seq, tmp_path / "same.json")
    assert json.loads((tmp_path / "same.json").read_text()) == doc

    refine_file(path, tmp_path / "out.json", refiner=_offset_refiner(1.25))
    out = json.loads((tmp_path / "out.json").read_text())
    assert [len(f["instances"]) for f in out] == [len(f) for f in frames]
    for f_in, f_out in zip(doc, out, strict=True):
        assert f_in["frame_id"] == f_out["frame_id"]
        for i_in, i_out in zip(f_in["instances"], f_out["instances"], strict=True):
            _check_only_keypoints_moved(i_in, i_out, 1.25)


def test_demo_instance_info_with_track_ids_and_fill(tmp_path):
    frames = _frames(track_ids=True)
    doc = {
        "meta_info": {"dataset_name": "coco", "num_keypoints": 17},
        "instance_info": [{"frame_id": t + 1, "instances": inst} for t, inst in enumerate(frames)],
    }
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(doc))
    seq = read(path)
    assert seq.has_track_ids and seq.frame_names[0] == "1"
    summary = refine_file(path, tmp_path / "out.json", refiner=_offset_refiner(0.0), fill_gaps=True)
    assert not summary.linked and summary.added_detections == 4  # B: 3, 4, 6; A: 6
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["meta_info"] == doc["meta_info"]
    assert [len(f["instances"]) for f in out["instance_info"]] == [2] * 8
    added = out["instance_info"][3]["instances"][-1]
    assert added["track_id"] == 1 and len(added["keypoints"]) == J and added["keypoint_scores"] == [0.3] * J
    ((x0, y0, x1, y1),) = added["bbox"]
    kp = np.array(added["keypoints"])
    np.testing.assert_allclose([x0, y0, x1, y1], [*kp.min(0), *kp.max(0)], atol=1e-3)
    assert added["bbox_score"] == 0.3


def test_per_image_folder(tmp_path):
    frames = _frames()
    folder = tmp_path / "preds"
    folder.mkdir()
    for t, inst in enumerate(frames):
        (folder / f"img_{t}.json").write_text(json.dumps(inst))
    assert detect_format(folder) == "mmpose"
    seq = read(folder)
    assert seq.num_frames == 8 and seq.frame_names[-1] == "img_7.json"
    refine_file(folder, tmp_path / "out", refiner=_offset_refiner(-1.0))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in folder.iterdir())
    for t in range(8):
        out = json.loads((tmp_path / "out" / f"img_{t}.json").read_text())
        assert len(out) == len(frames[t])
        for i_in, i_out in zip(frames[t], out, strict=True):
            _check_only_keypoints_moved(json.loads(json.dumps(i_in)), i_out, -1.0)


def test_mmpose_0x_scores_inside_keypoints(tmp_path):
    (a, sa) = _walker(100, 4, 0)
    doc = [
        {"frame_id": t, "instances": [{"keypoints": np.c_[a[t], sa[t]].tolist(), "track_id": 0}]}
        for t in range(4)
    ]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    seq = read(path)
    assert seq.dim == 2 and seq.has_scores
    np.testing.assert_allclose(seq.scores[1], sa[1])
    refine_file(path, tmp_path / "out.json", refiner=_offset_refiner(3.0))
    out = json.loads((tmp_path / "out.json").read_text())
    kp = np.array(out[2]["instances"][0]["keypoints"])
    np.testing.assert_allclose(kp[:, :2], a[2] + 3.0, atol=1e-3)
    np.testing.assert_array_equal(kp[:, 2], sa[2])


def test_3d_keypoints(tmp_path):
    frames = _frames(dim=3, track_ids=True)
    for f in frames:
        for inst in f:
            del inst["bbox"], inst["bbox_score"]
    doc = [{"frame_id": t, "instances": inst} for t, inst in enumerate(frames)]
    path = tmp_path / "pose3d.json"
    path.write_text(json.dumps(doc))
    seq = read(path)
    assert (seq.kind, seq.layout, seq.dim) == ("3d", "h36m17", 3)
    with pytest.raises(FormatError, match="holds 3d keypoints"):
        read(path, kind="2d")
    refine_file(path, tmp_path / "out.json", refiner=_offset_refiner(0.5, kind="3d"))
    out = json.loads((tmp_path / "out.json").read_text())
    for f_in, f_out in zip(doc, out, strict=True):
        for i_in, i_out in zip(f_in["instances"], f_out["instances"], strict=True):
            _check_only_keypoints_moved(i_in, i_out, 0.5)


@pytest.mark.parametrize(
    "doc, match",
    [
        (
            [
                {"frame_id": 0, "instances": [{"keypoints": [[1, 2]] * 17}]},
                {"frame_id": 1, "instances": [{"keypoints": [[1, 2]] * 26}]},
            ],
            r"shape \(26, 2\).*mixes",
        ),
        (
            [{"frame_id": 0, "instances": [{"keypoints": [[1, 2]] * 17, "keypoint_scores": [1] * 16}]}],
            "16 keypoint_scores for 17 keypoints",
        ),
        ([{"frame_id": 0, "instances": None}], r'\[0\] has no "instances" list'),
        ([{"frame_id": 0, "instances": [{"keypoints": [[1, 2, 3, 4]] * 17}]}], "expected a list of"),
        ([{"frame_id": 0, "instances": []}], "no instance in any"),
    ],
)
def test_bad_documents(tmp_path, doc, match):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=match):
        read(path, "mmpose")


def test_truncated_per_image_file_is_named(tmp_path):
    folder = tmp_path / "preds"
    folder.mkdir()
    for t, inst in enumerate(_frames()):
        (folder / f"img_{t}.json").write_text(json.dumps(inst, indent=2))
    text = (folder / "img_5.json").read_text()
    (folder / "img_5.json").write_text(text[:200])
    with pytest.raises(FormatError, match=r"img_5\.json: line \d+ column \d+: invalid JSON"):
        read(folder)
