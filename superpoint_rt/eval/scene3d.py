"""A small rendered 3-D scene with exact ground truth: textured boxes on a textured ground, a known camera path.

Where the bundled sample video is a plane (its ground truth is one homography per frame), this scene has depth:
boxes at several distances, a ground plane running from under the camera to the horizon, a back wall, and a camera
that moves forward, sideways and turns. Every point of frame j therefore has a true position in frame k that no
single homography gives; :meth:`Scene.transfer` computes it, or says that there is none (the point sits on an
occlusion boundary, or is hidden or out of view in frame k).

Conventions: world X right, Y **down**, Z forward, in metres; the ground is the plane Y = 0 (the camera flies at
negative Y). A camera maps a world point X to ``X_c = R X + t`` and to the pixel ``K X_c / Z_c``; pixel centres are
at integers, (x, y) = (column, row), as everywhere in the package.

Rendering (NumPy + OpenCV, no GPU): every face is a textured rectangle (origin, two orthonormal edge directions, two
extents). For each pixel the camera ray is intersected with the face's plane (the plane-induced homography, evaluated
per pixel), the texture is read with ``cv2.remap`` at the hit point, and a per-pixel depth test keeps the nearest
face. Frames are rendered at ``supersample`` x the resolution and reduced with ``cv2.INTER_AREA`` (anti-aliased
edges and textures); the depth and face-id maps are computed at the output resolution, exactly at pixel centres.
Textures are procedural (random-level checkerboards, rectangles, discs and noise: plenty of corners), all from one
seed, so a scene is reproducible bit for bit.

Example::

    scene = make_scene(seed=0)  # 240x320, 24 frames
    frames = scene.render_all()  # [RenderedFrame(image uint8, depth float32, face int16)]
    pos, status = scene.transfer(points_in_frame_3, 3, 4, frames)  # true positions in frame 4
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "BOUNDARY",
    "HIDDEN",
    "NO_SURFACE",
    "VISIBLE",
    "Camera",
    "Face",
    "RenderedFrame",
    "Scene",
    "box_faces",
    "intrinsics",
    "look_camera",
    "make_scene",
    "procedural_texture",
]

#: :meth:`Scene.transfer` status codes
VISIBLE, BOUNDARY, NO_SURFACE, HIDDEN = 0, 1, 2, 3
#: nearest depth rendered, metres
NEAR = 0.05


@dataclass(frozen=True)
class Face:
    """A textured rectangle: the points ``origin + s u + t v`` for s in [0, size[0]], t in [0, size[1]].

    ``u`` and ``v`` are orthonormal; texel column c covers s in [c, c + 1] * size[0] / texture width (rows alike).
    ``shade`` scales the texture's brightness (a fixed light: faces of a box differ, so its edges show).
    """

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    size: tuple[float, float]
    texture: np.ndarray
    shade: float = 1.0

    def __post_init__(self) -> None:
        for name in ("origin", "u", "v"):
            a = np.asarray(getattr(self, name), np.float64).reshape(-1)
            if a.shape != (3,) or not np.isfinite(a).all():
                raise ValueError(f"Face.{name} must be a finite 3-vector, got {getattr(self, name)!r}")
            object.__setattr__(self, name, a)
        if (
            abs(np.linalg.norm(self.u) - 1) > 1e-9
            or abs(np.linalg.norm(self.v) - 1) > 1e-9
            or abs(self.u @ self.v) > 1e-9
        ):
            raise ValueError("Face.u and Face.v must be orthonormal")
        if not (self.size[0] > 0 and self.size[1] > 0):
            raise ValueError(f"Face.size must be positive, got {self.size}")
        tex = np.asarray(self.texture)
        if tex.ndim != 2 or tex.dtype != np.uint8 or min(tex.shape) < 1:
            raise ValueError(f"Face.texture must be a 2-D uint8 image, got {tex.dtype} {tex.shape}")

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.u, self.v)

    @property
    def corners(self) -> np.ndarray:
        """(4, 3) the rectangle's corners: origin, +u, +u+v, +v."""
        su, sv = self.size
        o, u, v = self.origin, self.u, self.v
        return np.stack([o, o + su * u, o + su * u + sv * v, o + sv * v])


