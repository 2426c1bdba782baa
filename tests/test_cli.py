"""The hanet-refine command line, end to end with a tiny random model."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hanet_refine import cli

J = 25


def _walker(x0: float, frames: int, seed: int, joints: int = J) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.stack([x0 + rng.uniform(0, 60, joints), 80 + np.linspace(0, 180, joints)], axis=1)
    xy = base + np.arange(frames)[:, None, None] * [4.0, 0.0] + rng.normal(0, 1.5, (frames, joints, 2))
    return np.round(np.concatenate([xy, rng.uniform(0.5, 0.95, (frames, joints, 1))], axis=2), 3)


def _openpose(folder: Path, frames: int = 16) -> Path:
    """Two people, one leaving for frames 6-8, a 0, 0, 0 joint, an empty frame."""
    folder.mkdir(parents=True)
    a, b = _walker(100, frames, 0), _walker(600, frames, 1)
    a[:, 7] = 0.0
    for t in range(frames):
        people = [] if t == 11 else [a[t]] + ([] if 6 <= t <= 8 else [b[t]])
        doc = {
            "version": 1.3,
            "people": [
                {
                    "person_id": [-1],
                    "pose_keypoints_2d": p.ravel().tolist(),
                    "face_keypoints_2d": [],
                    "hand_left_keypoints_2d": [],
                    "hand_right_keypoints_2d": [],
                }
                for p in (people[::-1] if t % 2 else people)
            ],
        }
        (folder / f"vid_{t:012d}_keypoints.json").write_text(json.dumps(doc))
    return folder


def _coco(path: Path, frames: int = 12) -> Path:
    a = _walker(100, frames, 2, joints=17)
    path.write_text(
        json.dumps(
            [
                {"image_id": t, "category_id": 1, "keypoints": a[t].ravel().tolist(), "score": 0.9}
                for t in range(frames)
            ]
        )
    )
    return path


def _text(path: Path, content: str) -> Path:
    path.write_text(content)
    return path


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _load(folder: Path) -> dict[str, dict]:
    return {f.name: json.loads(f.read_text()) for f in sorted(folder.glob("*.json"))}


def test_openpose_folder_end_to_end(tmp_path, tiny_weights, capsys):
    src = _openpose(tmp_path / "json")
    weights = tiny_weights(layout="body25")
    code, out, err = _run([src, "-o", tmp_path / "out", "--weights", weights], capsys)
    assert code == 0, err
    assert err == ""
    assert out.startswith(
        "refined 2 tracks (linked by the tracker) of 27 detections in 16 frames (openpose, body25)"
    )
    before, after = _load(src), _load(tmp_path / "out")
    assert list(before) == list(after)
    changed = 0
    for name in before:
        assert len(before[name]["people"]) == len(after[name]["people"])
        for p_in, p_out in zip(before[name]["people"], after[name]["people"], strict=True):
            kin = np.array(p_in["pose_keypoints_2d"]).reshape(J, 3)
            kout = np.array(p_out["pose_keypoints_2d"]).reshape(J, 3)
            assert np.isfinite(kout).all()
            np.testing.assert_array_equal(kout[:, 2], kin[:, 2])
            if kin[0, 0] < 400:  # person A: joint 7 missing everywhere, and not invented
                np.testing.assert_array_equal(kout[7], [0, 0, 0])
            changed += int((kout[:, :2] != kin[:, :2]).any())
            assert {k: v for k, v in p_in.items() if k != "pose_keypoints_2d"} == {
                k: v for k, v in p_out.items() if k != "pose_keypoints_2d"
            }
    assert changed == 27  # a random model moves every person

    # --fill-gaps writes the person who left, and the empty frame
    code, out, _ = _run([src, "-o", tmp_path / "filled", "--weights", weights, "--fill-gaps", "-q"], capsys)
    assert code == 0 and out == ""
    counts = [len(doc["people"]) for doc in _load(tmp_path / "filled").values()]
    assert counts == [2] * 16


def test_coco_results_and_options(tmp_path, tiny_weights, capsys):
    src = _coco(tmp_path / "res.json")
    out_path = tmp_path / "out.json"
    code, _out, err = _run(
        [
            src,
            "-o",
            out_path,
            "--weights",
            tiny_weights(),
            "--fps",
            "25",
            "--format",
            "coco",
            "--write-track-ids",
        ],
        capsys,
    )
    assert code == 0, err
    result = json.loads(out_path.read_text())
    assert [e["track_id"] for e in result] == [0] * 12
    assert [e["score"] for e in result] == [0.9] * 12


def test_refuses_to_overwrite_input_or_output(tmp_path, tiny_weights, capsys):
    src = _coco(tmp_path / "res.json")
    original = src.read_text()
    code, _, err = _run([src, "-o", src, "--weights", tiny_weights()], capsys)
    assert code == 2 and err.startswith("hanet-refine: error: ") and "output is the input" in err
    assert err.count("\n") == 1 and src.read_text() == original
    (tmp_path / "out.json").write_text("x")
    code, _, err = _run([src, "-o", tmp_path / "out.json", "--weights", tiny_weights()], capsys)
    assert code == 2 and "file exists" in err and (tmp_path / "out.json").read_text() == "x"
    code, _, err = _run(
        [src, "-o", tmp_path / "out.json", "--weights", tiny_weights(), "--overwrite", "-q"], capsys
    )
    assert code == 0, err
    assert len(json.loads((tmp_path / "out.json").read_text())) == 12


@pytest.mark.parametrize(
    "make, extra, message",
    [
        (lambda p: p / "missing.json", [], r"missing\.json: no such file"),
        (
            lambda p: _text(p / "t.json", '[{"image_id": 0, "keypoints": [1, 2'),
            [],
            r"t\.json: line 1 column \d+: invalid JSON",
        ),
        (lambda p: _text(p / "a.txt", "hi"), [], r"cannot tell the format .*openpose, coco"),
        (
            lambda p: _coco(p / "r.json"),
            ["--layout", "body25"],
            "17 keypoints per person, but layout 'body25'",
        ),
        (lambda p: _coco(p / "r.json"), ["--image-size", "640", "480"], "only applies to MediaPipe"),
        (lambda p: _coco(p / "r.json"), ["--fps", "-3"], "fps must be > 0"),
        (lambda p: _coco(p / "r.json"), ["--weights", "/nonexistent/weights"], "nonexistent"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, make, extra, message):
    src = make(tmp_path)
    code, out, err = _run([src, "-o", tmp_path / "out.json", *extra], capsys)
    assert code == 2
    assert out == ""
    assert err.startswith("hanet-refine: error: ") and err.count("\n") == 1
    assert re.search(message, err), err
    assert not (tmp_path / "out.json").exists()


def test_usage_errors_exit_2(capsys, tmp_path):
    code, _, err = _run([tmp_path], capsys)  # no -o
    assert code == 2 and err.startswith(
        "hanet-refine: error: the following arguments are required: -o/--output"
    )
    assert err.count("\n") == 1
    code, _, err = _run([tmp_path, "-o", "x", "--format", "vitpose"], capsys)
    assert code == 2 and "invalid choice: 'vitpose'" in err and "'openpose'" in err
    assert _run(["--help"], capsys)[0] == 0
    code, out, _ = _run(["--version"], capsys)
    assert code == 0 and out.startswith("hanet-refine ")


def test_other_failures_exit_1(tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the model\nexploded")

    monkeypatch.setattr("hanet_refine.io.refine_file", broken)
    code, _, err = _run([_coco(tmp_path / "r.json"), "-o", tmp_path / "o.json"], capsys)
    assert code == 1
    assert (
        err == "hanet-refine: error: RuntimeError: the model exploded (rerun with --traceback for details)\n"
    )


def test_warnings_are_one_line(tmp_path, tiny_weights, capsys):
    src = tmp_path / "dup.json"
    a = _walker(100, 3, 0, joints=17)
    src.write_text(
        json.dumps(
            [
                {
                    "image_id": t // 2,
                    "category_id": 1,
                    "keypoints": a[t // 2].ravel().tolist(),
                    "score": 0.9,
                    "track_id": 0,
                }
                for t in range(6)
            ]
        )
    )  # id 0 twice per frame
    code, _, err = _run([src, "-o", tmp_path / "o.json", "--weights", tiny_weights(), "-q"], capsys)
    assert code == 0
    assert (
        err.startswith("hanet-refine: warning: ") and "repeat within a frame" in err and err.count("\n") == 1
    )


def test_subprocess_entry_point(tmp_path, tiny_weights):
    src = _openpose(tmp_path / "json", frames=6)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hanet_refine.cli",
            str(src),
            "-o",
            str(tmp_path / "out"),
            "--weights",
            str(tiny_weights(layout="body25")),
        ],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "refined 2 tracks" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in src.iterdir())


def test_3d_array_in_camera_coordinates(tmp_path, tiny_weights, capsys):
    from test_up_axis import person

    from hanet_refine import refine
    from hanet_refine.up_axis import up_rotation

    weights = tiny_weights("3d", "h36m17")
    camera = person() @ up_rotation("-y")  # y down, as lifters write it
    src = tmp_path / "poses.npy"
    np.save(src, camera)
    expected = refine(camera, "3d", weights=weights, up="-y")
    for extra in ([], ["--up=-y"]):  # read from the data, or said (a value starting with - needs the =)
        out = tmp_path / f"out{len(extra)}.npy"
        code, _out, err = _run([src, "-o", out, "--kind", "3d", "--weights", weights, *extra], capsys)
        assert code == 0, err
        np.testing.assert_allclose(np.load(out), expected, atol=1e-9)
    code, _out, err = _run([src, "-o", tmp_path / "x.npy", "--kind", "3d", "--up", "y"], capsys)
    assert code == 2 and "--up" in err
