"""Known-answer and property tests of hanet_refine.metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hanet_refine.metrics import (
    accel_error,
    geodesic_angle,
    mean_acceleration,
    mpjpe,
    pa_mpjpe,
    pck,
    procrustes_align,
)


def poses(seed: int = 0, shape: tuple[int, ...] = (4, 6, 17, 3)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


# ---------------------------------------------------------------------------------------
# MPJPE and PA-MPJPE


def test_mpjpe_of_a_constant_offset_is_its_length() -> None:
    gt = poses(1, (10, 17, 2))
    pred = gt + np.array([3.0, 4.0])
    assert mpjpe(pred, gt) == pytest.approx(5.0)
    assert mpjpe(pred, gt, root=0) == pytest.approx(0.0, abs=1e-12)
    assert mpjpe(pred, gt, root=-1) == pytest.approx(0.0, abs=1e-12)
    assert mpjpe(pred, gt, root="mean") == pytest.approx(0.0, abs=1e-12)


def test_mpjpe_root_alignment_by_hand() -> None:
    gt = np.zeros((1, 3, 2))
    pred = np.array([[[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]]])
    assert mpjpe(pred, gt) == pytest.approx(1.0)  # (1 + 0 + 2) / 3
    # Root 1 is already right, so nothing moves.
    assert mpjpe(pred, gt, root=1) == pytest.approx(1.0)
    # Root 0: pred becomes [(0,0), (-1,0), (-1,2)] -> distances 0, 1, sqrt(5).
    assert mpjpe(pred, gt, root=0) == pytest.approx((1 + np.sqrt(5)) / 3)


def test_mpjpe_mask_selects_points() -> None:
    gt = np.zeros((2, 4, 3))
    pred = np.zeros((2, 4, 3))
    pred[0, 1] = [0.0, 6.0, 8.0]  # error 10 at one point
    mask = np.zeros((2, 4), dtype=bool)
    mask[0, 1] = mask[1, 2] = True
    assert mpjpe(pred, gt, mask=mask) == pytest.approx(5.0)
    assert mpjpe(pred, gt) == pytest.approx(10.0 / 8)


def test_translated_pose_has_zero_pa_mpjpe() -> None:
    gt = poses(2)
    pred = gt + np.random.default_rng(3).normal(size=(4, 6, 1, 3))
    assert pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-10)
    assert mpjpe(pred, gt) > 0.1


def test_rotated_and_scaled_copy_has_zero_pa_mpjpe_but_not_mpjpe() -> None:
    gt = poses(4)
    rot = Rotation.random(24, random_state=5).as_matrix().reshape(4, 6, 3, 3)
    pred = 1.7 * np.einsum("btxy,btjy->btjx", rot, gt) + np.array([0.5, -2.0, 1.0])
    assert pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-10)
    assert mpjpe(pred, gt) > 0.5
    np.testing.assert_allclose(procrustes_align(pred, gt), gt, atol=1e-10)


def test_procrustes_in_2d() -> None:
    gt = poses(6, (5, 17, 2))
    quarter_turn = np.array([[0.0, -1.0], [1.0, 0.0]])
    pred = 0.25 * gt @ quarter_turn.T + 7.0
    assert pa_mpjpe(pred, gt) == pytest.approx(0.0, abs=1e-10)


def test_mirror_image_is_not_undone_by_procrustes() -> None:
    gt = poses(7, (3, 17, 3))
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    aligned = procrustes_align(mirrored, gt)
    # Reference: the best proper rotation from scipy (Kabsch), then the best scale.
    for f in range(3):
        x = mirrored[f] - mirrored[f].mean(0)
        y = gt[f] - gt[f].mean(0)
        rot, _ = Rotation.align_vectors(y, x)
        rx = rot.apply(x)
        scale = (rx * y).sum() / (rx * rx).sum()
        np.testing.assert_allclose(aligned[f], scale * rx + gt[f].mean(0), atol=1e-9)
    # A reflection is not a rotation: some error stays.
    assert pa_mpjpe(mirrored, gt) > 0.05


def test_pa_mpjpe_ignores_nan_ground_truth_left_out_by_mask() -> None:
    gt = poses(8, (2, 17, 3))
    rot = Rotation.from_rotvec([0.3, -0.2, 0.9]).as_matrix()
    pred = 2.0 * gt @ rot.T + 1.0
    gt_nan = gt.copy()
    gt_nan[0, 4] = np.nan
    known = np.isfinite(gt_nan).all(-1)
    assert pa_mpjpe(pred, gt_nan, mask=known) == pytest.approx(0.0, abs=1e-10)
    with pytest.raises(ValueError, match="pass mask="):
        pa_mpjpe(pred, gt_nan)


def test_metrics_accept_torch_tensors() -> None:
    gt = poses(9, (3, 17, 3))
    pred = gt + 0.1
    assert mpjpe(torch.tensor(pred), torch.tensor(gt)) == pytest.approx(mpjpe(pred, gt))


# ---------------------------------------------------------------------------------------
# Acceleration


def test_accel_error_known_answers() -> None:
    t = np.arange(20.0)[:, None, None]
    c = np.random.default_rng(10).normal(size=(1, 5, 3))  # per-joint acceleration / 2
    quadratic = c * t**2 + 1.0
    assert accel_error(quadratic, quadratic) == pytest.approx(0.0)
    linear = 3.0 * t + 2.0 + np.zeros((1, 5, 3))
    # Second difference of c t^2 is 2c; of a line, 0.
    assert accel_error(quadratic, linear + 5.0) == pytest.approx(np.linalg.norm(2 * c, axis=-1).mean())
    assert mean_acceleration(quadratic) == pytest.approx(np.linalg.norm(2 * c, axis=-1).mean())
    assert mean_acceleration(linear) == pytest.approx(0.0, abs=1e-12)


def test_accel_error_mask_counts_only_fully_selected_triples() -> None:
    x = np.zeros((6, 1, 1))
    x[3, 0, 0] = 1.0  # second differences at frames 2, 3, 4: 1, -2, 1
    gt = np.zeros_like(x)
    assert accel_error(x, gt) == pytest.approx(4.0 / 4)  # 4 centre frames: 1 + 2 + 1 + 0
    mask = np.ones((6, 1), dtype=bool)
    mask[1] = False  # removes the differences centred at frames 1 and 2
    assert accel_error(x, gt, mask=mask) == pytest.approx(3.0 / 2)
    gt_nan = gt.copy()
    gt_nan[0] = np.nan
    with pytest.raises(ValueError, match="pass mask="):
        accel_error(x, gt_nan)
    assert accel_error(x, gt_nan, mask=np.isfinite(gt_nan).all(-1)) == pytest.approx(4.0 / 3)


def test_accel_needs_three_frames() -> None:
    with pytest.raises(ValueError, match="T >= 3"):
        accel_error(np.zeros((2, 17, 3)), np.zeros((2, 17, 3)))
    with pytest.raises(ValueError, match="T >= 3"):
        mean_acceleration(np.zeros((2, 17, 3)))


# ---------------------------------------------------------------------------------------
# PCK


def test_pck_by_hand() -> None:
    # One frame, 4 points; the ground-truth box is 10 x 4, so the size is 10.
    gt = np.array([[[0.0, 0.0], [10.0, 0.0], [0.0, 4.0], [10.0, 4.0]]])
    errors = np.array([0.4, 0.6, 1.0, 2.5])  # along x
    pred = gt + np.stack([errors, np.zeros(4)], axis=-1)
    np.testing.assert_allclose(pck(pred, gt, (0.05, 0.1, 0.2)), [1 / 4, 3 / 4, 3 / 4])
    assert pck(pred, gt, 0.25) == pytest.approx(1.0)  # the threshold itself counts as correct
    assert pck(pred, gt, 0.1, bbox_size=5.0) == pytest.approx(1 / 4)
    mask = np.array([[False, True, True, True]])
    assert pck(pred, gt, 0.1, mask=mask) == pytest.approx(2 / 3)


def test_pck_uses_each_frames_own_box() -> None:
    gt = np.zeros((2, 2, 2))
    gt[0, 1] = [100.0, 0.0]  # frame 0: size 100
    gt[1, 1] = [10.0, 0.0]  # frame 1: size 10
    pred = gt + np.array([0.0, 5.0])  # error 5 everywhere
    assert pck(pred, gt, 0.1) == pytest.approx(0.5)  # right in frame 0 only
    assert pck(pred, gt, 0.1, bbox_size=np.array([10.0, 100.0])) == pytest.approx(0.5)


def test_pck_rejects_bad_arguments() -> None:
    gt = np.zeros((3, 4, 2))
    with pytest.raises(ValueError, match="alpha"):
        pck(gt, gt, -0.1)
    with pytest.raises(ValueError, match="bbox_size"):
        pck(gt, gt, 0.1, bbox_size=np.ones(4))


# ---------------------------------------------------------------------------------------
# Rotations


def test_geodesic_angle_known_angles() -> None:
    angles = np.array([0.0, 1e-7, 0.5, 2.0, np.pi - 1e-6])
    axis = np.array([1.0, 2.0, -0.5]) / np.linalg.norm([1.0, 2.0, -0.5])
    base = Rotation.random(5, random_state=11).as_matrix()
    delta = Rotation.from_rotvec(angles[:, None] * axis).as_matrix()
    pred = base[None]  # (1 frame, 5 joints, 3, 3)
    gt = (base @ delta)[None]
    np.testing.assert_allclose(geodesic_angle(pred, gt, reduce="none")[0], angles, atol=1e-9)
    np.testing.assert_allclose(geodesic_angle(pred, gt), angles, atol=1e-9)
    assert geodesic_angle(pred, gt, reduce="mean") == pytest.approx(angles.mean())
    mask = np.array([[False, False, True, True, False]])
    assert geodesic_angle(pred, gt, mask=mask, reduce="mean") == pytest.approx(1.25)


def test_geodesic_angle_rejects_non_matrices() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., J, 3, 3\)"):
        geodesic_angle(np.zeros((4, 17, 6)), np.zeros((4, 17, 6)))


# ---------------------------------------------------------------------------------------
# Common checks


def test_shape_mismatch_bad_mask_and_empty_mask() -> None:
    a = np.zeros((5, 17, 3))
    with pytest.raises(ValueError, match="same shape"):
        mpjpe(a, np.zeros((5, 17, 2)))
    with pytest.raises(ValueError, match="mask must have shape"):
        mpjpe(a, a, mask=np.ones((5, 16), dtype=bool))
    with pytest.raises(ValueError, match="boolean"):
        mpjpe(a, a, mask=np.ones((5, 17)))
    with pytest.raises(ValueError, match="root must be"):
        mpjpe(a, a, root=17)
    with pytest.warns(UserWarning, match="selects no point"):
        assert np.isnan(mpjpe(a, a, mask=np.zeros((5, 17), dtype=bool)))


def test_inputs_are_not_modified() -> None:
    gt = poses(12)
    pred = gt + 0.1
    before = (pred.copy(), gt.copy())
    for metric in (mpjpe, pa_mpjpe, accel_error):
        metric(pred, gt)
    np.testing.assert_array_equal(pred, before[0])
    np.testing.assert_array_equal(gt, before[1])
