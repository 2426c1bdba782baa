"""Linking people across frames (hanet_refine.tracking) and Track round trips (io.sequence)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hanet_refine.io import PoseSequence
from hanet_refine.tracking import link_tracks, pose_distance

J = 17


def _pose(x0: float, y0: float = 100.0, height: float = 180.0, seed: int = 0) -> np.ndarray:
    """A (J, 2) standing person whose bounding box is about height/3 x height."""
    rng = np.random.default_rng(seed)
    return np.stack([x0 + rng.uniform(0, height / 3, J), y0 + np.linspace(0, height, J)], axis=1)


def _walk(x0: float, frames: int, speed: float = 3.0, seed: int = 0) -> np.ndarray:
    """(T, J, 2) a person walking right at ``speed`` px/frame with 1 px of jitter."""
    rng = np.random.default_rng(seed + 100)
    base = _pose(x0, seed=seed)
    return base[None] + np.arange(frames)[:, None, None] * [speed, 0.0] + rng.normal(0, 1, (frames, J, 2))


def _flatten(per_frame: list[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    frames = [f for f, people in enumerate(per_frame) for _ in people]
    kps = [p for people in per_frame for p in people]
    return np.array(frames), np.stack(kps)


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two labelings group the items identically (ids may differ)."""
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_two_people_swapping_order_keep_their_ids():
    a, b = _walk(100, 10), _walk(500, 10, seed=1)
    per_frame = [[a[t], b[t]] if t % 2 == 0 else [b[t], a[t]] for t in range(10)]
    frames, kps = _flatten(per_frame)
    ids = link_tracks(frames, kps)
    truth = np.array([(0, 1) if t % 2 == 0 else (1, 0) for t in range(10)]).ravel()
    np.testing.assert_array_equal(ids, truth)  # numbered by first appearance


def test_person_returning_within_max_gap_keeps_the_track_and_beyond_it_gets_a_new_one():
    a, b = _walk(100, 30), _walk(600, 30, seed=1)
    gone = range(10, 15)  # b undetected for 5 frames
    per_frame = [[a[t]] + ([] if t in gone else [b[t]]) for t in range(30)]
    frames, kps = _flatten(per_frame)
    who = np.array([k for t in range(30) for k in ([0] if t in gone else [0, 1])])
    ids = link_tracks(frames, kps, max_gap=5)
    assert _same_partition(ids, who)
    ids = link_tracks(frames, kps, max_gap=4)  # one frame too short: b comes back as someone new
    assert len(np.unique(ids[who == 1])) == 2
    assert len(np.unique(ids[who == 0])) == 1


def test_number_of_people_changes_every_frame():
    people = [_walk(100 + 400 * k, 8, seed=k) for k in range(3)]
    present = [(0,), (0, 1, 2), (1, 2), (), (2, 0), (0, 1, 2), (1,), (0, 1)]
    per_frame = [[people[k][t] for k in ks] for t, ks in enumerate(present)]
    frames, kps = _flatten(per_frame)
    who = np.array([k for ks in present for k in ks])
    ids = link_tracks(frames, kps, max_gap=3)
    assert _same_partition(ids, who)
    assert ids.max() == 2


def test_people_crossing_each_other_do_not_swap():
    # Same body, same height, opposite directions: at the crossing the poses coincide, so only
    # their motion tells who is who.
    t = np.arange(30)[:, None, None]
    rng = np.random.default_rng(7)
    body = _pose(0.0)
    a = body + t * [8.0, 0.0] + rng.normal(0, 1.5, (30, J, 2))
    b = body + (29 - t) * [8.0, 0.0] + rng.normal(0, 1.5, (30, J, 2))
    frames, kps = _flatten([[a[i], b[i]] if i % 3 else [b[i], a[i]] for i in range(30)])
    who = np.array([k for i in range(30) for k in ((0, 1) if i % 3 else (1, 0))])
    assert _same_partition(link_tracks(frames, kps), who)


