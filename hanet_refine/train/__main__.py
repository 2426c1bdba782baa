"""Command line of the training package: ``python -m hanet_refine.train COMMAND ...``.

Commands:
    cache      parse the motion capture once into the training cache
    train      train a model on the motion-capture data (resumes from --out)
    evaluate   score a model against the raw input on the test split, per severity
    finetune   fine-tune a model on .npz pairs or BVH files
    export     copy a run's best model into weights/ with its model card
    push       upload a model folder to the Hugging Face Hub
    benchmark  HANet vs SmoothNet vs classical filters, on accuracy (default) or speed (--speed)
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from .trainer import DEFAULT_MODEL, TrainConfig, train

SEVERITY_CHOICES = ("low", "medium", "high")


def _data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mocap-dir", default=None, help="Bandai Namco BVH archives (default: ../shared/data/"
                   "bandai-namco-motion or $HANET_MOCAP_DIR)")
    p.add_argument("--cache-dir", default=None, help="training cache (default: ./cache or $HANET_CACHE_DIR)")


def _cmd_cache(args: argparse.Namespace) -> int:
    from .dataset import build_cache

    started = time.perf_counter()
    build_cache(args.mocap_dir, args.cache_dir)
    print(f"cache ready in {time.perf_counter() - started:.0f} s")
    return 0


def _json_arg(text: str | None) -> dict | None:
    """A JSON object given on the command line (``--model``, ``--corruption``), or None."""
    return json.loads(text) if text else None


def _cmd_train(args: argparse.Namespace) -> int:
    from .dataset import WindowSampler, build_cache

    cache = build_cache(args.mocap_dir, args.cache_dir)
    overrides = _json_arg(args.model) or {}
    if args.init_from:  # the starting model's settings, with --model's on top (weights must still fit)
        from ..registry import read_config

        model = {k: v for k, v in read_config(Path(args.init_from)).items() if k not in ("kind", "layout")}
    else:
        model = dict(DEFAULT_MODEL)
    model.update(overrides)
    cfg = TrainConfig(kind=args.kind, layout=args.layout, out_dir=args.out, steps=args.steps,
                      batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup, eval_every=args.eval_every,
                      checkpoint_every=args.checkpoint_every, oml_mode=args.oml, hard_ratio=args.hard_ratio,
                      accel_weight=args.accel_weight, model=model, seed=args.seed, threads=args.threads,
                      init_from=args.init_from)
    window = model["sample_interval"] * model["num_samples"] + 1
    rank_seed = args.seed + 1000 * int(__import__("os").environ.get("RANK", "0"))
    sampler = WindowSampler(cache, kind=args.kind, layout=args.layout, split="train", window=window,
                            severity=args.severity, seed=rank_seed,
                            corruption=_json_arg(args.corruption))
    val = WindowSampler(cache, kind=args.kind, layout=args.layout, split="validation", window=window,
                        severity="medium", seed=12345)
    val_batches = [val.sample(256) for _ in range(args.val_batches)]
    train(cfg, sampler, val_batches, progress=not args.quiet)
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from ..registry import load_refiner
    from .benchmark import markdown_table
    from .dataset import build_cache, make_eval_set
    from .evaluate import METRIC_ORDER, bias_only_scores, raw_method, refine_method, score_clips

    cache = build_cache(args.mocap_dir, args.cache_dir)
    corruption = _json_arg(args.corruption)
    label = load_refiner(args.weights, args.kind, args.layout).architecture  # "hanet" or "smoothnet"
    results = {}
    for severity in args.severity:
        clips = make_eval_set(cache, kind=args.kind, layout=args.layout, split=args.split, severity=severity,
                              seed=0, max_clips=args.max_clips, corruption=corruption)
        rows = {"raw": score_clips(raw_method(args.kind), clips, args.kind),
                label: score_clips(refine_method(args.kind, args.layout, args.weights), clips, args.kind)}
        if (bias_only := bias_only_scores(clips, args.kind)) is not None:
            rows["bias only"] = bias_only
        results[severity] = rows
        changed = f", protocol changed: {json.dumps(corruption)}" if corruption else ""
        print(f"\n### {args.kind} {args.layout}, {args.split} split, severity {severity} ({len(clips)} clips"
              f"{changed})\n")
        print(markdown_table(rows, METRIC_ORDER[args.kind]))
        names = [n for n in (label, "bias only") if n in rows]
        for name in names:
            ratio = {k: rows[name][k] / rows["raw"][k] for k in ("mpjpe", "accel") if rows["raw"].get(k)}
            if ratio:  # none on clean input (severity 0), where raw is exact
                print(f"\nratio {name} / raw: " + ", ".join(f"{k} {v:.3f}" for k, v in ratio.items()))
    if args.output:
        report = {"kind": args.kind, "layout": args.layout, "weights": args.weights, "split": args.split,
                  "max_clips": args.max_clips, "results": results}
        if corruption:
            report["corruption"] = corruption
        Path(args.output).write_text(json.dumps(report, indent=1))
    return 0


def _cmd_finetune(args: argparse.Namespace) -> int:
    from .finetune import finetune, load_pairs

    if args.pairs:
        noisy, clean = load_pairs(args.pairs)
        out = finetune(args.weights, args.out, noisy=noisy, clean=clean, kind=args.kind, layout=args.layout,
                       steps=args.steps, lr=args.lr)
    else:
        out = finetune(args.weights, args.out, bvh_files=args.bvh, kind=args.kind, layout=args.layout,
                       steps=args.steps, lr=args.lr)
    print(f"fine-tuned model written to {out}; use refine(..., weights={str(out)!r})")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .model_card import export_run

    sha = export_run(args.run, args.weights_dir, name=args.name, command=args.command,
                     results_file=args.results, evaluate_command=args.evaluate_command,
                     previous=args.previous)
    print(f"{args.name}: sha256 {sha}")
    return 0


def _cmd_push(args: argparse.Namespace) -> int:
    from .hub import push_to_hub

    print(push_to_hub(args.folder, args.repo_id, private=args.private))
    return 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from .benchmark import accuracy_benchmark, speed_benchmark
    from .dataset import build_cache

    out = Path(args.out)
    if args.speed:
        cache = build_cache(args.mocap_dir, args.cache_dir) if args.tradeoff else None
        tuned = {}
        tuned_file = out / "benchmark_2d-coco17.json"
        if tuned_file.exists():  # time the filters with the parameters the accuracy run chose
            tuned = json.loads(tuned_file.read_text()).get("tuned", {})
        print(speed_benchmark(hanet=args.weights, smoothnet=args.smoothnet, filters=tuned, cache=cache,
                              out_dir=out, memory=not args.no_memory))
        return 0
    cache = build_cache(args.mocap_dir, args.cache_dir)
    accuracy_benchmark(args.kind, args.layout, cache=cache, out_dir=out, hanet=args.weights,
                       smoothnet=args.smoothnet, severities=tuple(args.severity), max_clips=args.max_clips,
                       tune_clips=args.tune_clips, corruption=_json_arg(args.corruption))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hanet_refine.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("cache", help="build the training cache")
    _data_args(p)
    p.set_defaults(fn=_cmd_cache)

    p = sub.add_parser("train", help="train a model")
    p.add_argument("--kind", required=True, choices=["2d", "3d", "smpl"])
    p.add_argument("--layout", required=True)
    p.add_argument("--out", required=True, help="run folder (checkpoint.pt, best/); an existing one is resumed")
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--eval-every", type=int, default=1000)
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--val-batches", type=int, default=4)
    p.add_argument("--severity", default="mixed", help="low, medium, high, mixed or a number")
    p.add_argument("--corruption", default=None,
                   help='JSON of training-corruption settings to change, e.g. \'{"bias": 0.0}\' '
                        "(validation and evaluate keep the documented protocol)")
    p.add_argument("--oml", default="detached", choices=["detached", "symmetric"])
    p.add_argument("--hard-ratio", type=float, default=0.25)
    p.add_argument("--accel-weight", type=float, default=1.0, help="weight of the acceleration L1 term")
    p.add_argument("--init-from", default=None, help="model folder to start from (its sizes are kept)")
    p.add_argument("--model", default=None, help='JSON of model arguments, e.g. \'{"dim": 64}\'')
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    _data_args(p)
    p.set_defaults(fn=_cmd_train)

    p = sub.add_parser("evaluate", help="score a model on the test split")
    p.add_argument("--kind", required=True, choices=["2d", "3d", "smpl"])
    p.add_argument("--layout", required=True)
    p.add_argument("--weights", default=None, help="model folder, registered name or Hub id (default: pretrained)")
    p.add_argument("--split", default="test", choices=["train", "validation", "test"])
    p.add_argument("--severity", nargs="+", default=list(SEVERITY_CHOICES))
    p.add_argument("--max-clips", type=int, default=None)
    p.add_argument("--corruption", default=None,
                   help="JSON of protocol settings to change, e.g. '{\"bias\": 0.0}' (default: the documented protocol)")
    p.add_argument("--output", default=None, help="write the results as JSON here")
    _data_args(p)
    p.set_defaults(fn=_cmd_evaluate)

    p = sub.add_parser("finetune", help="fine-tune a model on your data")
    p.add_argument("--weights", required=True, help="the model to start from")
    p.add_argument("--kind", default="2d", choices=["2d", "3d", "smpl"])
    p.add_argument("--layout", default="coco17")
    p.add_argument("--out", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--pairs", nargs="+", help=".npz files with 'noisy' and 'clean' arrays")
    src.add_argument("--bvh", nargs="+", help="BVH files to corrupt like an estimator")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=2e-4)
    p.set_defaults(fn=_cmd_finetune)

    p = sub.add_parser("export", help="copy a run's best model into weights/ with a model card")
    p.add_argument("run")
    p.add_argument("--name", required=True)
    p.add_argument("--weights-dir", default="weights")
    p.add_argument("--command", required=True, help="the exact training command, for the card")
    p.add_argument("--results", default=None, help="JSON written by evaluate --output")
    p.add_argument("--evaluate-command", default="", help="the evaluation command, for the card")
    p.add_argument("--previous", nargs="*", default=[], help="earlier runs this one started from, in order")
    p.set_defaults(fn=_cmd_export)

    p = sub.add_parser("push", help="upload a model folder to the Hugging Face Hub")
    p.add_argument("folder")
    p.add_argument("repo_id")
    p.add_argument("--private", action="store_true")
    p.set_defaults(fn=_cmd_push)

    p = sub.add_parser("benchmark", help="compare with SmoothNet and classical filters")
    p.add_argument("--kind", default="2d", choices=["2d", "3d", "smpl"])
    p.add_argument("--layout", default="coco17")
    p.add_argument("--weights", default=None, help="HANet model (default: pretrained)")
    p.add_argument("--smoothnet", default=None, help="trained SmoothNet model folder to compare with")
    p.add_argument("--severity", nargs="+", default=list(SEVERITY_CHOICES))
    p.add_argument("--max-clips", type=int, default=60, help="test clips per severity")
    p.add_argument("--tune-clips", type=int, default=30, help="validation clips for tuning the filters")
    p.add_argument("--corruption", default=None,
                   help="JSON of protocol settings to change, e.g. '{\"bias\": 0.0}'; the files get a "
                        "_changed-protocol suffix")
    p.add_argument("--speed", action="store_true", help="measure speed and memory instead of accuracy")
    p.add_argument("--tradeoff", action="store_true", help="with --speed: also the stride trade-off table")
    p.add_argument("--no-memory", action="store_true", help="with --speed: skip the 1-hour memory run")
    p.add_argument("--out", default="docs/benchmarks")
    _data_args(p)
    p.set_defaults(fn=_cmd_benchmark)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        return args.fn(args)
    except (FileNotFoundError, ValueError) as err:  # bad paths or arguments: one line, no traceback
        print(f"python -m hanet_refine.train {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
