"""COCO-style keypoint results (ViTPose, MMPose, RTMPose, Detectron2): read, write back, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hanet_refine.io import FormatError, detect_format, read, read_coco, refine_file, write
from hanet_refine.missing import fill_missing, missing_mask

J = 17


def _walker(x0: float, frames: int, seed: int) -> np.ndarray:
    """(T, 17, 3) x, y, score of a person walking right."""
    rng = np.random.default_rng(seed)
    base = np.stack([x0 + rng.uniform(0, 60, J), 80 + np.linspace(0, 180, J)], axis=1)
    xy = base + np.arange(frames)[:, None, None] * [4.0, 0.0] + rng.normal(0, 1, (frames, J, 2))
    return np.round(np.concatenate([xy, rng.uniform(0.5, 0.95, (frames, J, 1))], axis=2), 3)


def _entry(image_id, kp: np.ndarray, **extra) -> dict:
    ok = kp[:, 2] > 0
    x0, y0 = kp[ok, :2].min(axis=0)
    x1, y1 = kp[ok, :2].max(axis=0)
    return {
        "image_id": image_id,
        "category_id": 1,
        "keypoints": kp.ravel().tolist(),
        "score": 0.875,
        "bbox": [float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
        **extra,
    }


def _results(tmp_path: Path, *, ids=lambda t: 100 + t, track_ids: bool = False) -> tuple[Path, list[dict]]:
    """10 frames: A throughout, B gone in frames 4-5, nobody in frame 7, entries interleaved."""
    a, b = _walker(100, 10, 0), _walker(600, 10, 1)
    a[3, 9] = 0.0  # a joint written as 0, 0, 0
    doc = []
    for t in range(10):
        if t == 7:
            continue
        people = [(0, a[t])] + ([] if t in (4, 5) else [(1, b[t])])
        for k, kp in people[::-1] if t % 2 else people:
            doc.append(_entry(ids(t), kp, **({"track_id": 10 + k} if track_ids else {})))
    path = tmp_path / "results.json"
    path.write_text(json.dumps(doc))
    return path, doc


def _offset_refiner(offset: float):
    def refine(kp, *, kind, layout, confidence, fps, weights, device):
        return fill_missing(kp, missing_mask(kp, confidence, zero_is_missing=True)) + offset

    return refine


def test_read_integer_image_ids_are_frame_numbers(tmp_path):
    path, doc = _results(tmp_path)
    assert detect_format(path) == "coco"
    seq = read(path)
    assert (seq.format, seq.layout, seq.kind) == ("coco", "coco17", "2d")
    assert seq.num_frames == 10  # frame 7 had nobody and still counts
    np.testing.assert_array_equal(seq.people_per_frame(), [2, 2, 2, 2, 1, 1, 2, 0, 2, 2])
    np.testing.assert_allclose(seq.keypoints[0], np.array(doc[0]["keypoints"]).reshape(J, 3)[:, :2])
    assert np.isnan(seq.keypoints[(seq.frame == 3)][:, 9]).any()  # 0, 0, 0 -> absent
    assert not seq.has_track_ids


def test_string_image_ids_are_frames_in_natural_order(tmp_path):
    path, _doc = _results(tmp_path, ids=lambda t: f"frame_{t}.jpg")
    seq = read(path)
    assert seq.num_frames == 9  # frame 7 had nobody and is unknown
    assert seq.frame_names[:3] == ("frame_0.jpg", "frame_1.jpg", "frame_2.jpg")
    assert seq.frame_names[-1] == "frame_9.jpg"
    assert seq.frame[-1] == 8


def test_track_ids_from_the_file_are_used(tmp_path):
    path, _ = _results(tmp_path, track_ids=True)
    seq = read(path)
    assert seq.has_track_ids and set(seq.track_id.tolist()) == {10, 11}
    summary = refine_file(path, tmp_path / "out.json", refiner=_offset_refiner(0.0))
    assert summary.tracks == 2 and not summary.linked


def test_identity_round_trip_is_exact(tmp_path):
    path, doc = _results(tmp_path)
    write(read(path), tmp_path / "out.json")
    assert json.loads((tmp_path / "out.json").read_text()) == doc


def test_refined_output_changes_only_keypoint_xy(tmp_path):
    path, doc = _results(tmp_path)
    summary = refine_file(path, tmp_path / "out.json", refiner=_offset_refiner(-2.0))
    assert summary.linked and summary.tracks == 2
    out = json.loads((tmp_path / "out.json").read_text())
    assert len(out) == len(doc)
    for e_in, e_out in zip(doc, out, strict=True):
        assert {k: v for k, v in e_in.items() if k != "keypoints"} == {
            k: v for k, v in e_out.items() if k != "keypoints"
        }
        kin, kout = np.array(e_in["keypoints"]).reshape(J, 3), np.array(e_out["keypoints"]).reshape(J, 3)
        np.testing.assert_array_equal(kout[:, 2], kin[:, 2])
        zero = (kin == 0).all(axis=1)
        np.testing.assert_array_equal(kout[zero], kin[zero])
        np.testing.assert_allclose(kout[~zero, :2], kin[~zero, :2] - 2.0, atol=1e-3)


def test_fill_gaps_inserts_entries_after_their_frame(tmp_path):
    path, doc = _results(tmp_path, track_ids=True)
    summary = refine_file(
        path, tmp_path / "out.json", refiner=_offset_refiner(0.0), fill_gaps=True, fill_score=0.3
    )
    assert summary.added_detections == 4  # B in frames 4, 5, 7; A in frame 7
    out = json.loads((tmp_path / "out.json").read_text())
    assert len(out) == len(doc) + 4
    image_ids = [e["image_id"] for e in out]
    assert image_ids == sorted(image_ids)  # entries stay grouped by frame
    added = [e for e in out if e["score"] == 0.3]
    assert sorted((e["image_id"], e["track_id"]) for e in added) == [
        (104, 11),
        (105, 11),
        (107, 10),
        (107, 11),
    ]
    e = added[0]
    kp = np.array(e["keypoints"]).reshape(J, 3)
    assert (kp[:, 2] == 0.3).all() and e["category_id"] == 1
    x, y, w, h = e["bbox"]  # a box around the filled keypoints
    np.testing.assert_allclose([x, y, x + w, y + h], [*kp[:, :2].min(0), *kp[:, :2].max(0)], atol=1e-3)


def test_halpe26_and_unknown_counts(tmp_path):
    path = tmp_path / "h.json"
    path.write_text(
        json.dumps([{"image_id": 0, "category_id": 1, "keypoints": [1.0, 2.0, 0.9] * 26, "score": 1}])
    )
    assert read(path).layout == "halpe26"
    path.write_text(
        json.dumps([{"image_id": 0, "category_id": 1, "keypoints": [1.0, 2.0, 0.9] * 133, "score": 1}])
    )
    with pytest.raises(
        FormatError, match="133 keypoints per person is not a known 2D layout.*coco17 \\(17\\)"
    ):
        read(path)


@pytest.mark.parametrize(
    "doc, match",
    [
        (
            [{"image_id": 0, "keypoints": [1, 2, 1] * 17}, {"image_id": 1, "keypoints": [1, 2, 1] * 26}],
            r"entry \[1\] has 26 keypoints but entry \[0\] has 17.*mixes",
        ),
        ([{"image_id": 0}], r'entry \[0\] needs "image_id" and "keypoints"'),
        ([{"image_id": 0, "keypoints": [1, 2]}], "expected x, y, v for each keypoint"),
        ([{"image_id": 0, "keypoints": [None, "x", 1] * 17}], "expected a list of numbers"),
        ({"images": [], "annotations": []}, "COCO annotation file"),
    ],
)
def test_bad_documents(tmp_path, doc, match):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=match):
        read(path, "coco")


def test_truncated_file_names_position(tmp_path):
    path, _ = _results(tmp_path)
    text = path.read_text()
    path.write_text(text[:-7])
    with pytest.raises(FormatError, match=r"results\.json: line 1 column \d+: invalid JSON"):
        read(path)


def test_unknown_and_empty_json(tmp_path):
    path = tmp_path / "what.json"
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(FormatError, match="cannot tell the format.*openpose, coco, mmpose, mediapipe, npy"):
        read(path)
    path.write_text("[]")
    with pytest.raises(FormatError, match="empty list"):
        read(path)
    with pytest.raises(ValueError, match="unknown format 'vitpose'; known formats: openpose, coco"):
        read(path, "vitpose")
    with pytest.raises(ValueError, match="image_size .* only applies to MediaPipe"):
        read(_results(tmp_path)[0], image_size=(640, 480))


def test_sequence_of_one_format_cannot_be_written_as_another(tmp_path):
    from hanet_refine.io.openpose import encode_openpose

    path, _ = _results(tmp_path)
    with pytest.raises(ValueError, match="read as 'coco', not 'openpose'"):
        encode_openpose(read_coco(path))


def test_existing_output_is_refused(tmp_path):
    path, doc = _results(tmp_path)
    (tmp_path / "out.json").write_text("precious")
    with pytest.raises(FileExistsError, match="file exists"):
        refine_file(path, tmp_path / "out.json", refiner=_offset_refiner(0.0))
    assert (tmp_path / "out.json").read_text() == "precious"
    refine_file(path, tmp_path / "out.json", refiner=_offset_refiner(0.0), overwrite=True)
    assert len(json.loads((tmp_path / "out.json").read_text())) == len(doc) == 16
