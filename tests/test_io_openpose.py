"""OpenPose --write_json folders: reading, writing back, tracking people, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hanet_refine.io import FormatError, detect_format, read, read_openpose, refine_file, write
from hanet_refine.missing import fill_missing, missing_mask

J = 25


def _walker(x0: float, frames: int, seed: int) -> np.ndarray:
    """(T, 25, 3) x, y, c of a person walking right with a pixel of jitter."""
    rng = np.random.default_rng(seed)
    base = np.stack([x0 + rng.uniform(0, 60, J), 80 + np.linspace(0, 180, J)], axis=1)
    xy = base + np.arange(frames)[:, None, None] * [4.0, 0.5] + rng.normal(0, 1, (frames, J, 2))
    conf = rng.uniform(0.5, 0.95, (frames, J, 1))
    return np.round(np.concatenate([xy, conf], axis=2), 3)


def _person(kp: np.ndarray, pid: int = -1) -> dict:
    return {
        "person_id": [pid],
        "pose_keypoints_2d": kp.ravel().tolist(),
        "face_keypoints_2d": [10.5, 20.25, 0.5] * 3,
        "hand_left_keypoints_2d": [],
        "hand_right_keypoints_2d": [1.0, 2.0, 0.125],
        "pose_keypoints_3d": [],
        "face_keypoints_3d": [],
    }


def _write_folder(folder: Path, per_frame: list[list[np.ndarray]], prefix: str = "clip") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for t, people in enumerate(per_frame):
        doc = {"version": 1.3, "people": [_person(p) for p in people]}
        (folder / f"{prefix}_{t:012d}_keypoints.json").write_text(json.dumps(doc))
    return folder


def _scene(tmp_path: Path) -> tuple[Path, list[list[np.ndarray]]]:
    """12 frames: A throughout; B leaves in frames 5-7 and returns; frame 9 is empty;
    order in the file alternates; some joints are 0, 0, 0."""
    a, b = _walker(100, 12, 0), _walker(600, 12, 1)
    a[:, 4] = 0.0  # right wrist never found
    b[2, 10:13] = 0.0
    per_frame = []
    for t in range(12):
        people = [] if t == 9 else [a[t]] + ([] if t in (5, 6, 7) else [b[t]])
        per_frame.append(people[::-1] if t % 2 else people)
    return _write_folder(tmp_path / "in", per_frame), per_frame


def _offset_refiner(offset: float):
    """A stand-in refiner: fills what is missing, then moves every point by ``offset``."""

    def refine(kp, *, kind, layout, confidence, fps, weights, device):
        assert kind == "2d" and layout == "body25" and kp.ndim == 3
        return fill_missing(kp, missing_mask(kp, confidence, zero_is_missing=True)) + offset

    return refine


def _load(folder: Path) -> dict[str, dict]:
    return {f.name: json.loads(f.read_text()) for f in sorted(folder.glob("*.json"))}


def test_read_people_frames_and_zeros(tmp_path):
    folder, per_frame = _scene(tmp_path)
    assert detect_format(folder) == "openpose"
    seq = read_openpose(folder)
    assert (seq.layout, seq.kind, seq.format, seq.num_frames) == ("body25", "2d", "openpose", 12)
    assert len(seq) == sum(map(len, per_frame)) == 19
    np.testing.assert_array_equal(seq.people_per_frame(), [len(p) for p in per_frame])
    first = per_frame[0][0]
    np.testing.assert_allclose(seq.keypoints[0, :4], first[:4, :2])
    is_a = seq.keypoints[:, 0, 0] < 400
    assert is_a.sum() == 11
    assert np.isnan(seq.keypoints[is_a, 4]).all()  # 0, 0, 0 -> absent
    assert (seq.scores[is_a, 4] == 0).all()
    assert np.isfinite(seq.keypoints[~is_a, 4]).all()
    np.testing.assert_allclose(seq.scores[0, :4], first[:4, 2])
    assert (seq.track_id == -1).all()  # person_id -1: no ids
    assert seq.frame_names[0] == "clip_000000000000_keypoints.json"


def test_frames_are_in_natural_order(tmp_path):
    folder = tmp_path / "nat"
    folder.mkdir()
    pose = _walker(0, 11, 0)
    for t in range(11):  # unpadded numbers: 10 must come after 9
        doc = {"version": 1.3, "people": [_person(pose[t])]}
        (folder / f"v_{t}_keypoints.json").write_text(json.dumps(doc))
    seq = read(folder)
    np.testing.assert_allclose(seq.keypoints[:, 0], pose[:, 0, :2])


def test_coco18_model_and_explicit_layout(tmp_path):
    kp = _walker(0, 3, 0)[:, :18]
    folder = _write_folder(tmp_path / "c18", [[k] for k in kp])
    assert read(folder).layout == "openpose18"
    with pytest.raises(FormatError, match="18 keypoints per person, but layout 'body25' has 25"):
        read(folder, layout="body25")


def test_identity_round_trip_is_exact(tmp_path):
    folder, _ = _scene(tmp_path)
    seq = read(folder)
    write(seq, tmp_path / "out")
    assert _load(tmp_path / "out") == _load(folder)


def test_refined_output_changes_only_body_xy(tmp_path):
    folder, _per_frame = _scene(tmp_path)
    summary = refine_file(folder, tmp_path / "out", refiner=_offset_refiner(1.5))
    assert summary.tracks == 2 and summary.linked and summary.added_detections == 0
    src, out = _load(folder), _load(tmp_path / "out")
    assert list(src) == list(out)  # same files
    for name in src:
        assert len(src[name]["people"]) == len(out[name]["people"])  # nobody invented
        assert src[name]["version"] == out[name]["version"]
        for p_in, p_out in zip(src[name]["people"], out[name]["people"], strict=True):
            assert {k: v for k, v in p_in.items() if k != "pose_keypoints_2d"} == {
                k: v for k, v in p_out.items() if k != "pose_keypoints_2d"
            }
            kin = np.array(p_in["pose_keypoints_2d"]).reshape(J, 3)
            kout = np.array(p_out["pose_keypoints_2d"]).reshape(J, 3)
            np.testing.assert_array_equal(kout[:, 2], kin[:, 2])  # confidences untouched
            zero = (kin[:, :2] == 0).all(axis=1)
            np.testing.assert_array_equal(kout[zero], kin[zero])  # 0, 0, 0 stays
            np.testing.assert_allclose(kout[~zero, :2], kin[~zero, :2] + 1.5, atol=1e-3)


def test_fill_gaps_adds_the_returning_person_and_missing_joints(tmp_path):
    folder, per_frame = _scene(tmp_path)
    summary = refine_file(
        folder, tmp_path / "out", refiner=_offset_refiner(0.0), fill_gaps=True, fill_score=0.2
    )
    assert summary.added_detections == 5  # B in frames 5, 6, 7; A and B in the empty frame 9
    out = _load(tmp_path / "out")
    counts = [len(doc["people"]) for doc in out.values()]
    assert counts == [2] * 12
    added = out["clip_000000000006_keypoints.json"]["people"][1]
    assert (
        added["person_id"] == [-1]
        and added["face_keypoints_2d"] == []
        and added["hand_left_keypoints_2d"] == []
    )
    kp = np.array(added["pose_keypoints_2d"]).reshape(J, 3)
    assert (kp[:, 2] == 0.2).all()
    # A linear fill between frames 4 and 8 of B (the stand-in refiner adds nothing).
    b4 = np.array(next(p for p in per_frame[4] if p[0, 0] > 400))
    b8 = np.array(next(p for p in per_frame[8] if p[0, 0] > 400))
    np.testing.assert_allclose(kp[0, :2], (b4[0, :2] * 2 + b8[0, :2] * 2) / 4, atol=1e-3)
    # The never-found wrist is written now, with the fill score.
    first = np.array(out["clip_000000000000_keypoints.json"]["people"][0]["pose_keypoints_2d"]).reshape(J, 3)
    assert first[4, 2] == 0.2 and (first[4, :2] != 0).all()


def test_track_ids_can_be_written_and_are_read_back(tmp_path):
    folder, _ = _scene(tmp_path)
    refine_file(folder, tmp_path / "out", refiner=_offset_refiner(0.0), write_track_ids=True)
    seq = read(tmp_path / "out")
    assert seq.has_track_ids
    # the left person (A, x ~ 100) is track 0 in every frame
    left = seq.keypoints[:, 0, 0] < 400
    assert (seq.track_id[left] == 0).all() and (seq.track_id[~left] == 1).all()


def test_truncated_json_names_file_line_and_column(tmp_path):
    folder, _ = _scene(tmp_path)
    bad = folder / "clip_000000000003_keypoints.json"
    text = bad.read_text()
    bad.write_text(text[: len(text) // 2])
    with pytest.raises(
        FormatError, match=r"clip_000000000003_keypoints\.json: line 1 column \d+: invalid JSON.*truncated"
    ):
        read(folder)


def test_mixed_body_models_are_an_error(tmp_path):
    folder = _write_folder(tmp_path / "mix", [[_walker(0, 1, 0)[0]]])
    doc = {"version": 1.3, "people": [_person(_walker(0, 1, 0)[0, :18])]}
    (folder / "clip_000000000001_keypoints.json").write_text(json.dumps(doc))
    with pytest.raises(
        FormatError, match=r"18 keypoints per person \(COCO-18\).*25 \(BODY_25\).*mixes body models"
    ):
        read(folder)


@pytest.mark.parametrize(
    "doc, match",
    [
        ({"version": 1.3}, 'expected an object with a "people" list'),
        ({"people": [{"person_id": [-1]}]}, r'people\[0\] has no "pose_keypoints_2d"'),
        ({"people": [{"pose_keypoints_2d": [1, 2]}]}, "expected x, y, c for each keypoint, got 2 numbers"),
        ({"people": [{"pose_keypoints_2d": []}]}, "without the body model"),
        ({"people": [{"pose_keypoints_2d": ["a", 1, 1]}]}, "expected a list of numbers"),
        ({"people": []}, "no person in any"),
    ],
)
def test_bad_documents(tmp_path, doc, match):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x_000_keypoints.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=match):
        read_openpose(folder)


def test_missing_empty_and_file_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such"):
        read_openpose(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match=r"no \*_keypoints.json files"):
        read_openpose(tmp_path / "empty")
    folder, _ = _scene(tmp_path)
    one = next(folder.iterdir())
    with pytest.raises(FormatError, match="pass the folder"):
        read(one)


def test_output_rules_and_no_partial_write(tmp_path, monkeypatch):
    folder, _ = _scene(tmp_path)
    with pytest.raises(FileExistsError, match="output is the input"):
        refine_file(folder, folder, refiner=_offset_refiner(0.0))
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        refine_file(folder, tmp_path / "taken", refiner=_offset_refiner(0.0))
    assert [p.name for p in (tmp_path / "taken").iterdir()] == ["x.txt"]

    def failing(*args, **kwargs):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        refine_file(folder, tmp_path / "out", refiner=failing)
    assert not (tmp_path / "out").exists()

    # A failure while writing the folder leaves neither the folder nor a temporary one.
    calls = {"n": 0}
    real = Path.write_bytes

    def flaky(self, data):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", flaky)
    with pytest.raises(OSError, match="disk full"):
        refine_file(folder, tmp_path / "out", refiner=_offset_refiner(0.0))
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "taken"]


def test_overwrite_in_place(tmp_path):
    folder, _ = _scene(tmp_path)
    before = _load(folder)
    refine_file(folder, folder, refiner=_offset_refiner(2.0), overwrite=True)
    after = _load(folder)
    assert list(after) == list(before)
    a0 = np.array(before["clip_000000000000_keypoints.json"]["people"][0]["pose_keypoints_2d"]).reshape(J, 3)
    b0 = np.array(after["clip_000000000000_keypoints.json"]["people"][0]["pose_keypoints_2d"]).reshape(J, 3)
    np.testing.assert_allclose(b0[0, :2], a0[0, :2] + 2.0, atol=1e-3)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_person_with_no_usable_keypoint_is_left_as_written(tmp_path):
    a = _walker(100, 4, 0)
    ghost = np.zeros((J, 3))
    ghost[0] = [900.0, 50.0, 0.05]  # one joint, far below the confidence threshold
    folder = _write_folder(tmp_path / "in", [[a[0]], [a[1], ghost], [a[2]], [a[3]]])
    summary = refine_file(folder, tmp_path / "out", refiner=_offset_refiner(1.0))
    assert summary.skipped_tracks == 1 and summary.tracks == 2
    out = _load(tmp_path / "out")["clip_000000000001_keypoints.json"]["people"][1]["pose_keypoints_2d"]
    assert out == ghost.ravel().tolist()