@dataclass(frozen=True)
class Camera:
    """A pinhole camera: ``X_c = R X_w + t``, pixel ``K X_c / Z_c``."""

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray

    @property
    def center(self) -> np.ndarray:
        """The camera centre in world coordinates, ``-R^T t``."""
        return np.asarray(-self.R.T @ self.t, np.float64)

    def to_camera(self, points_w: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 3) camera coordinates."""
        return np.asarray(points_w, np.float64).reshape(-1, 3) @ self.R.T + self.t

    def project(self, points_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) world points -> ((N, 2) pixels x, y; (N,) depth Z_c). Points behind the camera get NaN pixels."""
        pc = self.to_camera(points_w)
        z = pc[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = (pc @ self.K.T)[:, :2] / z[:, None]
        uv[z <= 0] = np.nan
        return uv, z


@dataclass(frozen=True)
class RenderedFrame:
    """One frame: ``image`` (H, W) uint8 gray; ``depth`` (H, W) float32 Z_c at pixel centres (inf: no surface);
    ``face`` (H, W) int16 index into ``Scene.faces`` of the surface seen at each pixel centre (-1: none)."""

    image: np.ndarray
    depth: np.ndarray
    face: np.ndarray


def intrinsics(width: int, height: int, focal: float) -> np.ndarray:
    """K with the principal point at the image centre ((W - 1) / 2, (H - 1) / 2: pixel centres at integers)."""
    return np.array([[focal, 0.0, (width - 1) / 2.0], [0.0, focal, (height - 1) / 2.0], [0.0, 0.0, 1.0]])


def look_camera(K: np.ndarray, center: Sequence[float], yaw: float = 0.0, pitch: float = 0.0) -> Camera:
    """A camera at ``center`` (world) looking along Z turned by ``yaw`` (radians, positive: towards +X) and
    tilted by ``pitch`` (positive: down, towards +Y); no roll. yaw = pitch = 0 gives R = I."""
    c = np.asarray(center, np.float64)
    fwd = np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch), math.cos(yaw) * math.cos(pitch)])
    down = np.array([0.0, 1.0, 0.0])
    x = np.cross(down, fwd)
    x /= np.linalg.norm(x)
    y = np.cross(fwd, x)
    R = np.stack([x, y, fwd])
    return Camera(np.asarray(K, np.float64), R, -R @ c)


# ---------------------------------------------------------------------------------------------------------------------
# Textures
# ---------------------------------------------------------------------------------------------------------------------


