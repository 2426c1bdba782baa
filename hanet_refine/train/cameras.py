"""Virtual pinhole cameras for turning 3D motion capture into 2D estimator-like tracks.

Conventions:
    World: metres, y up, the floor near y = 0 (as the mocap layouts are).
    Camera: OpenCV style, x right, y down, z forward (away from the camera), so that a point
    ``p`` in the world is ``R @ p + t`` in the camera and lands on the pixel
    ``(f * x / z + cx, f * y / z + cy)``; pixels are square, there is no lens distortion.

Dimensions: ``b`` batch (one camera per window or clip), ``t`` time, ``j`` joints.

:func:`random_cameras` draws static cameras of the kinds people film with (phones held
landscape or portrait, webcams, action cameras) around a person, far enough that every
joint of the whole window stays inside the image. :func:`random_placement` draws the global
position and heading that 3D and SMPL training data are shown at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_HFOV_DEG",
    "DEFAULT_IMAGE_SIZES",
    "DEFAULT_IMAGE_SIZE_PROBS",
    "Camera",
    "look_at",
    "place",
    "project",
    "random_cameras",
    "random_placement",
    "yaw_matrix",
]

#: (width, height) of common videos and how often they are drawn: 1080p and 720p landscape,
#: a phone held upright (720x1280) and an old webcam (640x480).
DEFAULT_IMAGE_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (1280, 720), (720, 1280), (640, 480))
DEFAULT_IMAGE_SIZE_PROBS: tuple[float, ...] = (0.35, 0.3, 0.2, 0.15)

#: Field of view across the LONG side of the image, in degrees: narrow webcams and phone
#: zoom (50), phone main cameras and webcams (60-80), action cameras in linear mode (90).
DEFAULT_HFOV_DEG: tuple[float, ...] = (50.0, 60.0, 65.0, 70.0, 75.0, 80.0, 90.0)

_WORLD_UP = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Camera:
    """A batch of static pinhole cameras (one per window), or a single one.

    Attributes:
        rotation: world-to-camera rotation, ``(*batch, 3, 3)``.
        translation: ``(*batch, 3)``; a world point ``p`` is ``rotation @ p + translation`` in
            the camera frame (x right, y down, z forward).
        focal: focal length in pixels, ``(*batch,)``.
        principal_point: ``(cx, cy)`` in pixels, ``(*batch, 2)``.
        image_size: ``(width, height)`` in pixels, ``(*batch, 2)``, integer.
    """

    rotation: np.ndarray
    translation: np.ndarray
    focal: np.ndarray
    principal_point: np.ndarray
    image_size: np.ndarray

    def __post_init__(self) -> None:
        batch = np.shape(self.focal)
        expected = {
            "rotation": batch + (3, 3),
            "translation": batch + (3,),
            "principal_point": batch + (2,),
            "image_size": batch + (2,),
        }
        for name, shape in expected.items():
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(
                    f"Camera.{name} must have shape {shape} to match focal's batch shape {batch}, "
                    f"got {np.shape(getattr(self, name))}"
                )

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.focal))

    @property
    def center(self) -> np.ndarray:
        """Camera positions in the world, ``(*batch, 3)``."""
        return -np.einsum("...ji,...j->...i", self.rotation, self.translation)

    def __getitem__(self, index: int | slice | np.ndarray) -> Camera:
        """The camera(s) at ``index`` of the batch axis."""
        return Camera(
            rotation=np.asarray(self.rotation)[index],
            translation=np.asarray(self.translation)[index],
            focal=np.asarray(self.focal)[index],
            principal_point=np.asarray(self.principal_point)[index],
            image_size=np.asarray(self.image_size)[index],
        )

    def to_camera_frame(self, points3d: np.ndarray) -> np.ndarray:
        """World points to camera coordinates, in the points' float dtype (float64 for integers).

        See :func:`project` for the shapes.
        """
        points3d = np.asarray(points3d)
        if not np.issubdtype(points3d.dtype, np.floating):
            points3d = points3d.astype(np.float64)
        if points3d.shape[-1:] != (3,) or points3d.shape[: len(self.batch_shape)] != self.batch_shape:
            raise ValueError(
                f"points3d must have shape {self.batch_shape} + (..., 3) for cameras of batch shape "
                f"{self.batch_shape}, got {points3d.shape}"
            )
        nb = len(self.batch_shape)
        flat = points3d.reshape(self.batch_shape + (-1, 3))  # (*batch, N, 3): one batched matmul
        rot = np.swapaxes(np.asarray(self.rotation, dtype=points3d.dtype), -1, -2)
        out = flat @ rot + np.asarray(self.translation, dtype=points3d.dtype)[..., None, :]
        return out.reshape(points3d.shape[:nb] + points3d.shape[nb:])


def project(points3d: np.ndarray, camera: Camera) -> np.ndarray:
    """Project world points to pixels.

    Args:
        points3d: world points in metres; the leading axes are the camera's batch axes.
        camera: one camera (batch shape ``()``) or a batch of them.

    Returns:
        Pixel coordinates ``(u, v)``, u to the right and v down from the top-left corner, in
        ``points3d``'s float dtype (float64 for integer input). Points at or behind the camera
        (z <= 1 mm) and NaN points give NaN.

    Raises:
        ValueError: if the leading axes of ``points3d`` do not match the camera batch.

    Shape:
        points3d: ``(*batch, ..., 3)`` -> ``(*batch, ..., 2)``.

    Example:
        >>> cam = look_at(np.array([0.0, 1.0, 5.0]), np.array([0.0, 1.0, 0.0]), focal=1000.0,
        ...               image_size=(1920, 1080))
        >>> project(np.array([0.0, 1.0, 0.0]), cam)
        array([960., 540.])
    """
    cam = camera.to_camera_frame(points3d)  # computed in the points' float dtype
    extra = cam.ndim - len(camera.batch_shape) - 1
    expand = (Ellipsis,) + (None,) * extra
    focal = np.asarray(camera.focal, dtype=cam.dtype)[expand]
    pp = np.asarray(camera.principal_point, dtype=cam.dtype)[expand + (slice(None),)]
    z = cam[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        uv = cam[..., :2] * (focal / z)[..., None] + pp
    behind = ~(z > 1e-3)
    if behind.any():
        uv[behind] = np.nan
    return uv


def _rotation_about_z(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(np.shape(angle) + (3, 3))
    out[..., 0, 0], out[..., 0, 1], out[..., 1, 0], out[..., 1, 1], out[..., 2, 2] = c, -s, s, c, 1.0
    return out


def _look_rotation(forward: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """World-to-camera rotations of cameras looking along ``forward`` (..., 3), rolled by ``roll``."""
    forward = forward / np.linalg.norm(forward, axis=-1, keepdims=True)
    right = np.cross(forward, _WORLD_UP)
    norm = np.linalg.norm(right, axis=-1, keepdims=True)
    if np.any(norm < 1e-6):
        raise ValueError("a camera looking straight up or down has no defined roll; tilt it a little")
    right = right / norm
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward], axis=-2)  # rows: camera axes in world coordinates
    return _rotation_about_z(roll) @ rot


def look_at(
    position: np.ndarray,
    target: np.ndarray,
    *,
    focal: float | np.ndarray,
    image_size: tuple[int, int] | np.ndarray,
    roll: float | np.ndarray = 0.0,
    principal_point: np.ndarray | None = None,
) -> Camera:
    """A camera at ``position`` looking at ``target``, its image x axis level unless rolled.

    Args:
        position: camera centre in world metres, ``(*batch, 3)``.
        target: the world point at the principal point, ``(*batch, 3)``.
        focal: focal length in pixels, scalar or ``(*batch,)``.
        image_size: ``(width, height)``, or ``(*batch, 2)``.
        roll: rotation about the viewing axis in radians (positive turns the image clockwise).
        principal_point: ``(*batch, 2)``; default the image centre.

    Returns:
        The camera(s).

    Raises:
        ValueError: if the camera looks straight up or down, or ``position == target``.
    """
    position = np.asarray(position, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    forward = target - position
    if np.any(np.linalg.norm(forward, axis=-1) < 1e-9):
        raise ValueError("look_at: position and target coincide; put the camera somewhere else")
    batch = forward.shape[:-1]
    rot = _look_rotation(forward, np.broadcast_to(np.asarray(roll, dtype=np.float64), batch))
    trans = -np.einsum("...ij,...j->...i", rot, position)
    size = np.broadcast_to(np.asarray(image_size), batch + (2,)).astype(np.int64)
    pp = size / 2.0 if principal_point is None else np.broadcast_to(principal_point, batch + (2,))
    return Camera(
        rot,
        trans,
        np.broadcast_to(np.asarray(focal, dtype=np.float64), batch).copy(),
        np.array(pp, dtype=np.float64),
        size.copy(),
    )


def random_cameras(
    points3d: np.ndarray,
    rng: np.random.Generator,
    *,
    image_sizes: tuple[tuple[int, int], ...] = DEFAULT_IMAGE_SIZES,
    image_size_probs: tuple[float, ...] | None = DEFAULT_IMAGE_SIZE_PROBS,
    hfov_deg: tuple[float, ...] = DEFAULT_HFOV_DEG,
    person_fraction: tuple[float, float] = (0.3, 0.85),
    camera_height: tuple[float, float] = (0.3, 2.5),
    roll_std_deg: float = 2.0,
    margin: float = 0.04,
) -> Camera:
    """Draw one static camera per sequence that keeps the whole sequence inside its image.

    For each sequence: an image size and a field of view (of the long image side) are drawn
    from the lists; the camera stands at a uniformly random azimuth around the person, aims at
    the centre of the person's bounding box over the whole sequence, at a distance where the
    person's vertical extent over the sequence fills ``person_fraction`` of the image height,
    from a height drawn from ``camera_height`` (metres above the floor, which sets the
    elevation angle), rolled by a small normal angle. If some joint at some frame would then
    fall outside the image (less ``margin`` of each side), the camera is moved back along its
    viewing axis (angles kept) until all fit; finally the principal point is shifted at random
    within the slack left, so the person is not always centred (the same picture as a small
    pan).

    Args:
        points3d: clean world positions in metres (y up), ``(B, T, J, 3)``; must be finite.
        rng: the random generator (the only source of randomness).
        image_sizes: candidate ``(width, height)`` values.
        image_size_probs: their probabilities (None: uniform).
        hfov_deg: candidate fields of view in degrees across the long image side.
        person_fraction: range of the person's vertical extent as a fraction of the image height.
        camera_height: range of the camera height above the floor (y = 0), metres.
        roll_std_deg: standard deviation of the roll (clipped at 3 sigma), degrees.
        margin: fraction of the width / height kept free at each image border.

    Returns:
        Cameras with batch shape ``(B,)``; ``project(points3d, cameras)`` lies inside
        ``[margin * W, (1 - margin) * W] x [margin * H, (1 - margin) * H]`` for every point.

    Raises:
        ValueError: on a bad shape, non-finite points or bad parameter ranges.
    """
    points3d = np.asarray(points3d)
    if points3d.ndim != 4 or points3d.shape[-1] != 3:
        raise ValueError(f"points3d must have shape (B, T, J, 3), got {points3d.shape}")
    if not np.isfinite(points3d).all():
        raise ValueError("points3d must be finite (clean mocap); fill or drop NaN frames first")
    if not 0.0 <= margin < 0.4:
        raise ValueError(f"margin must be in [0, 0.4), got {margin}")
    if not 0.0 < person_fraction[0] <= person_fraction[1] < 1.0:
        raise ValueError(f"person_fraction must be an increasing pair in (0, 1), got {person_fraction}")
    b = points3d.shape[0]
    sizes = np.asarray(image_sizes, dtype=np.int64)
    if sizes.ndim != 2 or sizes.shape[1] != 2 or (sizes <= 0).any():
        raise ValueError(f"image_sizes must be a list of positive (width, height), got {image_sizes}")
    probs = None if image_size_probs is None else np.asarray(image_size_probs, dtype=np.float64)
    if probs is not None and (probs.shape != (len(sizes),) or (probs < 0).any() or probs.sum() <= 0):
        raise ValueError(
            f"image_size_probs must be {len(sizes)} non-negative weights, got {image_size_probs}"
        )
    size = sizes[rng.choice(len(sizes), size=b, p=None if probs is None else probs / probs.sum())]
    width, height = size[:, 0].astype(np.float64), size[:, 1].astype(np.float64)
    hfov = np.deg2rad(np.asarray(hfov_deg, dtype=np.float64)[rng.integers(len(hfov_deg), size=b)])
    focal = np.maximum(width, height) / 2.0 / np.tan(hfov / 2.0)

    # Coordinate-major copy (B, 3, N): NumPy reduces fast along a contiguous last axis only.
    coords = np.ascontiguousarray(points3d.reshape(b, -1, 3).transpose(0, 2, 1), dtype=np.float64)
    lo, hi = coords.min(axis=-1), coords.max(axis=-1)
    center = (lo + hi) / 2.0  # (B, 3)
    person_height = np.maximum(hi[:, 1] - lo[:, 1], 0.3)  # vertical extent over the sequence
    fraction = rng.uniform(*person_fraction, size=b)
    nominal = focal * person_height / (fraction * height)
    cam_y = rng.uniform(*camera_height, size=b)
    elevation = np.arctan2(cam_y - center[:, 1], nominal)
    azimuth = rng.uniform(0.0, 2.0 * np.pi, size=b)
    roll = np.deg2rad(np.clip(rng.normal(0.0, roll_std_deg, size=b), -3 * roll_std_deg, 3 * roll_std_deg))
    # Unit vector from the target to the camera.
    back = np.stack(
        [np.cos(elevation) * np.sin(azimuth), np.sin(elevation), np.cos(elevation) * np.cos(azimuth)], axis=-1
    )
    rot = _look_rotation(-back, roll)

    # Points relative to the target in camera axes; the camera sits at distance d behind it,
    # so a point is at (x, y, z + d). It fits if f |x| / (z + d) <= half-width (and y alike).
    x, y, z = (rot @ (coords - center[:, :, None])).transpose(1, 0, 2)  # each (B, N)
    half_w, half_h = width * (0.5 - margin), height * (0.5 - margin)
    f = focal[:, None]
    need = np.maximum(
        (f * np.abs(x) / half_w[:, None] - z).max(axis=-1), (f * np.abs(y) / half_h[:, None] - z).max(axis=-1)
    )
    need_near = (0.3 - z).max(axis=-1)  # keep every point at least 30 cm in front of the lens
    distance = np.maximum(nominal, np.maximum(need, need_near))
    position = center + distance[:, None] * back
    trans = -np.einsum("bij,bj->bi", rot, position)

    # Shift the principal point within the slack so that the person is not always centred.
    depth = z + distance[:, None]
    u, v = f * x / depth, f * y / depth  # pixels from the principal point
    lo_uv = np.stack([u.min(axis=-1), v.min(axis=-1)], axis=-1) + size / 2.0
    hi_uv = np.stack([u.max(axis=-1), v.max(axis=-1)], axis=-1) + size / 2.0
    edge = np.stack([width, height], axis=-1) * margin
    low_shift = edge - lo_uv
    high_shift = (np.stack([width, height], axis=-1) - edge) - hi_uv
    shift = low_shift + rng.uniform(size=(b, 2)) * np.maximum(high_shift - low_shift, 0.0)
    shift = np.minimum(shift, np.maximum(high_shift, 0.0))  # rounding: never push a point out
    return Camera(rot, trans, focal, size / 2.0 + shift, size)


def yaw_matrix(angle: np.ndarray) -> np.ndarray:
    """Rotations about the vertical (y) axis by ``angle`` radians, ``(...,)`` -> ``(..., 3, 3)``.

    A positive angle turns +z towards +x (right-handed, y up).
    """
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(angle.shape + (3, 3))
    out[..., 0, 0], out[..., 0, 2], out[..., 1, 1], out[..., 2, 0], out[..., 2, 2] = c, s, 1.0, -s, c
    return out


def random_placement(
    rng: np.random.Generator,
    batch: int,
    *,
    lateral: float = 1.0,
    depth: tuple[float, float] = (2.5, 8.0),
    camera_height: tuple[float, float] = (0.5, 2.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Random global heading and position for 3D / SMPL data, seen by a level virtual camera.

    The placed world keeps y up; the virtual camera is at the origin looking along +z, so +z is
    the depth direction of the corruption. The heading is uniform in [0, 2 pi); the person's
    ground point goes to ``x ~ U(-lateral, lateral)``, ``y = -camera height``, ``z ~ U(depth)``.

    Args:
        rng: random generator.
        batch: number of placements.
        lateral: half-range of the sideways offset, metres.
        depth: range of the distance along +z, metres.
        camera_height: range of the camera height above the floor, metres.

    Returns:
        ``(rotation (B, 3, 3), translation (B, 3))`` for :func:`place`: the clip is first rotated
        about its own starting ground point (pass it as ``origin``), then translated.
    """
    heading = yaw_matrix(rng.uniform(0.0, 2.0 * np.pi, size=batch))
    trans = np.stack(
        [
            rng.uniform(-lateral, lateral, size=batch),
            -rng.uniform(*camera_height, size=batch),
            rng.uniform(*depth, size=batch),
        ],
        axis=-1,
    )
    return heading, trans


def place(
    points: np.ndarray, rotation: np.ndarray, translation: np.ndarray, origin: np.ndarray | None = None
) -> np.ndarray:
    """``rotation @ (points - origin) + translation`` per batch item.

    Shape:
        points ``(B, ..., 3)``, rotation ``(B, 3, 3)``, translation ``(B, 3)``, origin ``(B, 3)``
        (default zero) -> ``(B, ..., 3)`` in ``points``' dtype.
    """
    points = np.asarray(points)
    b = points.shape[0]
    extra = (None,) * (points.ndim - 2)
    origin = np.zeros((b, 3)) if origin is None else np.asarray(origin)
    rel = points - origin[(slice(None),) + extra]
    out = (rel.reshape(b, -1, 3) @ np.swapaxes(np.asarray(rotation), -1, -2)).reshape(rel.shape)
    out = out + np.asarray(translation)[(slice(None),) + extra]
    return out.astype(points.dtype if np.issubdtype(points.dtype, np.floating) else np.float64, copy=False)
