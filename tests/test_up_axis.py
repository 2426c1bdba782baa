import numpy as np
import pytest

from hanet_refine import refine
from hanet_refine.layouts import get_layout
from hanet_refine.up_axis import infer_up, up_rotation

H36M = get_layout("h36m17")
# A person standing in a y-up, right-handed frame (metres), facing +z.
STANDING = {
    "pelvis": (0, 0.95, 0), "right_hip": (-0.1, 0.92, 0), "right_knee": (-0.1, 0.5, 0.03),
    "right_ankle": (-0.1, 0.08, 0), "left_hip": (0.1, 0.92, 0), "left_knee": (0.1, 0.5, 0.03),
    "left_ankle": (0.1, 0.08, 0), "spine": (0, 1.15, 0), "thorax": (0, 1.4, 0), "neck": (0, 1.5, 0.02),
    "head_top": (0, 1.7, 0), "left_shoulder": (0.18, 1.42, 0), "left_elbow": (0.22, 1.15, 0),
    "left_wrist": (0.24, 0.9, 0.05), "right_shoulder": (-0.18, 1.42, 0), "right_elbow": (-0.22, 1.15, 0),
    "right_wrist": (-0.24, 0.9, 0.05),
}


def person(t=50, seed=0):
    rng = np.random.default_rng(seed)
    pose = np.array([STANDING[n] for n in H36M.joints], dtype=float)
    sway = 0.05 * np.sin(np.arange(t) / 8.0)[:, None, None] * np.array([1.0, 0.0, 0.5])
    return pose[None] + sway + rng.normal(scale=0.01, size=(t, 17, 3))


@pytest.mark.parametrize("up", ["+y", "-y", "+z", "-z", "+x", "-x"])
def test_rotations_are_proper_and_take_up_to_y(up):
    r = up_rotation(up)
    assert np.allclose(r @ r.T, np.eye(3)) and np.isclose(np.linalg.det(r), 1.0)
    axis = np.zeros(3)
    axis["xyz".index(up[1])] = 1.0 if up[0] == "+" else -1.0
    assert np.allclose(r @ axis, [0, 1, 0])


@pytest.mark.parametrize("up", ["+y", "-y", "+z", "-z", "+x", "-x"])
def test_up_axis_read_from_the_torso(up):
    x = person() @ up_rotation(up)  # from the y-up frame into one whose up is `up`
    mask = np.zeros(x.shape[:2], bool)
    assert infer_up(x[None], mask[None], H36M) == up


def test_horizontal_torso_warns_and_assumes_y_up():
    lying = person() @ up_rotation("+x")
    lying[..., 0] = 0.0  # no axis carries the torso any more
    with pytest.warns(UserWarning, match="which axis is up"):
        assert infer_up(lying[None], np.zeros((1, 50, 17), bool), H36M) == "+y"


@pytest.mark.parametrize("up", ["-y", "+z"])
def test_refine_gives_the_same_motion_in_any_frame(tiny_weights, up):
    weights = tiny_weights("3d", "h36m17")
    x = person()
    base = refine(x, "3d", weights=weights)
    r = up_rotation(up)
    other = x @ r  # the same motion, written with `up` as up
    np.testing.assert_allclose(refine(other, "3d", weights=weights), base @ r, atol=1e-9)
    np.testing.assert_allclose(refine(other, "3d", weights=weights, up=up), base @ r, atol=1e-9)
    # Told the wrong axis, the network sees the person lying down: a different answer.
    assert not np.allclose(refine(other, "3d", weights=weights, up="+y"), base @ r, atol=1e-6)


def test_bad_up_values():
    with pytest.raises(ValueError, match="up must be one of"):
        refine(person(), "3d", up="y")
    with pytest.raises(ValueError, match="up is for kind='3d' only"):
        refine(person()[..., :2], "2d", up="+y")
