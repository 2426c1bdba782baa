"""The training loss of HANet: final + coarse + online mutual learning, with hard keypoint mining."""

from __future__ import annotations

import torch

__all__ = ["oml_loss", "OML_MODES"]

OML_MODES = ("detached", "symmetric")


def _joint_l1(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per joint, ``(J,)``, of ``(B, T, J, D)`` tensors."""
    return (pred - gt).abs().mean(dim=(0, 1, 3))


def _mined(per_joint: torch.Tensor, hard_ratio: float) -> torch.Tensor:
    """Mean over joints plus the mean of the hardest ``hard_ratio`` of them (online hard keypoint mining)."""
    loss = per_joint.mean()
    if hard_ratio > 0:
        k = max(1, round(hard_ratio * per_joint.numel()))
        loss = loss + per_joint.topk(k).values.mean()
    return loss


def oml_loss(
    final: torch.Tensor,
    coarse: torch.Tensor,
    gt: torch.Tensor,
    sampled: torch.Tensor,
    *,
    final_weight: float = 1.0,
    coarse_weight: float = 1.0,
    hard_ratio: float = 0.25,
    mode: str = "detached",
    accel_weight: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one batch.

    Args:
        final: ``(B, L, J, D)`` final poses; coarse: ``(B, S, J, D)`` coarse poses at the
            sampled frames; gt: ``(B, L, J, D)`` ground truth; sampled: ``(S,)`` frame indices.
        final_weight: lambda, the weight of the final-pose term.
        coarse_weight: w, the weight of the coarse and the mutual-learning terms.
        hard_ratio: fraction of hardest joints whose mean is added (0 turns mining off).
        mode: ``"detached"``: whichever of final and coarse has the lower loss at the sampled
            frames in this step is the teacher, detached, and the other is pulled toward it
            (the paper's intent). ``"symmetric"``: an L1 between the two with gradients to
            both (what the public code computes).
        accel_weight: weight of an L1 on the final pose's acceleration (second difference
            in time) against the ground truth's, as SmoothNet trains; an addition to the paper's
            loss. Jitter is small next to jumps and swaps in a position loss, but dominates
            accelerations, so this term is what teaches the network to remove it.

    Returns:
        ``(loss, parts)`` where parts holds the float value of each term.
    """
    if mode not in OML_MODES:
        raise ValueError(f"mode must be one of {list(OML_MODES)}, got {mode!r}")
    gt_s = gt[:, sampled]
    final_s = final[:, sampled]
    l_final = _mined(_joint_l1(final, gt), hard_ratio)
    l_coarse = _mined(_joint_l1(coarse, gt_s), hard_ratio)
    if mode == "symmetric":
        l_oml = _joint_l1(final_s, coarse).mean()
        teacher = "none"
    else:
        final_better = bool(_joint_l1(final_s, gt_s).mean() <= _joint_l1(coarse, gt_s).mean())
        if final_better:
            l_oml, teacher = _joint_l1(coarse, final_s.detach()).mean(), "final"
        else:
            l_oml, teacher = _joint_l1(final_s, coarse.detach()).mean(), "coarse"
    loss = final_weight * l_final + coarse_weight * (l_coarse + l_oml)
    parts = {"final": l_final.item(), "coarse": l_coarse.item(), "oml": l_oml.item(),
             "teacher_final": float(teacher == "final")}
    if accel_weight > 0 and final.shape[1] >= 3:
        second = lambda x: x[:, 2:] - 2 * x[:, 1:-1] + x[:, :-2]  # noqa: E731
        l_accel = (second(final) - second(gt)).abs().mean()
        loss = loss + accel_weight * l_accel
        parts["accel"] = l_accel.item()
    return loss, parts