def test_gate_stops_a_stranger_from_taking_a_lost_track():
    a = _walk(100, 10)
    stranger = _walk(900, 10, seed=5)  # appears far away the frame after a leaves
    per_frame = [[a[t]] for t in range(5)] + [[stranger[t]] for t in range(5, 10)]
    frames, kps = _flatten(per_frame)
    ids = link_tracks(frames, kps)
    np.testing.assert_array_equal(ids, [0] * 5 + [1] * 5)
    # With no gate to speak of, the stranger would continue a's track.
    assert (link_tracks(frames, kps, max_distance=1e6) == 0).all()


def test_partially_visible_people_and_zero_joints_link_on_shared_joints():
    a, b = _walk(100, 6), _walk(500, 6, seed=1)
    a = a.copy()
    a[2:4, :8] = np.nan  # upper body missing in two frames
    b = b.copy()
    b[3, 10:] = 0.0  # OpenPose-style zeros
    per_frame = [[a[t], b[t]] if t % 2 else [b[t], a[t]] for t in range(6)]
    frames, kps = _flatten(per_frame)
    who = np.array([k for t in range(6) for k in ((0, 1) if t % 2 else (1, 0))])
    assert _same_partition(link_tracks(frames, kps), who)


def test_low_scores_are_not_used_for_matching():
    a = _walk(100, 4)
    kps = a.copy()
    kps[2, :] += 1000.0  # frame 2: garbage coordinates...
    scores = np.ones((4, J))
    scores[2, :] = 0.05  # ...with scores saying so: no usable joint, a track of its own
    ids = link_tracks(np.arange(4), kps, scores)
    np.testing.assert_array_equal(ids, [0, 0, 1, 0])


def test_detection_without_any_visible_joint_gets_its_own_track():
    a = _walk(100, 3)
    empty = np.full((J, 2), np.nan)
    frames, kps = _flatten([[a[0]], [empty, a[1]], [a[2]]])
    ids = link_tracks(frames, kps)
    np.testing.assert_array_equal(ids, [0, 1, 0, 0])


def test_unsorted_input_gives_the_same_grouping():
    a, b = _walk(100, 6), _walk(500, 6, seed=1)
    frames, kps = _flatten([[a[t], b[t]] for t in range(6)])
    perm = np.random.default_rng(3).permutation(len(frames))
    ids = link_tracks(frames, kps)
    ids_perm = link_tracks(frames[perm], kps[perm])
    assert _same_partition(ids[perm], ids_perm)


@settings(max_examples=25, deadline=None)
@given(scale=st.floats(0.05, 20.0), dx=st.floats(-1e4, 1e4), dy=st.floats(-1e4, 1e4))
def test_linking_does_not_depend_on_image_scale_or_position(scale, dx, dy):
    people = [_walk(100 + 300 * k, 6, speed=20.0, seed=k) for k in range(3)]
    present = [(0, 1), (1, 0, 2), (2,), (0, 2, 1), (1, 0), (0, 1, 2)]
    frames, kps = _flatten([[people[k][t] for k in ks] for t, ks in enumerate(present)])
    ids = link_tracks(frames, kps, max_gap=2)
    moved = link_tracks(frames, kps * scale + [dx, dy], max_gap=2)
    np.testing.assert_array_equal(ids, moved)


def test_pose_distance_known_value():
    a = _pose(0.0)  # height 180 is the longer bbox side
    shift = np.array([9.0, 12.0])  # 15 px
    d = pose_distance(a[None], np.ones((1, J), bool), (a + shift)[None], np.ones((1, J), bool))
    np.testing.assert_allclose(d, [[15.0 / 180.0]])
    # Too few shared joints: not comparable.
    vis = np.zeros((1, J), bool)
    vis[0, :2] = True
    d = pose_distance(a[None], np.ones((1, J), bool), a[None], vis)
    assert d[0, 0] == 0.0  # two joints, and the smaller pose has only two
    vis_a = np.zeros((1, J), bool)
    vis_a[0, 5:] = True
    assert np.isinf(pose_distance(a[None], vis_a, a[None], vis))  # nothing shared


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"frame": np.zeros(2), "keypoints": np.zeros((3, J, 2))}, "frame must have shape"),
        ({"frame": np.zeros(3), "keypoints": np.zeros((3, J))}, "keypoints must have shape"),
        ({"frame": np.zeros(1), "keypoints": np.ones((1, J, 2)), "max_gap": -1}, "max_gap"),
        ({"frame": np.zeros(1), "keypoints": np.ones((1, J, 2)), "max_distance": 0}, "max_distance"),
        (
            {"frame": np.zeros(1), "keypoints": np.ones((1, J, 2)), "scores": np.ones(J)},
            "scores must have shape",
        ),
    ],
)
def test_bad_input_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        link_tracks(**kwargs)


