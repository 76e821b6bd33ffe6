"""The crop: the listener's face cut from the frame as the model's training data was cut, and smoothed when the
camera's pixels are noisy, as the model was scored."""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from moodbox.perception.boxes import Face, eye_tilt_deg

INTERPOLATIONS = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}
BORDERS = {"replicate": cv2.BORDER_REPLICATE, "constant": cv2.BORDER_CONSTANT}
DENOISE_FILTERS = ("bilateral",)
NOISE_MASK = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)  # Immerkaer 1996: flat and linear shading -> 0


def crop_face(gray: np.ndarray, face: Face, size: tuple[int, int], convention: dict) -> np.ndarray:
    """Cut the face as the model's training data was cut (``face_crop`` of the model JSON), smoothed per its
    ``denoise`` when the face's pixels are noisy (:func:`denoised`); uint8 (h, w).

    A box of ``scale`` times the face box (a square of side scale * max(w, h) when ``square``), centred on the
    face and moved down by ``center_shift_y`` * max(w, h) (negative: up; the detector's box sits lower on the face
    than the training crops did), pixels outside the frame filled per ``border``, resized to ``size`` (height, width)
    with ``interpolation``. A box smaller than ``size`` (a distant face) is enlarged with ``enlarge_interpolation``
    (INTER_AREA is made for shrinking) in one warp straight from the frame, turned as below: resampling a face of
    a few dozen pixels twice (turned, then enlarged) blurs it (`moodbox bench --sweep` reads such faces better).
    With ``align_eyes`` and a face that has eye keypoints, the box is turned with the eyes (the shift follows the
    face's own vertical) and the crop comes out with the eyes level, as FER2013's faces are registered; only
    when the eye line is tilted by at least ``align_min_deg`` and the face box is at least ``align_min_px``
    wide (BlazeFace's eye keypoints are off by ~7 deg on average, more on small faces: smaller tilts are noise).
    """
    scale = float(convention["scale"])
    box_w, box_h = (max(face.w, face.h),) * 2 if convention.get("square", True) else (face.w, face.h)
    crop_w, crop_h = max(1, round(scale * box_w)), max(1, round(scale * box_h))
    shift_y = float(convention.get("center_shift_y", 0.0)) * max(face.w, face.h)
    border = BORDERS[convention.get("border", "replicate")]
    angle, tilt = 0.0, eye_tilt_deg(face)
    if (convention.get("align_eyes", False) and tilt is not None
            and max(face.w, face.h) >= convention.get("align_min_px", 0)
            and abs(tilt) >= max(convention.get("align_min_deg", 0), 1e-6)):
        angle = np.radians(tilt)
    cos, sin = np.cos(angle), np.sin(angle)
    centre_x, centre_y = face.x + face.w / 2 - sin * shift_y, face.y + face.h / 2 + cos * shift_y
    if scale * box_w < size[1] and scale * box_h < size[0]:
        interpolation = INTERPOLATIONS[convention.get("enlarge_interpolation", convention.get("interpolation", "area"))]
        # from the output's pixel centres to the frame's (pixel i covers [i, i + 1) in box coordinates)
        step_x, step_y = scale * box_w / size[1], scale * box_h / size[0]
        to_frame = np.array([[cos * step_x, -sin * step_y, 0.0], [sin * step_x, cos * step_y, 0.0]])
        to_frame[:, 2] = (np.array([centre_x, centre_y]) - 0.5
                          - to_frame[:, :2] @ np.array([size[1] / 2 - 0.5, size[0] / 2 - 0.5]))
        enlarged = cv2.warpAffine(gray, to_frame, (size[1], size[0]), flags=interpolation | cv2.WARP_INVERSE_MAP,
                                  borderMode=border)
        # enlarging smears the noise over several pixels: it is measured on the camera's own pixels of the face
        camera_pixels = _inside(gray, round(centre_x - crop_w / 2), round(centre_y - crop_h / 2), crop_w, crop_h).pixels
        return denoised(enlarged, convention.get("denoise"), camera_pixels)
    interpolation = INTERPOLATIONS[convention.get("interpolation", "area")]
    if angle:
        to_crop = np.array([[cos, sin, crop_w / 2 - (cos * centre_x + sin * centre_y)],
                            [-sin, cos, crop_h / 2 - (-sin * centre_x + cos * centre_y)]])
        patch = cv2.warpAffine(gray, to_crop, (crop_w, crop_h), flags=cv2.INTER_LINEAR, borderMode=border)
        return denoised(cv2.resize(patch, (size[1], size[0]), interpolation=interpolation), convention.get("denoise"))
    x0 = round(centre_x - crop_w / 2)
    y0 = round(centre_y - crop_h / 2)
    inside = _inside(gray, x0, y0, crop_w, crop_h)
    patch, top, left = inside.pixels, inside.top - y0, inside.left - x0
    bottom, right = crop_h - top - patch.shape[0], crop_w - left - patch.shape[1]
    if top or left or bottom or right:
        patch = cv2.copyMakeBorder(patch, max(top, 0), max(bottom, 0), max(left, 0), max(right, 0), border)
        patch = patch[max(-top, 0):, max(-left, 0):][:crop_h, :crop_w]
    return denoised(cv2.resize(patch, (size[1], size[0]), interpolation=interpolation), convention.get("denoise"))


