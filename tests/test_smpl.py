import numpy as np
import pytest
import torch

from hanet_refine import refine
from hanet_refine.rotations import axis_angle_to_matrix, matrix_to_rot6d, rot6d_to_matrix
from hanet_refine.smpl import prepare_smpl


def rotvecs(t=20, j=24, seed=0):
    return np.random.default_rng(seed).normal(size=(t, j, 3)) * 0.4


def as_matrices(x):
    """Any accepted array format -> (..., 24, 3, 3) for comparison."""
    x = np.asarray(x)
    if x.shape[-1] == 72:
        return axis_angle_to_matrix(x.reshape(x.shape[:-1] + (24, 3)))
    if x.shape[-1] == 6:
        return rot6d_to_matrix(x)
    if x.shape[-2:] == (3, 3):
        return x
    return axis_angle_to_matrix(x)


FORMATS = {
    "flat72": lambda aa: aa.reshape(len(aa), 72),
    "axis_angle": lambda aa: aa,
    "matrix": axis_angle_to_matrix,
    "rot6d": lambda aa: matrix_to_rot6d(axis_angle_to_matrix(aa)),
}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_array_formats_round_trip(fmt):
    x = FORMATS[fmt](rotvecs())
    prepared = prepare_smpl(x)
    assert prepared.points.shape == (1, 20, 24, 6)
    back = prepared.restore(prepared.points[0])
    assert back.shape == x.shape
    assert np.allclose(as_matrices(back), as_matrices(x), atol=1e-9)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_refine_keeps_each_format(tiny_weights, fmt):
    x = FORMATS[fmt](rotvecs())
    out = refine(x, "smpl", weights=tiny_weights("smpl", "smpl24"))
    assert out.shape == x.shape and np.isfinite(out).all()
    mats = as_matrices(out)
    assert np.allclose(mats @ np.swapaxes(mats, -1, -2), np.eye(3), atol=1e-6)  # valid rotations


@pytest.mark.parametrize("orient_shape", [(20, 3), (20, 1, 3), (20, 3, 3), (20, 1, 3, 3)])
@pytest.mark.parametrize("body_shape", [(20, 69), (20, 23, 3), (20, 23, 3, 3)])
def test_dict_round_trip(orient_shape, body_shape):
    aa = rotvecs()
    orient = aa[:, :1] if len(orient_shape) == 3 and orient_shape[-1] == 3 else aa[:, 0]
    if orient_shape[-2:] == (3, 3):
        orient = axis_angle_to_matrix(aa[:, :1]).reshape(orient_shape)
    body = {2: aa[:, 1:].reshape(20, 69), 3: aa[:, 1:], 4: axis_angle_to_matrix(aa[:, 1:])}[len(body_shape)]
    params = {"global_orient": orient, "body_pose": body, "betas": np.arange(10.0), "transl": np.ones((20, 3))}
    prepared = prepare_smpl(params)
    back = prepared.restore(prepared.points[0])
    assert back["global_orient"].shape == orient.shape and back["body_pose"].shape == body.shape
    assert np.array_equal(back["betas"], params["betas"]) and back["betas"] is not params["betas"]
    assert np.array_equal(back["transl"], params["transl"])
    assert np.allclose(prepared.points[0], matrix_to_rot6d(axis_angle_to_matrix(aa)), atol=1e-9)


def test_dict_refine_with_tracks_and_torch(tiny_weights):
    aa = torch.from_numpy(rotvecs(t=12)).float()[None].repeat(2, 1, 1, 1)
    params = {"global_orient": aa[:, :, 0], "body_pose": aa[:, :, 1:].reshape(2, 12, 69), "betas": torch.zeros(2, 10)}
    out = refine(params, "smpl", weights=tiny_weights("smpl", "smpl24"))
    assert out["global_orient"].shape == (2, 12, 3) and out["body_pose"].shape == (2, 12, 69)
    assert isinstance(out["body_pose"], torch.Tensor) and torch.equal(out["betas"], params["betas"])


def test_missing_rotation_filled(tiny_weights):
    aa = rotvecs()
    aa[5:8, 3] = np.nan
    out = refine(aa, "smpl", weights=tiny_weights("smpl", "smpl24"))
    assert np.isfinite(out).all()


@pytest.mark.parametrize(
    "params, match",
    [
        (np.zeros((20, 70)), r"SMPL rotations must have shape"),
        ({"body_pose": np.zeros((20, 69))}, r"needs 'global_orient' and 'body_pose'; missing \['global_orient'\]"),
        ({"global_orient": np.zeros((19, 3)), "body_pose": np.zeros((20, 69))}, "does not match body_pose"),
        (np.full((20, 72), np.inf), "inf"),
    ],
)
def test_bad_smpl_input(tiny_weights, params, match):
    with pytest.raises(ValueError, match=match):
        refine(params, "smpl", weights=tiny_weights("smpl", "smpl24"))


def test_confidence_rejected_for_smpl(tiny_weights):
    with pytest.raises(ValueError, match="confidence is not used for kind='smpl'"):
        refine(rotvecs(), "smpl", confidence=np.ones((20, 24)), weights=tiny_weights("smpl", "smpl24"))
