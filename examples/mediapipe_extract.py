"""Run MediaPipe Pose on a video and save its 33 landmarks per frame in pixels.

This script runs in its own environment, not the library's (MediaPipe pins ``numpy<2``)::

    python3 -m venv /work/venv-mp
    /work/venv-mp/bin/pip install mediapipe==0.10.21 "numpy<2" opencv-python-headless
    pip download --no-deps sports2d==0.8.34 -d /tmp/s2d
    unzip -o /tmp/s2d/sports2d-0.8.34-py3-none-any.whl Sports2D/Demo/demo.mp4 -d /tmp/s2d
    /work/venv-mp/bin/python examples/mediapipe_extract.py /tmp/s2d/Sports2D/Demo/demo.mp4 --both

It uses the legacy ``mediapipe.solutions.pose`` API, whose pose detector and landmark model
(``model_complexity=1``, "full") ship inside the wheel, so it runs offline on the CPU. The
pose runs in video (tracking) mode: the detector runs only when the tracker loses the person.

MediaPipe's own landmark smoothing is OFF by default here (``--mediapipe-smoothing`` turns it
on): the file is meant to show what a per-frame estimator outputs, jitter included, as
ViTPose, RTMPose or OpenPose do. Both variants are stored when ``--both`` is given.

Output (``.npz``, float32):
    landmarks: (T, 33, 2) x, y in pixels of the original frame; NaN where no person was found.
    visibility: (T, 33) MediaPipe visibility in [0, 1]; NaN where no person was found.
    landmarks_mp_smoothed, visibility_mp_smoothed: the same with MediaPipe's smoothing on
        (only with ``--both``).
    fps: frames per second of the video.
    image_size: (width, height) in pixels.
    frame_indices: indices of the frames saved as JPEG next to the file.
    source: a string naming the video, the estimator and its settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np

NUM_LANDMARKS = 33


def run_pose(video: Path, *, model_complexity: int, smooth: bool) -> tuple[np.ndarray, np.ndarray, float, tuple[int, int]]:
    """Run MediaPipe Pose over every frame of ``video``.

    Returns:
        (landmarks (T, 33, 2) in pixels, visibility (T, 33), fps, (width, height)).
    """
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise FileNotFoundError(f"cannot open video {video}; pass the path of a readable video file")
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    points, vis = [], []
    with mp.solutions.pose.Pose(
        static_image_mode=False,  # video mode: track the person between frames
        model_complexity=model_complexity,
        smooth_landmarks=smooth,
        enable_segmentation=False,
        min_detection_confidence=0.5,
        min_tracking_confidence=0.5,
    ) as pose:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            result = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if result.pose_landmarks is None:
                points.append(np.full((NUM_LANDMARKS, 2), np.nan))
                vis.append(np.full(NUM_LANDMARKS, np.nan))
                continue
            lm = result.pose_landmarks.landmark
            # MediaPipe gives x, y normalised by the frame's width and height.
            points.append(np.array([[p.x * width, p.y * height] for p in lm]))
            vis.append(np.array([p.visibility for p in lm]))
    cap.release()
    if not points:
        raise ValueError(f"no frame could be read from {video}")
    return np.asarray(points, np.float32), np.asarray(vis, np.float32), fps, (width, height)


def save_frames(video: Path, indices: list[int], out_dir: Path, *, width: int, quality: int) -> list[Path]:
    """Save the frames ``indices`` of ``video`` as JPEGs ``width`` pixels wide."""
    cap = cv2.VideoCapture(str(video))
    wanted, paths, i = set(indices), [], 0
    while wanted:
        ok, frame = cap.read()
        if not ok:
            break
        if i in wanted:
            h, w = frame.shape[:2]
            small = cv2.resize(frame, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
            path = out_dir / f"demo_frame_{i}.jpg"
            cv2.imwrite(str(path), small, [cv2.IMWRITE_JPEG_QUALITY, quality])
            paths.append(path)
            wanted.discard(i)
        i += 1
    cap.release()
    if wanted:
        raise ValueError(f"frames {sorted(wanted)} are past the end of {video} ({i} frames)")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("video", type=Path, help="input video, e.g. Sports2D/Demo/demo.mp4")
    parser.add_argument("--out", type=Path, default=Path("examples/data/demo_mediapipe33.npz"))
    parser.add_argument("--model-complexity", type=int, default=1, choices=(0, 1),
                        help="0 lite, 1 full (both ship in the wheel; 2 'heavy' needs a download)")
    parser.add_argument("--mediapipe-smoothing", action="store_true",
                        help="store MediaPipe's own smoothed landmarks as `landmarks`")
    parser.add_argument("--both", action="store_true",
                        help="also store the other variant as landmarks_mp_smoothed / landmarks_raw")
    parser.add_argument("--frames", type=int, nargs="*", default=[20, 80, 150, 215],
                        help="frame indices to save as JPEG for overlay plots")
    parser.add_argument("--frame-width", type=int, default=640)
    parser.add_argument("--jpeg-quality", type=int, default=80)
    parser.add_argument("--source-name", default="Sports2D 0.8.34 demo video (Sports2D/Demo/demo.mp4, "
                                                  "BSD-3-Clause, https://github.com/davidpagnon/Sports2D)")
    args = parser.parse_args(argv)
    if not args.video.is_file():
        raise FileNotFoundError(f"video {args.video} does not exist; see the module docstring for how to get it")

    smooth = args.mediapipe_smoothing
    landmarks, visibility, fps, size = run_pose(args.video, model_complexity=args.model_complexity, smooth=smooth)
    extra = {}
    if args.both:
        other, other_vis, _, _ = run_pose(args.video, model_complexity=args.model_complexity, smooth=not smooth)
        suffix = "raw" if smooth else "mp_smoothed"
        extra = {f"landmarks_{suffix}": other, f"visibility_{suffix}": other_vis}

    source = (f"{args.source_name}; MediaPipe Pose {mp.__version__} (legacy solutions API, "
              f"model_complexity={args.model_complexity}, static_image_mode=False, "
              f"smooth_landmarks={smooth}, min_detection/tracking_confidence=0.5)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, landmarks=landmarks, visibility=visibility, fps=np.float32(fps),
        image_size=np.array(size, np.int32), frame_indices=np.array(args.frames, np.int32),
        source=np.array(source), **extra,
    )
    frames = save_frames(args.video, args.frames, args.out.parent, width=args.frame_width,
                         quality=args.jpeg_quality)
    meta = {
        "npz": args.out.name, "frames": {str(i): p.name for i, p in zip(args.frames, frames)},
        "frame_scale": args.frame_width / size[0], "fps": fps, "image_size": list(size), "source": source,
    }
    (args.out.parent / "demo_frames.json").write_text(json.dumps(meta, indent=2) + "\n")

    found = np.isfinite(landmarks[:, 0, 0])
    print(f"{args.out}: {len(landmarks)} frames at {fps:g} fps, {size[0]}x{size[1]} px, "
          f"person found in {found.sum()} frames; saved {len(frames)} JPEGs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