def test_inputs_are_not_modified_and_empty_input_works():
    frames, kps = _flatten([[_walk(0, 2)[t]] for t in range(2)])
    before = kps.copy()
    link_tracks(frames, kps)
    np.testing.assert_array_equal(kps, before)
    assert link_tracks(np.zeros(0), np.zeros((0, J, 2))).shape == (0,)


# --- PoseSequence <-> Track ---------------------------------------------------------------


def _sequence_with_gap() -> PoseSequence:
    a, b = _walk(100, 8), _walk(500, 8, seed=1)
    per_frame = [[a[t]] + ([] if t in (3, 4) else [b[t]]) for t in range(8)]
    frames, kps = _flatten(per_frame)
    kps = kps.copy()
    kps[0, 5] = np.nan  # an absent joint
    return PoseSequence(
        kps, np.full(kps.shape[:2], 0.9), frames, np.full(len(frames), -1), num_frames=9, layout="coco17"
    )


def test_tracks_put_back_unchanged_give_the_same_sequence():
    seq = _sequence_with_gap()
    seq = seq.replace(track_id=link_tracks(seq.frame, seq.keypoints, seq.scores))
    tracks = seq.tracks()
    assert [len(t) for t in tracks] == [8, 8]
    assert tracks[1].observed.tolist() == [True, True, True, False, False, True, True, True]
    assert np.isnan(tracks[1].keypoints[3:5]).all()
    back = seq.with_tracks(tracks)
    np.testing.assert_array_equal(back.keypoints, seq.keypoints)
    np.testing.assert_array_equal(back.scores, seq.scores)
    assert not back.added.any()


def test_with_tracks_fills_only_when_asked():
    seq = _sequence_with_gap()
    seq = seq.replace(track_id=link_tracks(seq.frame, seq.keypoints, seq.scores))
    tracks = seq.tracks()
    filled = [
        t.__class__(t.track_id, t.start, np.nan_to_num(t.keypoints, nan=7.0) + 1.0, t.scores, t.detection)
        for t in tracks
    ]
    plain = seq.with_tracks(filled)
    assert len(plain) == len(seq)
    assert np.isnan(plain.keypoints[0, 5]).all()  # absent stays absent
    np.testing.assert_allclose(plain.keypoints[1], seq.keypoints[1] + 1.0)
    full = seq.with_tracks(filled, fill_gaps=True, fill_score=0.25)
    assert len(full) == len(seq) + 2 and full.added.sum() == 2
    assert full.frame[full.added].tolist() == [3, 4]
    np.testing.assert_allclose(full.keypoints[0, 5], [8.0, 8.0])
    assert full.scores[0, 5] == 0.25 and full.scores[0, 4] == 0.9
    assert (full.scores[full.added] == 0.25).all()
    assert (np.diff(full.frame) >= 0).all()
    # seq itself is untouched
    assert np.isnan(seq.keypoints[0, 5]).all() and len(seq) == len(plain)


def test_tracks_need_ids_unique_per_frame():
    seq = _sequence_with_gap()
    with pytest.raises(ValueError, match="no track id"):
        seq.tracks()
    with pytest.raises(ValueError, match="two detections in frame 0"):
        seq.replace(track_id=np.zeros(len(seq), dtype=int)).tracks()