def procedural_texture(rng: np.random.Generator, height: int, width: int, kind: str = "mixed") -> np.ndarray:
    """A (height, width) uint8 texture with many corners.

    kinds: ``"checker"`` (cells of random grey levels, 6-16 texels), ``"shapes"`` (random rectangles of 4-28
    texels a side and discs of radius 3-14 on smooth noise), ``"mixed"`` (a checker of random cell size overlaid
    with shapes). Lightly blurred (sigma 0.6 texel) so that sampling does not alias.
    """
    if kind not in ("checker", "shapes", "mixed"):
        raise ValueError(f"unknown texture kind {kind!r}")
    coarse = rng.uniform(60, 190, (max(2, height // 24), max(2, width // 24)))
    tex: np.ndarray = cv2.resize(coarse, (width, height)).astype(np.float64)
    if kind in ("checker", "mixed"):
        cell = int(rng.integers(6, 17))
        levels = rng.uniform(20, 235, (height // cell + 1, width // cell + 1))
        checker: np.ndarray = np.kron(levels, np.ones((cell, cell)))[:height, :width]
        tex = checker if kind == "checker" else 0.5 * checker + 0.5 * tex
    if kind in ("shapes", "mixed"):
        for _ in range(max(4, height * width // 500)):
            level = float(rng.uniform(0, 255))
            x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
            if rng.random() < 0.6:
                w, h = int(rng.integers(4, 29)), int(rng.integers(4, 29))
                cv2.rectangle(tex, (x0, y0), (x0 + w, y0 + h), level, -1)
            else:
                cv2.circle(tex, (x0, y0), int(rng.integers(3, 15)), level, -1)
    blurred = cv2.GaussianBlur(tex, (0, 0), 0.6)
    return np.clip(blurred + 0.5, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------------------------------
# The scene
# ---------------------------------------------------------------------------------------------------------------------


def _face_in_camera(face: Face, cam: Camera) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, np.ndarray]:
    """The face's plane in camera coordinates: (normal n_c, n_c . o_c, o_c, R u, R v)."""
    n_c = cam.R @ face.normal
    o_c = cam.R @ face.origin + cam.t
    return n_c, float(n_c @ o_c), o_c, cam.R @ face.u, cam.R @ face.v


def _pixel_box(face: Face, cam: Camera, K: np.ndarray, height: int, width: int) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) the pixels (exclusive end) the face can cover, or None if it cannot be seen; the whole
    image when the face crosses the near plane."""
    pc = cam.to_camera(face.corners)
    if (pc[:, 2] <= NEAR).all():
        return None
    if (pc[:, 2] <= NEAR).any():
        return 0, 0, width, height
    uv = (pc @ K.T)[:, :2] / pc[:, 2:3]
    x0, y0 = np.floor(uv.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    return None if x0 >= x1 or y0 >= y1 else (int(x0), int(y0), int(x1), int(y1))


def _hits(
    face: Face, cam: Camera, K_inv: np.ndarray, xs: np.ndarray, ys: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For pixel centres (xs, ys) (broadcastable arrays): depth Z_c of the ray's hit on the face's plane, the hit's
    face coordinates (s, t), and whether it lies on the face in front of the near plane."""
    n_c, d, o_c, ru, rv = _face_in_camera(face, cam)
    rx = K_inv[0, 0] * xs + K_inv[0, 1] * ys + K_inv[0, 2]  # the ray (rx, ry, 1) through the pixel (K has no skew
    ry = K_inv[1, 1] * ys + K_inv[1, 2]  # in our scenes, but K_inv[0, 1] keeps a general one right)
    denom = n_c[0] * rx + n_c[1] * ry + n_c[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = d / denom
    s = z * (ru[0] * rx + ru[1] * ry + ru[2]) - ru @ o_c
    t = z * (rv[0] * rx + rv[1] * ry + rv[2]) - rv @ o_c
    su, sv = face.size
    on = np.isfinite(z) & (z > NEAR) & (s >= 0) & (s <= su) & (t >= 0) & (t <= sv)
    return z, s, t, on


@dataclass(frozen=True)
class Scene:
    """Faces, one camera per frame, the image size and the background grey level (see the module docstring)."""

    faces: tuple[Face, ...]
    cameras: tuple[Camera, ...]
    height: int
    width: int
    background: float = 140.0
    supersample: int = 2
    noise: float = 0.0
    seed: int = 0

    def __len__(self) -> int:
        return len(self.cameras)

    def _maps(self, k: int, scale: int, with_image: bool) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        cam = self.cameras[k]
        h, w = self.height * scale, self.width * scale
        off = (scale - 1) / 2.0  # output pixel x covers rendered pixels scale*x .. scale*x + scale-1
        S = np.array([[scale, 0, off], [0, scale, off], [0, 0, 1.0]])
        K = S @ cam.K
        K_inv = np.linalg.inv(K)
        depth = np.full((h, w), np.inf, np.float32)
        face_id = np.full((h, w), -1, np.int16)
        image = np.full((h, w), self.background, np.float32) if with_image else None
        for fi, face in enumerate(self.faces):
            box = _pixel_box(face, cam, K, h, w)
            if box is None:
                continue
            x0, y0, x1, y1 = box
            xs = np.arange(x0, x1, dtype=np.float64)[None, :]
            ys = np.arange(y0, y1, dtype=np.float64)[:, None]
            z, s, t, on = _hits(face, cam, K_inv, xs, ys)
            sub = depth[y0:y1, x0:x1]
            nearer = on & (z < sub)
            if not nearer.any():
                continue
            sub[nearer] = z[nearer]
            face_id[y0:y1, x0:x1][nearer] = fi
            if image is not None:
                th, tw = face.texture.shape
                mx = (s * (tw / face.size[0]) - 0.5).astype(np.float32)
                my = (t * (th / face.size[1]) - 0.5).astype(np.float32)
                mx = np.broadcast_to(mx, nearer.shape).copy()
                my = np.broadcast_to(my, nearer.shape).copy()
                mx[~nearer] = 0
                my[~nearer] = 0
                tex = cv2.remap(face.texture, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
                image[y0:y1, x0:x1][nearer] = tex[nearer].astype(np.float32) * np.float32(face.shade)
        return image, depth, face_id

    def render(self, k: int) -> RenderedFrame:
        """Frame k: the gray image (rendered at ``supersample`` x and reduced), depth and face id at pixel centres."""
        if not 0 <= k < len(self.cameras):
            raise IndexError(f"frame {k} out of range (0..{len(self.cameras) - 1})")
        ss = int(self.supersample)
        big, _, _ = self._maps(k, ss, True)
        assert big is not None
        img = cv2.resize(big, (self.width, self.height), interpolation=cv2.INTER_AREA) if ss > 1 else big
        if self.noise > 0:
            img = img + np.random.default_rng([self.seed, k]).normal(0.0, self.noise, img.shape)
        _, depth, face = self._maps(k, 1, False)
        return RenderedFrame(np.clip(img + 0.5, 0, 255).astype(np.uint8), depth, face)

    def render_all(self) -> list[RenderedFrame]:
        return [self.render(k) for k in range(len(self.cameras))]

    @staticmethod
    def _continues(f: int, n_c: np.ndarray, d: float, K_inv: np.ndarray, depth: np.ndarray, x: int, y: int) -> bool:
        """Whether every pixel centre of the 3x3 around (x, y) sees a surface at the depth of face f's plane there
        (within 1%): an edge where faces meet (a box's edge, its foot on the ground), not an occlusion edge."""
        h, w = depth.shape
        if not (1 <= x < w - 1 and 1 <= y < h - 1):
            return False
        xs, ys = np.meshgrid(np.arange(x - 1, x + 2, dtype=np.float64), np.arange(y - 1, y + 2, dtype=np.float64))
        rays = np.stack([xs, ys, np.ones_like(xs)], axis=-1) @ K_inv.T
        with np.errstate(divide="ignore", invalid="ignore"):
            z_plane = d / (rays @ n_c)
        z = depth[y - 1 : y + 2, x - 1 : x + 2].astype(np.float64)
        return bool(np.all(np.isfinite(z) & (np.abs(z - z_plane) <= 0.01 * z_plane)))

    def transfer(
        self, points: np.ndarray, j: int, k: int, frames: Sequence[RenderedFrame]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The true position in frame k of points (x, y) of frame j.

        The surface under each point is the face seen at its nearest pixel centre in frame j; the ray through the
        (sub-pixel) point is intersected with that face's plane and the 3-D point projected into frame k.

        Returns:
            ((N, 2) float64 positions in frame k (NaN where there is none), (N,) int8 status):
            :data:`VISIBLE`; :data:`BOUNDARY` (the 3x3 pixels around the point in frame j see a depth jump: an
            occlusion edge or a silhouette, where a "point" is not one 3-D point; edges where faces meet, such as a
            box's edges, are not boundaries); :data:`NO_SURFACE` (the
            background, or outside frame j); :data:`HIDDEN` (in frame k the point is behind another surface, behind
            the camera or outside the image: its surface is not within the 3x3 pixels around its position).
        """
        p = np.asarray(points, np.float64).reshape(-1, 2)
        n = len(p)
        out = np.full((n, 2), np.nan)
        status = np.full(n, NO_SURFACE, np.int8)
        fj, fk = frames[j].face, frames[k].face
        h, w = fj.shape
        xi, yi = np.rint(p[:, 0]).astype(np.int64), np.rint(p[:, 1]).astype(np.int64)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        padded_j = np.pad(fj, 1, constant_values=-1)
        padded_k = np.pad(fk, 1, constant_values=-1)
        cam_j, cam_k = self.cameras[j], self.cameras[k]
        K_inv = np.linalg.inv(cam_j.K)
        for i in np.flatnonzero(inside):
            f = int(fj[yi[i], xi[i]])
            if f < 0:
                continue
            win = padded_j[yi[i] : yi[i] + 3, xi[i] : xi[i] + 3]
            n_c, d, _, _, _ = _face_in_camera(self.faces[f], cam_j)
            if (win != f).any() and not self._continues(f, n_c, d, K_inv, frames[j].depth, xi[i], yi[i]):
                status[i] = BOUNDARY
                continue
            ray = K_inv @ np.array([p[i, 0], p[i, 1], 1.0])
            x_c = ray * (d / float(n_c @ ray))
            x_w = cam_j.R.T @ (x_c - cam_j.t)
            uv, z = cam_k.project(x_w[None])
            out[i] = uv[0]
            status[i] = HIDDEN
            if z[0] > NEAR:
                xk, yk = int(np.rint(uv[0, 0])), int(np.rint(uv[0, 1]))
                if 0 <= xk < w and 0 <= yk < h and (padded_k[yk : yk + 3, xk : xk + 3] == f).any():
                    status[i] = VISIBLE
        return out, status


def box_faces(
    rng: np.random.Generator,
    center_xz: tuple[float, float],
    size: tuple[float, float, float],
    yaw: float = 0.0,
    texels_per_metre: float = 64.0,
) -> list[Face]:
    """The four sides and the top of a box standing on the ground (Y = 0): footprint centred at ``center_xz``,
    ``size`` = (width along its X, depth along its Z, height), turned by ``yaw`` radians about the vertical; each
    face with its own procedural texture and a shade from a fixed light."""
    w, dpt, hgt = size
    c, s = math.cos(yaw), math.sin(yaw)
    ex = np.array([c, 0.0, -s])  # the box's own X and Z axes in the world
    ez = np.array([s, 0.0, c])
    up = np.array([0.0, -1.0, 0.0])
    base = np.array([center_xz[0], 0.0, center_xz[1]]) - 0.5 * w * ex - 0.5 * dpt * ez  # corner (-x, -z) at the ground
    light = np.array([0.4, -0.8, -0.45])
    light /= np.linalg.norm(light)

    def face(origin: np.ndarray, u: np.ndarray, v: np.ndarray, su: float, sv: float) -> Face:
        th, tw = max(8, int(sv * texels_per_metre)), max(8, int(su * texels_per_metre))
        tex = procedural_texture(rng, th, tw, str(rng.choice(["checker", "shapes", "mixed"])))
        shade = 0.55 + 0.45 * abs(float(np.cross(u, v) @ light))
        return Face(origin, u, v, (su, sv), tex, shade)

    top = base + hgt * up
    return [
        face(top, ex, -up, w, hgt),  # front (-z): from the top edge down
        face(top + w * ex, ez, -up, dpt, hgt),  # right (+x)
        face(top + w * ex + dpt * ez, -ex, -up, w, hgt),  # back (+z)
        face(top + dpt * ez, -ez, -up, dpt, hgt),  # left (-x)
        face(top, ex, ez, w, dpt),  # top
    ]


def make_scene(
    seed: int = 0,
    frames: int = 24,
    height: int = 240,
    width: int = 320,
    *,
    boxes: int = 8,
    focal: float | None = None,
    noise: float = 1.0,
    supersample: int = 2,
) -> Scene:
    """The standard scene: ``boxes`` textured boxes (0.8-2.2 m wide, 0.6-2.4 m tall, 3.5-13 m ahead) on a 16 m x
    24 m textured ground, a textured back wall 22 m ahead, and a camera 1.5 m above the ground, tilted 12 degrees
    down, driving 0.12 m per frame forward while drifting sideways (0.4 m sine) and turning (yaw +-4 degrees), with a
    slight pitch wobble. Deterministic in ``seed``.

    Args:
        focal: px (default: 0.9 * width, about 58 degrees horizontal field of view).
        noise: std of the Gaussian pixel noise added to each frame (grey levels, seeded per frame).
    """
    if frames < 2:
        raise ValueError(f"frames must be >= 2, got {frames}")
    rng = np.random.default_rng(seed)
    faces: list[Face] = []
    ground_tex = procedural_texture(rng, 24 * 40, 16 * 40, "mixed")
    faces.append(Face(np.array([-8.0, 0.0, -2.0]), np.array([1.0, 0, 0]), np.array([0, 0, 1.0]), (16.0, 24.0),
                      ground_tex, 0.95))  # fmt: skip
    wall_tex = procedural_texture(rng, 5 * 24, 16 * 24, "shapes")
    faces.append(Face(np.array([-8.0, -5.0, 22.0]), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), (16.0, 5.0),
                      wall_tex, 0.8))  # fmt: skip
    placed: list[tuple[float, float]] = []
    while len(placed) < boxes:
        x, z = float(rng.uniform(-5.0, 5.0)), float(rng.uniform(3.5, 13.0))
        if abs(x) < 1.4 or any(math.hypot(x - a, z - b) < 2.4 for a, b in placed):
            continue  # keep the camera's path clear, and the boxes apart
        placed.append((x, z))
        size = (float(rng.uniform(0.8, 2.2)), float(rng.uniform(0.8, 2.2)), float(rng.uniform(0.6, 2.4)))
        faces.extend(box_faces(rng, (x, z), size, float(rng.uniform(-0.6, 0.6))))
    K = intrinsics(width, height, 0.9 * width if focal is None else float(focal))
    cams = []
    for k in range(frames):
        a = 2 * math.pi * k / frames
        center = (0.4 * math.sin(a), -1.5, 0.12 * k)
        yaw = math.radians(4.0) * math.sin(a + 0.7)
        pitch = math.radians(12.0 + 1.0 * math.sin(2 * a))
        cams.append(look_camera(K, center, yaw, pitch))
    return Scene(tuple(faces), tuple(cams), height, width, supersample=supersample, noise=noise, seed=seed)
