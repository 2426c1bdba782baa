"""Training a Refiner: AdamW, warm-up + cosine schedule, OML loss, validation, checkpoints.

Runs on one process or under ``torchrun`` (DistributedDataParallel, gloo on CPU). A run
writes ``checkpoint.pt`` (model, optimiser, step, best score) every ``checkpoint_every``
steps and at the end, and the best model so far by validation MPJPE to ``best/`` as
``model.safetensors`` + ``config.json``; started again with the same ``out_dir`` it resumes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from safetensors.torch import load_file

from ..refiner import Refiner
from ..registry import WEIGHTS_FILE, read_config
from .batches import prepare_batch
from .losses import oml_loss

__all__ = ["TrainConfig", "train", "validation_error", "Sampler", "DEFAULT_MODEL"]

logger = logging.getLogger(__name__)

#: Sizes of the 2d and 3d pretrained models at their first stage (SMPL's has dim 96); later
#: stages changed only the sample interval (2d: 2, 3d and SMPL: 4), see the model cards.
DEFAULT_MODEL = dict(sample_interval=1, num_samples=32, dim=64, encoder_levels=2, decoder_layers=2,
                     ffn_ratio=2, heads=4, dropout=0.0, norm_first=True)


class Sampler(Protocol):
    def sample(self, batch_size: int) -> dict[str, np.ndarray]: ...


@dataclass
class TrainConfig:
    """Everything a training run needs besides its data.

    Attributes:
        kind, layout: what the model refines.
        out_dir: where checkpoints and the best model go.
        steps: optimiser steps; batch_size: windows per step (per process).
        lr, weight_decay, warmup_steps: AdamW (amsgrad) with linear warm-up, cosine decay.
        eval_every: steps between validations (an "epoch"); checkpoint_every likewise.
        final_weight, coarse_weight, hard_ratio, oml_mode, accel_weight: the loss (see
            losses.oml_loss).
        model: Refiner / HANet arguments.
        init_from: a model folder to start from (fine-tuning).
        seed: seeds the model and the samplers.
    """

    kind: str
    layout: str
    out_dir: str
    steps: int = 20_000
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup_steps: int = 500
    eval_every: int = 1000
    checkpoint_every: int = 500
    final_weight: float = 1.0
    coarse_weight: float = 1.0
    hard_ratio: float = 0.25
    oml_mode: str = "detached"
    accel_weight: float = 1.0
    grad_clip: float = 1.0
    model: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_MODEL))
    init_from: str | None = None
    seed: int = 0
    threads: int | None = None


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up to ``lr``, then cosine decay to zero at ``steps`` (per iteration)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _tensors(prepared: dict[str, np.ndarray], device: torch.device) -> tuple[torch.Tensor, ...]:
    filled = torch.from_numpy(prepared["filled"]).float().to(device)
    clean = torch.from_numpy(prepared["clean"]).float().to(device)
    missing = torch.from_numpy(prepared["missing"]).to(device)
    return filled, clean, missing


def _step_loss(refiner: Refiner, net: torch.nn.Module, prepared: dict[str, np.ndarray], cfg: TrainConfig,
               device: torch.device) -> tuple[torch.Tensor, dict[str, float]]:
    filled, clean, missing = _tensors(prepared, device)
    b, l, j, d = filled.shape
    normed, center, scale = refiner.normalize(filled)
    gt = (clean - center) / scale
    final, coarse = net(normed.reshape(b, l, j * d), missing)
    return oml_loss(final.reshape(b, l, j, d), coarse.reshape(b, -1, j, d), gt, refiner.model.sampled,
                    final_weight=cfg.final_weight, coarse_weight=cfg.coarse_weight,
                    hard_ratio=cfg.hard_ratio, mode=cfg.oml_mode, accel_weight=cfg.accel_weight)


@torch.inference_mode()
def validation_error(refiner: Refiner, batches: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Mean joint error of raw input and model on prepared validation batches (data units).

    For smpl the error is the mean 6D-vector distance (a proxy; the evaluation command
    reports joint positions and angles).
    """
    refiner.eval()
    raw, model, count = 0.0, 0.0, 0
    for prepared in batches:
        filled = torch.from_numpy(prepared["filled"])
        missing = torch.from_numpy(prepared["missing"])
        clean = torch.from_numpy(prepared["clean"])
        final, _ = refiner.refine_windows(filled.to(next(refiner.parameters()).device), missing)
        final = final.cpu()
        raw += (filled - clean).norm(dim=-1).sum().item()
        model += (final - clean).norm(dim=-1).sum().item()
        count += clean.shape[0] * clean.shape[1] * clean.shape[2]
    return {"raw": raw / count, "model": model / count}


