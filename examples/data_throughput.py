"""How fast the training data comes: cache build time and corrupted windows per second.

Usage (one core; the mocap archives in ../shared/data/bandai-namco-motion or $HANET_MOCAP_DIR):

    python examples/data_throughput.py [--cache-dir cache] [--rebuild] [--batch 256] [--repeats 20]

Prints the seconds the cache build took (``--rebuild`` times a fresh build; otherwise the
time recorded in the cache's manifest) and, for each kind and window length, the windows per
second of ``WindowSampler.sample(batch)`` from the median batch time, both per CPU second of
this process (what one core gives, whatever else runs on the machine) and per wall-clock
second.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core, before NumPy starts its thread pools

import argparse
import json
import statistics
import time

from hanet_refine.train.dataset import WindowSampler, build_cache, cache_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--mocap-dir", default=None)
    parser.add_argument("--rebuild", action="store_true", help="time a fresh build of the cache")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--windows", type=int, nargs="+", default=[33, 101])
    args = parser.parse_args()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    folder = build_cache(args.mocap_dir, args.cache_dir, force=args.rebuild, progress=False)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    manifest = json.loads((cache_path(folder) / "manifest.json").read_text())
    minutes = sum(s["minutes"] for s in manifest["splits"].values())
    if args.rebuild:
        print(f"cache build: {wall:.1f} s wall, {cpu:.1f} s CPU for {minutes / 60:.2f} h of mocap")
    else:
        print(
            f"cache build (recorded in the manifest): {manifest['build_seconds']} s wall "
            f"for {minutes / 60:.2f} h of mocap (run with --rebuild to time it here)"
        )

    print(
        f"\n| kind | layout | L | windows/s (CPU) | windows/s (wall) | ms per batch of {args.batch} (CPU) |"
    )
    print("|---|---|---|---|---|---|")
    for kind, layout in (("2d", "coco17"), ("2d", "body25"), ("3d", "h36m17"), ("smpl", "smpl24")):
        for window in args.windows:
            sampler = WindowSampler(
                folder, kind=kind, layout=layout, split="train", window=window, severity="mixed", seed=0
            )
            sampler.sample(args.batch)  # warm the page cache of the memory map
            cpu, wall = [], []
            for _ in range(args.repeats):
                cpu0, wall0 = time.process_time(), time.perf_counter()
                sampler.sample(args.batch)
                cpu.append(time.process_time() - cpu0)
                wall.append(time.perf_counter() - wall0)
            # Medians: other jobs on a shared machine inflate some batches, not the typical one.
            cpu_s, wall_s = statistics.median(cpu), statistics.median(wall)
            print(
                f"| {kind} | {layout} | {window} | {args.batch / cpu_s:,.0f} | {args.batch / wall_s:,.0f} | "
                f"{1000 * cpu_s:.1f} |"
            )


if __name__ == "__main__":
    main()
