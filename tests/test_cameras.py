from __future__ import annotations

import numpy as np
import pytest

from hanet_refine.train.cameras import (
    Camera,
    look_at,
    place,
    project,
    random_cameras,
    random_placement,
    yaw_matrix,
)


def _frontal_camera() -> Camera:
    # Camera 5 m in front of the origin (+z), looking back at it along -z, 1080p, f = 1000 px.
    return look_at(
        np.array([0.0, 1.0, 5.0]), np.array([0.0, 1.0, 0.0]), focal=1000.0, image_size=(1920, 1080)
    )


def test_projection_known_answers():
    cam = _frontal_camera()
    pts = np.array(
        [
            [0.0, 1.0, 0.0],  # the target: the image centre
            [1.0, 2.0, 0.0],  # 1 m right (seen from the camera, +x is its right), 1 m up
            [1.0, 1.0, -5.0],
        ]
    )  # twice as far: half the offset
    uv = project(pts, cam)
    np.testing.assert_allclose(uv, [[960.0, 540.0], [1160.0, 340.0], [1060.0, 540.0]], atol=1e-9)
    np.testing.assert_allclose(cam.center, [0.0, 1.0, 5.0], atol=1e-12)


def test_projection_matches_pinhole_formula_for_rolled_batch():
    rng = np.random.default_rng(1)
    pos = rng.normal(size=(3, 3)) * 2 + np.array([0.0, 1.5, 6.0])
    cam = look_at(
        pos,
        np.zeros((3, 3)),
        focal=np.array([800.0, 1000.0, 1500.0]),
        image_size=(1280, 720),
        roll=np.array([0.0, 0.1, -0.2]),
    )
    pts = rng.normal(size=(3, 5, 4, 3))
    cam_pts = np.einsum("bij,btkj->btki", cam.rotation, pts) + cam.translation[:, None, None]
    expected = (
        cam.focal[:, None, None, None] * cam_pts[..., :2] / cam_pts[..., 2:]
        + cam.principal_point[:, None, None]
    )
    np.testing.assert_allclose(project(pts, cam), expected, rtol=1e-10)
    # Rotations are proper (det +1, orthonormal).
    np.testing.assert_allclose(
        cam.rotation @ np.swapaxes(cam.rotation, -1, -2), np.broadcast_to(np.eye(3), (3, 3, 3)), atol=1e-12
    )
    np.testing.assert_allclose(np.linalg.det(cam.rotation), 1.0, atol=1e-12)


def test_points_behind_camera_are_nan_and_dtype_follows_input():
    cam = _frontal_camera()
    uv = project(np.array([[0.0, 1.0, 10.0], [0.0, 1.0, 0.0]], dtype=np.float32), cam)
    assert uv.dtype == np.float32
    assert np.isnan(uv[0]).all() and np.isfinite(uv[1]).all()


def test_shape_mismatch_raises():
    cams = random_cameras(np.zeros((2, 3, 4, 3)) + np.arange(4)[:, None] * 0.3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch shape"):
        project(np.zeros((3, 5, 3)), cams)
    with pytest.raises(ValueError, match=r"\(B, T, J, 3\)"):
        random_cameras(np.zeros((3, 4, 3)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="finite"):
        random_cameras(np.full((1, 2, 3, 3), np.nan), np.random.default_rng(0))


def _walker(rng: np.random.Generator, b: int, t: int) -> np.ndarray:
    """A crude 1.7 m stick person walking 3 m in a random direction, bobbing arms."""
    height = np.linspace(0.0, 1.7, 9)
    body = np.stack([np.zeros(9), height, np.zeros(9)], axis=-1)
    body = np.concatenate([body, body[[5, 6]] + [[0.3, 0, 0], [-0.3, 0, 0]]], axis=0)  # hands
    heading = rng.uniform(0, 2 * np.pi, size=b)
    step = np.stack([np.sin(heading), np.zeros(b), np.cos(heading)], -1)
    path = np.linspace(0, 3.0, t)[None, :, None] * step[:, None, :]
    swing = 0.2 * np.sin(np.linspace(0, 6, t))[None, :, None]
    pts = body[None, None] + path[:, :, None, :]
    pts[:, :, -2:, 2] += swing
    return pts


def test_random_cameras_keep_person_in_frame_and_are_seeded():
    rng = np.random.default_rng(0)
    pts = _walker(rng, 64, 90)
    margin = 0.04
    cams = random_cameras(pts, np.random.default_rng(5), margin=margin)
    uv = project(pts, cams)
    size = cams.image_size[:, None, None, :].astype(np.float64)
    assert np.isfinite(uv).all()
    assert (uv >= margin * size - 1e-6).all() and (uv <= (1 - margin) * size + 1e-6).all()
    # Image sizes come from the list; the person is not tiny: median height >= 10 % of the image.
    assert {tuple(s) for s in cams.image_size} <= {(1920, 1080), (1280, 720), (720, 1280), (640, 480)}
    heights = (uv[..., 1].max(axis=2) - uv[..., 1].min(axis=2)) / cams.image_size[:, None, 1]
    assert np.median(heights) > 0.1
    # Same seed, same cameras; another seed, others.
    again = random_cameras(pts, np.random.default_rng(5), margin=margin)
    np.testing.assert_array_equal(again.rotation, cams.rotation)
    other = random_cameras(pts, np.random.default_rng(6), margin=margin)
    assert not np.allclose(other.rotation, cams.rotation)


def test_random_cameras_view_from_all_sides_with_level_horizon():
    pts = _walker(np.random.default_rng(0), 400, 10)
    cams = random_cameras(pts, np.random.default_rng(1))
    # Azimuth of the camera around the person spans all directions.
    offset = cams.center - pts.mean(axis=(1, 2))
    azimuth = np.arctan2(offset[:, 0], offset[:, 2])
    assert np.histogram(azimuth, bins=8, range=(-np.pi, np.pi))[0].min() > 20
    # The camera's x axis stays nearly level (small roll), y axis points down in the world.
    right_y = cams.rotation[:, 0, 1]
    assert np.abs(right_y).max() < np.sin(np.deg2rad(7))
    assert (cams.rotation[:, 1, 1] < 0).all()


def test_yaw_and_placement():
    np.testing.assert_allclose(yaw_matrix(np.pi / 2) @ [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], atol=1e-12)
    rng = np.random.default_rng(0)
    rot, trans = random_placement(rng, 50)
    assert rot.shape == (50, 3, 3) and trans.shape == (50, 3)
    np.testing.assert_allclose(rot[:, 1], np.broadcast_to([0.0, 1.0, 0.0], (50, 3)))  # about y only
    assert (trans[:, 2] >= 2.5).all() and (trans[:, 2] <= 8.0).all()
    pts = rng.normal(size=(50, 7, 5, 3)).astype(np.float32)
    origin = pts[:, 0, 0].astype(np.float64)
    placed = place(pts, rot, trans, origin)
    assert placed.dtype == np.float32
    # Rigid: distances kept; the origin lands on the translation.
    d0 = np.linalg.norm(pts[:, :, 1] - pts[:, :, 2], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(placed[:, :, 1] - placed[:, :, 2], axis=-1), d0, rtol=1e-5)
    np.testing.assert_allclose(placed[:, 0, 0], trans, atol=1e-5)
