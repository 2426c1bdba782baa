"""Measure the 2D jitter of a real estimator (MediaPipe Pose on a real video) per COCO-17 joint.

Reads the file written by ``examples/mediapipe_extract.py``, converts the 33 MediaPipe
landmarks to COCO-17 by joint name, and measures the high-frequency noise of each joint relative
to the person's size with :func:`hanet_refine.train.calibration.estimate_jitter`. Then checks
the method on clean motion capture with noise of known size added (the mocap is read from
``$HANET_MOCAP_DIR`` or ``../shared/data/bandai-namco-motion``; skipped when absent). Writes
``hanet_refine/train/jitter_calibration.json`` (read by the training-data corruption) and
prints the tables of ``docs/jitter_calibration.md``. From the repository root::

    pip install -e .            # or run with PYTHONPATH=.
    python examples/calibrate_jitter.py
    python examples/calibrate_jitter.py --cutoff 8 --no-write --no-validation

Needs only numpy and scipy (plus this package).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np

from hanet_refine.layouts import convert, get_layout
from hanet_refine.train.calibration import (
    COCO17_GROUPS,
    JitterReport,
    JitterStats,
    body_size,
    estimate_jitter,
    residual_power,
    run_median,
)

DEFAULT_NPZ = Path("examples/data/demo_mediapipe33.npz")
DEFAULT_JSON = Path("hanet_refine/train/jitter_calibration.json")
VISIBILITY_THRESHOLD = 0.5  # MediaPipe's own drawing utilities hide landmarks below 0.5
SWITCH_FRACTION = 0.5  # a median joint jump above this fraction of body size is another person
GROSS_THRESHOLD = 0.05  # residual above 5% of the body size: a gross error, not jitter
MOCAP_JOINTS = ("Hips", "Head", "UpperArm_L", "LowerArm_L", "Hand_L", "UpperArm_R", "LowerArm_R", "Hand_R",
                "UpperLeg_L", "LowerLeg_L", "Foot_L", "UpperLeg_R", "LowerLeg_R", "Foot_R")


def split_identity_switches(points: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Blank the frames where the tracked person jumps to someone else.

    A frame whose median joint displacement from the previous frame exceeds ``SWITCH_FRACTION``
    of the body size (bounding-box diagonal) is set to NaN, so the two tracks become separate runs.

    Returns:
        (a copy of points with those frames NaN, the list of those frames).
    """
    size = run_median(body_size(points, layout="coco17", definition="bbox_diagonal"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN frames (no detection)
        step = np.nanmedian(np.linalg.norm(np.diff(points, axis=0), axis=-1), axis=-1)
    with np.errstate(invalid="ignore"):
        jump = step > SWITCH_FRACTION * np.fmax(size[1:], size[:-1])
    frames = (np.flatnonzero(jump) + 1).tolist()
    out = points.copy()
    out[frames] = np.nan
    return out, frames


def segments(present: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of frames where a person was found."""
    edges = np.diff(np.concatenate([[0], present.astype(np.int8), [0]]))
    return [(int(a), int(b)) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))]


def sig(x: float | None, digits: int = 4) -> float | None:
    """Round to ``digits`` significant digits for the JSON (None and NaN become None)."""
    if x is None or not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def stats_dict(s: JitterStats) -> dict:
    """The JSON entry of one joint or group (see the ``fields`` entry of the JSON)."""
    return {
        "noise_std_rel": sig(s.noise_std_white),
        "autocorrelation": [0.0] * len(s.residual_autocorr),
        "outlier_rate": sig(s.outlier_rate, 3),
        "gross_error_rate": sig(s.gross_rate, 3),
        "outlier_median_rel": sig(s.outlier_median, 3),
        "missing_rate": sig(s.missing_rate, 3),
        "low_visibility_rate": sig(s.low_confidence_rate, 3),
        "noise_std_rel_d2": sig(s.noise_std_d2_white),
        "residual_autocorr": [sig(r, 3) for r in s.residual_autocorr],
        "tail_ratio": sig(s.tail_ratio, 3),
        "n_points": s.n_points,
    }


def measure(points33: np.ndarray, visibility33: np.ndarray, fps: float, *, cutoff: float,
            size_definition: str) -> tuple[JitterReport, dict]:
    """Convert to COCO-17, split tracks at identity switches, scale by body size, measure."""
    coco = convert(points33, "mediapipe33", "coco17")
    vis = convert(visibility33[..., None], "mediapipe33", "coco17")[..., 0]
    coco, switches = split_identity_switches(coco)
    size = run_median(body_size(coco, layout="coco17", definition=size_definition))
    layout = get_layout("coco17")
    groups = {g: [layout.index(n) for n in names] for g, names in COCO17_GROUPS.items()}
    report = estimate_jitter(coco, fps, scale=np.where(np.isfinite(size), size, 1.0), confidence=vis,
                             confidence_threshold=VISIBILITY_THRESHOLD, groups=groups, cutoff_hz=cutoff,
                             gross_threshold=GROSS_THRESHOLD)
    segs = segments(np.isfinite(coco).all(axis=-1).any(axis=-1))
    info = {
        "identity_switch_frames": switches,
        "segments": [[a, b] for a, b in segs],
        "segment_body_size_px": [sig(float(size[a]), 4) for a, _ in segs],
        "n_frames_detected": int(sum(b - a for a, b in segs)),
    }
    return report, info


def table(report: JitterReport, names: list[str], rows: list[JitterStats]) -> str:
    """Markdown table of the measured numbers, in percent of the body size."""
    head = ("| joint | jitter std (%) | 2nd-diff check (%) | residual autocorr lag 1, 2, 3 | outliers > 5 sigma (%) "
            "| median outlier (%) | errors > 5% (%) | missing (%) | vis < 0.5 (%) | points |")
    lines = [head, "|" + "---|" * 10]
    for name, s in zip(names, rows):
        ac = ", ".join(f"{r:+.2f}" for r in s.residual_autocorr)
        med = "-" if not math.isfinite(s.outlier_median) else f"{100 * s.outlier_median:.1f}"
        lines.append(
            f"| {name} | {100 * s.noise_std_white:.2f} | {100 * s.noise_std_d2_white:.2f} | {ac} "
            f"| {100 * s.outlier_rate:.1f} | {med} | {100 * s.gross_rate:.1f} | {100 * s.missing_rate:.1f} "
            f"| {100 * (s.low_confidence_rate or 0):.1f} | {s.n_points} |"
        )
    white = ", ".join(f"{r:+.2f}" for r in report.residual_autocorr_white)
    lines.append(f"| *white noise gives* | | | {white} | | | | | | |")
    return "\n".join(lines)


def validate_on_mocap(mocap: Path | None, fps: float, cutoff: float, level: float, seed: int = 0) -> dict:
    """Run the estimator on clean mocap (one file per action of archive 1) plus known noise.

    The mocap (30 fps) is projected orthographically (x, -y), scaled by each file's median
    bounding-box diagonal, and the files are joined with a NaN frame between them.
    Returns the settings and one row per case; an empty dict when the mocap is absent.
    """
    from hanet_refine.train.bvh import archive_paths, iter_archive, list_archive, parse_archive_name
    from hanet_refine.train.kinematics import forward_kinematics

    try:
        archive = archive_paths(mocap)[0]
    except FileNotFoundError as err:
        print(f"validation skipped: {err}")
        return {}
    first: dict[str, str] = {}
    for name in list_archive(archive):
        first.setdefault(str(parse_archive_name(name)["content"]), name)
    tracks, sep = [], np.full((1, len(MOCAP_JOINTS), 2), np.nan)
    for _, bvh in iter_archive(archive, names=sorted(first.values())):
        if abs(bvh.fps - fps) > 0.5:
            raise ValueError(f"mocap at {bvh.fps} fps, video at {fps} fps: resample one of them first")
        pos, _ = forward_kinematics(bvh)
        xy = pos[:, [bvh.joint_names.index(n) for n in MOCAP_JOINTS]][..., :2] * np.array([1.0, -1.0])
        size = np.median(np.linalg.norm(xy.max(axis=1) - xy.min(axis=1), axis=-1))
        tracks += [xy / size, sep]
    clean = np.concatenate(tracks)
    rng = np.random.default_rng(seed)
    rows = []
    for std, phi in ((0.0, 0.0), (level, 0.0), (level / 2, 0.0), (level, 0.3), (level, 0.5)):
        shocks = rng.normal(size=clean.shape)
        noise = np.empty_like(shocks)
        noise[0] = shocks[0]
        for t in range(1, len(shocks)):  # AR(1) with unit marginal variance
            noise[t] = phi * noise[t - 1] + math.sqrt(1 - phi * phi) * shocks[t]
        # With no noise at all every bit of fast motion is "> 5 sigma": measure the motion floor
        # with the outlier search off (a threshold no residual reaches).
        sigmas = 5.0 if std > 0 else 1e12
        r = estimate_jitter(clean + std * noise, fps, cutoff_hz=cutoff, gross_threshold=GROSS_THRESHOLD,
                            outlier_sigma=sigmas).overall
        rows.append({
            "added_std_rel": sig(std), "added_ar1": phi,
            "expected_white_equivalent": sig(std * math.sqrt(residual_power(phi, fps, cutoff_hz=cutoff)
                                                             / residual_power(0.0, fps, cutoff_hz=cutoff))),
            "noise_std_rel_white": sig(r.noise_std_white), "noise_std_rel_d2": sig(r.noise_std_d2_white),
            "fitted_ar1": sig(r.noise_ar1, 3), "noise_std_rel_ar1_corrected": sig(r.noise_std),
            "residual_autocorr": [sig(v, 3) for v in r.residual_autocorr],
            "outlier_rate": sig(r.outlier_rate, 3), "gross_error_rate": sig(r.gross_rate, 3),
        })
    n_frames = int(np.isfinite(clean[:, 0, 0]).sum())
    print(f"\nvalidation on clean mocap ({len(first)} files of {archive.name}, {n_frames} frames, "
          f"{len(MOCAP_JOINTS)} joints, orthographic x/-y view) plus added noise, in % of body size:")
    print("| added std | added AR(1) | expected white-equiv. | measured white-equiv. | 2nd-diff | fitted AR(1) "
          "| AR(1)-corrected std | residual autocorr | outliers (%) | errors > 5% (%) |")
    print("|" + "---|" * 10)
    for row in rows:
        print(f"| {100 * row['added_std_rel']:.2f} | {row['added_ar1']:.1f} | {100 * row['expected_white_equivalent']:.2f} "
              f"| {100 * row['noise_std_rel_white']:.3f} | {100 * row['noise_std_rel_d2']:.3f} | {row['fitted_ar1']:.2f} "
              f"| {100 * row['noise_std_rel_ar1_corrected']:.3f} | {', '.join(f'{v:+.2f}' for v in row['residual_autocorr'])} "
              f"| {100 * row['outlier_rate']:.1f} | {100 * row['gross_error_rate']:.2f} |")
    return {"archive": archive.name, "files": sorted(first.values()), "n_frames": n_frames,
            "joints": list(MOCAP_JOINTS), "projection": "orthographic (x, -y), scaled by each file's median "
            "bounding-box diagonal", "cases": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--npz", type=Path, default=DEFAULT_NPZ)
    parser.add_argument("--key", default="landmarks", help="landmark array in the npz to measure")
    parser.add_argument("--cutoff", type=float, default=6.0, help="low-pass cutoff in Hz")
    parser.add_argument("--size", default="bbox_diagonal", choices=("bbox_diagonal", "torso"))
    parser.add_argument("--out", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--mocap-dir", type=Path, default=None,
                        help="Bandai-Namco mocap folder for the validation (default: $HANET_MOCAP_DIR "
                             "or ../shared/data/bandai-namco-motion)")
    parser.add_argument("--no-validation", action="store_true", help="skip the check on mocap")
    parser.add_argument("--no-write", action="store_true", help="print the tables only")
    parser.add_argument("--ranges", nargs="*", default=[], metavar="START:STOP",
                        help="also print the overall numbers of these frame ranges (measured alone)")
    args = parser.parse_args(argv)
    if not args.npz.is_file():
        raise FileNotFoundError(f"{args.npz} does not exist; run examples/mediapipe_extract.py first")

    data = np.load(args.npz)
    if args.key not in data:
        raise ValueError(f"{args.npz} has no array {args.key!r}; it has {sorted(data.files)}")
    vis_key = args.key.replace("landmarks", "visibility")
    points, vis, fps = data[args.key].astype(np.float64), data[vis_key].astype(np.float64), float(data["fps"])

    report, info = measure(points, vis, fps, cutoff=args.cutoff, size_definition=args.size)
    layout = get_layout("coco17")
    overall = report.overall
    print(f"{args.npz} [{args.key}]: {len(points)} frames at {fps:g} fps, person in {info['n_frames_detected']}; "
          f"segments {info['segments']} (body size {info['segment_body_size_px']} px, {args.size}); "
          f"identity switches blanked at {info['identity_switch_frames']}")
    print(f"cutoff {args.cutoff:g} Hz, Butterworth order {report.order} (zero-phase), {report.edge_frames} edge "
          f"frames per segment end left out; AR(1) fit on all joints: phi = {overall.noise_ar1:+.2f}, "
          f"AR(1)-corrected std {100 * overall.noise_std:.2f}%\n")
    print(table(report, list(layout.joints), list(report.joints)) + "\n")
    print(table(report, list(report.groups) + ["all joints"], list(report.groups.values()) + [overall]))

    sens = {}  # how the overall number moves with the choices made
    for cutoff in (4.0, 5.0, 6.0, 8.0):
        r, _ = measure(points, vis, fps, cutoff=cutoff, size_definition=args.size)
        sens[f"cutoff_{cutoff:g}hz"] = {"noise_std_rel": sig(r.overall.noise_std_white),
                                        "noise_std_rel_d2": sig(r.overall.noise_std_d2_white),
                                        "fitted_ar1": sig(r.overall.noise_ar1, 3),
                                        "outlier_rate": sig(r.overall.outlier_rate, 3)}
    other = "torso" if args.size == "bbox_diagonal" else "bbox_diagonal"
    r_other, info_other = measure(points, vis, fps, cutoff=args.cutoff, size_definition=other)
    sens[f"size_{other}"] = {"noise_std_rel": sig(r_other.overall.noise_std_white),
                             "segment_body_size_px": info_other["segment_body_size_px"]}
    per_segment = {}
    for a, b in info["segments"]:
        r, _ = measure(points[a:b], vis[a:b], fps, cutoff=args.cutoff, size_definition=args.size)
        per_segment[f"{a}-{b}"] = {"noise_std_rel": sig(r.overall.noise_std_white),
                                   "outlier_rate": sig(r.overall.outlier_rate, 3),
                                   "gross_error_rate": sig(r.overall.gross_rate, 3)}
    print("\nsensitivity:", json.dumps(sens, indent=None), "\nper segment:", json.dumps(per_segment))

    if args.ranges:
        print("\n| frames | jitter std (%) | 2nd-diff check (%) | outliers > 5 sigma (%) | errors > 5% (%) "
              "| vis < 0.5 (%) |\n|---|---|---|---|---|---|")
    for text in args.ranges:
        try:
            a, b = (int(v) for v in text.split(":"))
        except ValueError:
            raise ValueError(f"--ranges takes START:STOP frame ranges like 3:78, got {text!r}") from None
        o = measure(points[a:b], vis[a:b], fps, cutoff=args.cutoff, size_definition=args.size)[0].overall
        print(f"| {a}-{b} | {100 * o.noise_std_white:.2f} | {100 * o.noise_std_d2_white:.2f} "
              f"| {100 * o.outlier_rate:.1f} | {100 * o.gross_rate:.1f} | {100 * (o.low_confidence_rate or 0):.1f} |")

    smoothed = None
    if args.key == "landmarks" and "landmarks_mp_smoothed" in data:
        r, _ = measure(data["landmarks_mp_smoothed"].astype(np.float64),
                       data["visibility_mp_smoothed"].astype(np.float64), fps,
                       cutoff=args.cutoff, size_definition=args.size)
        smoothed = {
            "note": "same video with MediaPipe's own landmark smoothing on (smooth_landmarks=True)",
            "overall": stats_dict(r.overall),
            "groups": {name: sig(s.noise_std_white) for name, s in r.groups.items()},
        }
        print("\nMediaPipe smoothing on, jitter std per group:", json.dumps(smoothed["groups"]),
              f"all joints {sig(r.overall.noise_std_white)}, outliers {sig(r.overall.outlier_rate, 3)}")

    validation = {} if args.no_validation else validate_on_mocap(args.mocap_dir, fps, args.cutoff,
                                                                 sig(overall.noise_std_white, 2))
    if args.no_write:
        return 0
    factors = {f"{phi:g}": sig(math.sqrt(residual_power(0.0, fps, cutoff_hz=args.cutoff)
                                         / residual_power(phi, fps, cutoff_hz=args.cutoff)), 3)
               for phi in (0.0, 0.3, 0.5, 0.7, 0.9)}
    result = {
        "format_version": 1,
        "source": str(data["source"]),
        "data": f"{args.npz.as_posix()} [{args.key}]",
        "layout": "coco17",
        "converted_from": "mediapipe33 (hanet_refine.layouts.convert, by joint name)",
        "fps": fps,
        "image_size": [int(v) for v in data["image_size"]],
        "n_frames": len(points),
        **info,
        "body_size_definition": (
            "bbox_diagonal: diagonal in pixels of the axis-aligned box around the 17 COCO joints of a "
            "frame, then the median over each track segment (a run of frames with a detection)"
            if args.size == "bbox_diagonal" else
            "torso: mean of the left and right shoulder-hip distances in pixels, median over each "
            "track segment"
        ),
        "method": (
            f"Zero-phase Butterworth low-pass (scipy.signal.butter order {report.order}, cutoff {args.cutoff:g} Hz, "
            f"sosfiltfilt) of each joint's track; the residual's robust std (1.4826 MAD, x and y pooled, "
            f"{report.edge_frames} frames at each segment end left out) divided by sqrt({report.residual_power_white:.4f}), "
            f"the fraction of white-noise variance the residual keeps (exact, from the filter's impulse "
            f"response). Outliers (residual norm > {report.outlier_sigma:g} robust sigmas of that joint) are "
            f"interpolated away and the filter redone, up to 3 rounds. Cross-check: robust std of second "
            f"differences / sqrt(6). hanet_refine.train.calibration.estimate_jitter; "
            f"command: python examples/calibrate_jitter.py"
        ),
        "fields": {
            "noise_std_rel": "std per coordinate (x or y) of WHITE noise that has the same power above the "
                             "cutoff as the measured jitter, divided by the body size",
            "autocorrelation": "lag 1..3 autocorrelation of the noise model that goes with noise_std_rel "
                               "(white, so 0); to use AR(1) jitter with coefficient phi instead, multiply "
                               "noise_std_rel by ar1_equivalent_std_factor[phi]",
            "residual_autocorr": "measured (robust) lag 1..3 autocorrelation of the low-pass residual; "
                                 "white noise gives residual_autocorr_white",
            "outlier_rate": f"fraction of measured points with residual norm > {report.outlier_sigma:g} robust "
                            f"sigmas of that joint",
            "gross_error_rate": f"fraction of measured points with residual norm > {GROSS_THRESHOLD:g} x body size",
            "outlier_median_rel": "median residual norm of the outliers / body size",
            "missing_rate": "fraction of all frames without this joint (no detection)",
            "low_visibility_rate": f"fraction of detected points with MediaPipe visibility < {VISIBILITY_THRESHOLD}",
            "noise_std_rel_d2": "second-difference cross-check: robust std of x[t+1]-2x[t]+x[t-1] / sqrt(6) / "
                                "body size (fast motion inflates it)",
            "tail_ratio": "std / robust std of the inlier residuals (1 for Gaussian)",
        },
        "settings": {"cutoff_hz": args.cutoff, "butterworth_order": report.order,
                     "edge_frames": report.edge_frames, "outlier_sigma": report.outlier_sigma,
                     "gross_threshold": GROSS_THRESHOLD, "visibility_threshold": VISIBILITY_THRESHOLD,
                     "identity_switch_fraction": SWITCH_FRACTION},
        "residual_autocorr_white": [sig(r, 3) for r in report.residual_autocorr_white],
        "ar1_equivalent_std_factor": factors,
        "ar1_fit": {
            "phi": sig(overall.noise_ar1, 3), "noise_std_rel": sig(overall.noise_std),
            "note": "AR(1) fitted to the residual autocorrelation of all joints. Not reliable here: on "
                    "clean mocap plus AR(1) noise of known phi the fit is biased upwards by fast motion "
                    "(see validation), and phi at the grid's upper end (0.98) means the residual "
                    "spectrum rises towards the cutoff, as motion leaking through the filter does.",
        },
        "joints": {name: stats_dict(s) for name, s in zip(layout.joints, report.joints)},
        "groups": {name: {**stats_dict(s), "joints": list(COCO17_GROUPS[name])}
                   for name, s in report.groups.items()},
        "overall": stats_dict(overall),
        "sensitivity": sens,
        "per_segment": per_segment,
    }
    if smoothed is not None:
        result["mediapipe_smoothed"] = smoothed
    if validation:
        result["validation_on_mocap"] = validation
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