def _save_checkpoint(path: Path, refiner: Refiner, opt: torch.optim.Optimizer, step: int, best: float,
                     history: list[dict[str, float]]) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": refiner.state_dict(), "optimizer": opt.state_dict(), "step": step, "best": best,
                "history": history}, tmp)
    os.replace(tmp, path)  # never a half-written checkpoint


def train(cfg: TrainConfig, sampler: Sampler, val_batches: list[dict[str, np.ndarray]],
          *, progress: bool = True) -> Refiner:
    """Train (or resume) a Refiner; returns the best model by validation error.

    Args:
        cfg: the run's settings.
        sampler: yields training batches (see :class:`~hanet_refine.train.batches.ArraySampler`).
        val_batches: fixed raw validation batches (sampler output), the same every evaluation.
        progress: show a progress bar with loss and throughput.
    """
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed and not dist.is_initialized():
        dist.init_process_group("gloo")
    rank = dist.get_rank() if distributed else 0
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device("cpu")
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    if cfg.init_from:
        # The starting model's settings, overridden by cfg.model (e.g. another sample interval:
        # the weights do not depend on it); the weights must fit exactly.
        config = read_config(Path(cfg.init_from)) | dict(cfg.model)
        refiner = Refiner(**{**config, "kind": cfg.kind, "layout": cfg.layout})
        refiner.load_state_dict(load_file(str(Path(cfg.init_from) / WEIGHTS_FILE)), strict=True)
        cfg.model = {k: v for k, v in config.items() if k not in ("kind", "layout")}
    else:
        refiner = Refiner(kind=cfg.kind, layout=cfg.layout, **cfg.model)
    if (refiner.kind, refiner.layout.name) != (cfg.kind, cfg.layout):
        raise ValueError(f"init_from model is {refiner.kind}/{refiner.layout.name}, not {cfg.kind}/{cfg.layout}")
    refiner.to(device)
    net: torch.nn.Module = refiner.model
    if distributed:
        net = torch.nn.parallel.DistributedDataParallel(refiner.model)
    opt = torch.optim.AdamW(refiner.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, amsgrad=True)

    ckpt_path = out / "checkpoint.pt"
    step, best, history = 0, math.inf, []
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=True)  # our own file, tensors only
        refiner.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, best, history = state["step"], state["best"], list(state["history"])
        logger.info("resumed %s at step %d (best %.4f)", ckpt_path, step, best)
    (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    val_prepared = [prepare_batch(b, cfg.kind) for b in val_batches]

    bar = tqdm(total=cfg.steps, initial=step, disable=not progress or rank != 0, unit="step", dynamic_ncols=True)
    started, windows_seen = time.perf_counter(), 0
    while step < cfg.steps:
        refiner.train()
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        prepared = prepare_batch(sampler.sample(cfg.batch_size), cfg.kind)
        loss, parts = _step_loss(refiner, net, prepared, cfg, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_(refiner.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        windows_seen += len(prepared["filled"])
        if rank == 0:
            rate = windows_seen / max(time.perf_counter() - started, 1e-9)
            bar.set_postfix(loss=f"{loss.item():.4f}", win_s=f"{rate:.0f}", refresh=False)
            bar.update(1)
        last = step == cfg.steps
        if rank == 0 and (step % cfg.eval_every == 0 or last):
            err = validation_error(refiner, val_prepared)
            history.append({"step": step, "loss": loss.item(), **parts, "val_raw": err["raw"],
                            "val_model": err["model"], "lr": lr_at(step - 1, cfg),
                            "seconds": time.perf_counter() - started})
            bar.write(f"step {step}: loss {loss.item():.4f}  val error raw {err['raw']:.4f} -> model {err['model']:.4f}")
            if err["model"] < best:
                best = err["model"]
                refiner.save_pretrained(out / "best")
        if rank == 0 and (step % cfg.checkpoint_every == 0 or last):
            _save_checkpoint(ckpt_path, refiner, opt, step, best, history)
            (out / "history.json").write_text(json.dumps(history, indent=1))
    bar.close()
    if distributed:
        dist.barrier()
    if rank == 0 and not (out / "best" / "model.safetensors").exists():
        refiner.save_pretrained(out / "best")
    return refiner
