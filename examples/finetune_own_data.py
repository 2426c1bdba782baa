"""Fine-tune a pretrained model on your own data, then refine with it.

Your data is either (noisy, clean) pairs, e.g. your estimator's output on frames where you also
have motion capture or manual annotation, saved as .npz files with arrays ``noisy`` (T, J, D)
(2d may carry a confidence column) and ``clean`` (T, J, D); or BVH motion capture of the
kind of motion you care about (Bandai-Namco skeleton), which the training-data pipeline
corrupts like an estimator.

    python examples/finetune_own_data.py --pairs take1.npz take2.npz --out runs/my-model
    python examples/finetune_own_data.py --bvh my_dance_01.bvh my_dance_02.bvh --out runs/my-model

Then: ``refine(keypoints, kind="2d", weights="runs/my-model/best")``.
"""

from __future__ import annotations

import argparse

from hanet_refine import refine
from hanet_refine.train.finetune import finetune, load_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pairs", nargs="+", help=".npz files with 'noisy' and 'clean'")
    source.add_argument("--bvh", nargs="+", help="BVH files")
    parser.add_argument("--weights", default=None, help="model to start from (default: the pretrained one)")
    parser.add_argument("--kind", default="2d", choices=["2d", "3d", "smpl"])
    parser.add_argument("--layout", default="coco17")
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()

    from hanet_refine.registry import default_weights

    start = args.weights or default_weights(args.kind, args.layout).name
    if args.pairs:
        noisy, clean = load_pairs(args.pairs)
        folder = finetune(start, args.out, noisy=noisy, clean=clean, kind=args.kind, layout=args.layout,
                          steps=args.steps)
        refined = refine(noisy[0], args.kind, layout=args.layout, weights=folder)
        print(f"refined {args.pairs[0]} with the fine-tuned model: {refined.shape}")
    else:
        folder = finetune(start, args.out, bvh_files=args.bvh, kind=args.kind, layout=args.layout,
                          steps=args.steps)
    print(f"fine-tuned model: {folder}  ->  refine(..., weights={str(folder)!r})")


if __name__ == "__main__":
    main()