class _Inside(NamedTuple):
    pixels: np.ndarray
    left: int
    top: int


def _inside(gray: np.ndarray, x0: int, y0: int, w: int, h: int) -> _Inside:
    """The part of the box (x0, y0, w, h) inside the frame (at least one pixel), and its corner."""
    height, width = gray.shape
    left, top = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
    right, bottom = max(min(x0 + w, width), left + 1), max(min(y0 + h, height), top + 1)
    return _Inside(gray[top:bottom, left:right], left, top)


def noise_level(pixels: np.ndarray) -> float:
    """The sensor noise of ``pixels`` (uint8 (h, w)) as a standard deviation in grey levels: the median absolute
    response of a high-pass that cancels smooth shading (Immerkaer's 3x3 mask), scaled as for Gaussian noise. The
    median, not the mean, so that the few strong edges of brows, eyes and mouth do not count as noise."""
    if min(pixels.shape) < 3:
        return 0.0
    response = np.abs(cv2.filter2D(pixels, cv2.CV_32F, NOISE_MASK)[1:-1, 1:-1]).ravel()
    middle = response.size // 2  # np.partition: a third of np.median's time, which sorts
    return float(np.partition(response, middle)[middle]) / 6 / 0.6745


def denoised(crop: np.ndarray, denoise: dict | None, camera_pixels: np.ndarray | None = None) -> np.ndarray:
    """``crop`` (uint8 (h, w), the model's input) through the filter of ``face_crop.denoise`` of the model JSON when
    the face's pixels are noisy: their :func:`noise_level` reaches ``min_noise`` grey levels (``camera_pixels``:
    the face at the camera's own resolution, for a crop that was enlarged; else the crop itself); unchanged
    otherwise, or without ``denoise``. In a dim room sensor noise costs the model more than dimness or blur, and
    enlarging a far face turns it into blobs the model takes for features; a bilateral filter (OpenCV's:
    ``diameter`` px, ``sigma_color`` grey levels, ``sigma_space`` px) smooths it and keeps the edges of brows, eyes
    and mouth. A clean face is left alone, since smoothing it costs a far face some of its detail (chosen in
    ``training/choose_denoise.py``)."""
    if not denoise or noise_level(crop if camera_pixels is None else camera_pixels) < float(denoise["min_noise"]):
        return crop
    return cv2.bilateralFilter(crop, int(denoise["diameter"]), float(denoise["sigma_color"]),
                               float(denoise["sigma_space"]))
