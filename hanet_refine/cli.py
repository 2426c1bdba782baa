"""``hanet-refine``: refine the keypoints an estimator wrote, file to file.

Usage::

    hanet-refine INPUT -o OUTPUT [--format auto|openpose|coco|mmpose|mediapipe|npy]
                 [--kind 2d|3d|smpl] [--layout NAME] [--fps FPS] [--weights W] [--device D] [--up AXIS]
                 [--fill-gaps] [--max-gap N] [--image-size W H] [--overwrite] [--quiet]

Exit codes (for scripts):
    0: refined and written.
    2: bad usage or bad input (unknown option, missing or corrupt input, unknown format,
       output exists, no weights for the layout...). Nothing was written.
    1: any other failure. Nothing was written.
    130: interrupted (Ctrl-C). Nothing was written.

Errors are one line on stderr, ``hanet-refine: error: <message>``; warnings are one line,
``hanet-refine: warning: <message>``. A one-line summary goes to stdout unless ``--quiet``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import TextIO

PROG = "hanet-refine"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

_EPILOG = """\
examples:
  hanet-refine output_json/ -o refined_json/            # OpenPose --write_json folder
  hanet-refine results.json -o refined.json             # ViTPose / MMPose / RTMPose COCO results
  hanet-refine video.json -o refined.json               # MMPoseInferencer predictions
  hanet-refine landmarks.json -o out.json --image-size 1920 1080   # MediaPipe Pose
  hanet-refine poses.npy -o refined.npy --kind 3d       # (T, J, 3) or (N, T, J, 3) array, any axis up
  hanet-refine poses.npy -o refined.npy --kind 3d --up=-y  # say it: camera coordinates, y down

exit codes: 0 ok, 2 bad usage or input, 1 other failure, 130 interrupted;
nothing is written unless the exit code is 0.
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line a script can parse, no usage block
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``hanet-refine``."""
    from .io import FORMATS
    from .layouts import LAYOUTS
    from .missing import DEFAULT_CONFIDENCE_THRESHOLD
    from .tracking import DEFAULT_MAX_GAP

    p = _Parser(
        prog=PROG,
        description="Refine pose keypoints written by OpenPose, ViTPose/MMPose/RTMPose (COCO results\n"
        "or MMPose predictions), MediaPipe or NumPy with HANet: jitter removed, missing joints\n"
        "repaired. Each person is tracked and refined on their own; the output has the input's\n"
        "format with only the keypoints changed.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "input", help="estimator output: a file, or a folder (OpenPose --write_json, MMPose per-image)"
    )
    p.add_argument("-o", "--output", required=True, help="where to write the refined keypoints (same format)")
    p.add_argument(
        "--format",
        default="auto",
        choices=("auto", *FORMATS),
        help="input format (default: detected from the file)",
    )
    p.add_argument(
        "--kind",
        choices=("2d", "3d", "smpl"),
        default=None,
        help="what the keypoints are (default: from the file; arrays: 2d)",
    )
    p.add_argument(
        "--layout",
        choices=sorted(LAYOUTS),
        default=None,
        help="keypoint layout (default: from the format and joint count)",
    )
    p.add_argument(
        "--fps", type=float, default=None, help="frame rate of the video (default: the model's, 30)"
    )
    p.add_argument(
        "--weights",
        default=None,
        help="registered model name, model folder, .safetensors file or Hub repo id "
        "(default: the pretrained model for the kind and layout)",
    )
    p.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: cpu)")
    p.add_argument(
        "--up",
        choices=("+y", "-y", "+z", "-z", "+x", "-x"),
        default=None,
        help="3d only: the input's up axis, e.g. --up=-y for camera coordinates (default: read from the data)",
    )
    p.add_argument(
        "--fill-gaps",
        action="store_true",
        help="also write refined keypoints the estimator missed and people in frames where they "
        "were not detected (between their first and last detection)",
    )
    p.add_argument(
        "--fill-score",
        type=float,
        default=DEFAULT_CONFIDENCE_THRESHOLD,
        metavar="S",
        help="score written for filled keypoints (default: %(default)s)",
    )
    p.add_argument(
        "--max-gap",
        type=int,
        default=DEFAULT_MAX_GAP,
        metavar="N",
        help="frames a person may be undetected and keep their track (default: %(default)s)",
    )
    p.add_argument(
        "--ignore-track-ids",
        action="store_true",
        help="link people anew even when the file has track ids (arrays: tracks are the first axis)",
    )
    p.add_argument(
        "--write-track-ids",
        action="store_true",
        help="store track ids in the output (OpenPose person_id, COCO/MMPose track_id)",
    )
    p.add_argument(
        "--image-size",
        type=float,
        nargs=2,
        metavar=("W", "H"),
        default=None,
        help="video width and height in pixels (MediaPipe files without image_width/height)",
    )
    p.add_argument("--key", default=None, help="array to refine in an .npz file (default: 'keypoints')")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output, or the input itself")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    p.add_argument("--traceback", action="store_true", help="print the full traceback on errors")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    return p


def _version() -> str:
    from . import __version__

    return __version__


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` for the command line: one line, no source location."""
    sys.stderr.write(f"{PROG}: warning: {_one_line(Warning(str(message)))}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``hanet-refine`` with ``argv`` (default: ``sys.argv[1:]``).

    Returns:
        The exit code: 0 ok, 2 bad usage or input, 1 other failure, 130 interrupted.
    """
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse exits on --help, --version and usage errors
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE if exit_.code else EXIT_OK

    from .io import refine_file

    progress = not args.quiet and sys.stderr.isatty()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            summary = refine_file(
                args.input,
                args.output,
                format=args.format,
                kind=args.kind,
                layout=args.layout,
                image_size=tuple(args.image_size) if args.image_size else None,
                key=args.key,
                weights=args.weights,
                device=args.device,
                up=args.up,
                fps=args.fps,
                fill_gaps=args.fill_gaps,
                fill_score=args.fill_score,
                max_gap=args.max_gap,
                use_track_ids=not args.ignore_track_ids,
                write_track_ids=args.write_track_ids,
                overwrite=args.overwrite,
                progress=progress,
            )
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: error: interrupted; nothing was written\n")
        return EXIT_INTERRUPTED
    except (FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError, ValueError) as err:
        if args.traceback:
            traceback.print_exc()
        sys.stderr.write(f"{PROG}: error: {_one_line(err)}\n")
        return EXIT_USAGE
    except Exception as err:  # noqa: BLE001 - anything else is our failure: say what, in one line
        if args.traceback:
            traceback.print_exc()
        sys.stderr.write(
            f"{PROG}: error: {type(err).__name__}: {_one_line(err)} (rerun with --traceback for details)\n"
        )
        return EXIT_FAILURE
    if not args.quiet:
        how = "linked by the tracker" if summary.linked else "from the file"
        filled = f", {summary.added_detections} detections filled" if args.fill_gaps else ""
        skipped = (
            f", {summary.skipped_tracks} left unchanged (no usable keypoint)"
            if summary.skipped_tracks
            else ""
        )
        print(
            f"refined {summary.tracks - summary.skipped_tracks} tracks ({how}){skipped} of "
            f"{summary.detections} "
            f"detections in {summary.frames} frames ({summary.format}, {summary.layout}){filled} -> "
            f"{summary.output}"
        )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
