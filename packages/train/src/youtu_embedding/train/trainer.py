"""The CoDiEmb training loop (one process, or one rank of a torchrun job)."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from youtu_embedding.train import distributed as D
from youtu_embedding.train.checkpoint import find_resume_checkpoint, load_checkpoint, save_checkpoint
from youtu_embedding.train.collate import collate_texts
from youtu_embedding.train.config import TrainConfig
from youtu_embedding.train.data import Example, SubDataset, Text, load_datasets
from youtu_embedding.train.losses import STSLossWeights, ir_infonce, sts_loss
from youtu_embedding.train.model import EmbeddingModel, apply_lora, load_backbone, save_embedding_model
from youtu_embedding.train.sampler import ItemRef, Step, draw_texts, epoch_plan, item_rng

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a run did: steps, per-step losses (rank-averaged), where the model went."""

    global_step: int
    losses: list[float]
    final_model: Path | None
    output_dir: Path
    skipped_lines: int = 0
    seconds: float = 0.0
    per_task: dict[str, float] = field(default_factory=dict)


def _resolve_device(name: str, info: D.DistInfo) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{info.local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if name == "cuda" and info.enabled:
        return torch.device(f"cuda:{info.local_rank}")
    return torch.device(name)


def sts_weights(config: TrainConfig) -> STSLossWeights:
    """The STS loss weights a config asks for (``infonce``: last-layer InfoNCE only)."""
    if config.sts_loss == "infonce":
        return STSLossWeights(
            mid_infonce=0.0,
            pearson=0.0,
            pro=0.0,
            kl=0.0,
            last_infonce=1.0,
            infonce_temperature=config.sts_infonce_temperature,
            infonce_threshold=config.sts_infonce_threshold,
        )
    return STSLossWeights(
        mid_infonce=config.sts_weight_mid_infonce,
        pearson=config.sts_weight_pearson,
        pro=config.sts_weight_pro,
        kl=config.sts_weight_kl,
        temperature=config.sts_temperature,
        infonce_temperature=config.sts_infonce_temperature,
        infonce_threshold=config.sts_infonce_threshold,
    )


class Trainer:
    """Runs a :class:`TrainConfig`: ``Trainer(config).train()``."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.info = D.DistInfo()
        self.device = torch.device("cpu")

    # ----- setup -------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg = self.config
        if cfg.num_threads:
            torch.set_num_threads(cfg.num_threads)
        device_type = (
            "cuda" if (cfg.device.startswith("cuda") or (cfg.device == "auto" and torch.cuda.is_available())) else "cpu"
        )
        self.info = D.init_distributed(device_type, cfg.dist_timeout)
        self.device = _resolve_device(cfg.device, self.info)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        random.seed(cfg.seed + self.info.rank)
        np.random.seed(cfg.seed + self.info.rank)
        torch.manual_seed(cfg.seed + self.info.rank)

        self.datasets: list[SubDataset] = load_datasets(cfg.data, skip_invalid=cfg.skip_invalid)
        self.skipped = sum(d.skipped for d in self.datasets)
        if self.skipped and self.info.is_main:
            logger.warning(
                "skipped %d invalid line(s):\n%s", self.skipped, "\n".join(p for d in self.datasets for p in d.problems)
            )

        self.loaded = load_backbone(cfg.model, device=self.device, attention=cfg.attention)
        backbone = self.loaded.model
        if cfg.gradient_checkpointing:
            backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
            backbone.config.use_cache = False
        if cfg.lora:
            backbone = apply_lora(
                backbone,
                r=cfg.lora_r,
                alpha=cfg.lora_alpha,
                dropout=cfg.lora_dropout,
                target_modules=cfg.lora_target_modules,
            )
        self.backbone = backbone
        self.model = EmbeddingModel(backbone, self.loaded.is_utu)
        self.wrapped: torch.nn.Module = self.model
        self._is_fsdp = self.info.enabled and cfg.strategy == "fsdp"
        if self.info.enabled:
            if cfg.strategy == "fsdp":
                self.wrapped = _wrap_fsdp(self.model, self.device, self.info.world_size)
            else:
                from torch.nn.parallel import DistributedDataParallel as DDP

                ids = [self.device.index] if self.device.type == "cuda" else None
                self.wrapped = DDP(self.model, device_ids=ids, find_unused_parameters=False)

        params = [p for p in self.wrapped.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            params,
            lr=cfg.learning_rate,
            betas=(cfg.adam_beta1, cfg.adam_beta2),
            eps=cfg.adam_epsilon,
            weight_decay=cfg.weight_decay,
        )
        self.steps_per_epoch = len(self._plan(0))
        if self.steps_per_epoch == 0:
            raise ValueError(
                "no full batch: every dataset is smaller than its global batch "
                "(per-device batch size x world size x grad_accum); lower the batch sizes"
            )
        total = self.steps_per_epoch * cfg.epochs
        self.total_steps = min(total, cfg.max_steps) if cfg.max_steps else total
        warmup = math.ceil(cfg.warmup_ratio * self.total_steps)
        from transformers import get_linear_schedule_with_warmup

        self.scheduler = get_linear_schedule_with_warmup(self.optimizer, warmup, self.total_steps)
        self.scaler = None
        if cfg.precision == "fp16":
            self.scaler = torch.amp.GradScaler(self.device.type)
        self.weights = sts_weights(cfg)

    def _plan(self, epoch: int) -> list[Step]:
        cfg = self.config
        return epoch_plan(
            self.datasets,
            sampler=cfg.sampler,
            batch_sizes=cfg.batch_sizes(),
            seed=cfg.seed,
            epoch=epoch,
            world_size=self.info.world_size,
            grad_accum=cfg.grad_accum,
        )

    def _autocast(self) -> Any:
        cfg = self.config
        if cfg.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if cfg.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)

    # ----- one micro-batch ------------------------------------------------------------------------
    def _micro_loss(self, refs: tuple[ItemRef, ...], epoch: int, step: int, gather: bool) -> tuple[torch.Tensor, dict]:
        cfg = self.config
        items: list[tuple[ItemRef, Example]] = [(r, self.datasets[r.dataset].examples[r.index]) for r in refs]
        ir = [(r, e) for r, e in items if e.task_type == "ir"]
        sts = [(r, e) for r, e in items if e.task_type == "sts"]
        texts: list[Text] = []
        # IR: queries, then P positives per query, then the drawn negatives (variable count)
        ir_pos_idx, ir_negs = [], []
        for r, e in ir:
            rng = item_rng(cfg.seed, epoch, step, r)
            ir_pos_idx.append([e.positives[k] for k in draw_texts(len(e.positives), cfg.num_positives, rng)])
            ir_negs.append([e.negatives[k] for k in draw_texts(len(e.negatives), cfg.num_negatives, rng)])
        texts += [e.query for _, e in ir]
        for pos in ir_pos_idx:
            texts += pos
        n_neg = sum(len(n) for n in ir_negs)
        for negs in ir_negs:
            texts += negs
        # STS: (x1, x2, y) from the query and the first positive
        texts += [e.query for _, e in sts]
        texts += [e.positives[0] for _, e in sts]
        batch = collate_texts(
            self.loaded.tokenizer,
            texts,
            max_length=cfg.max_length,
            template=cfg.prefix_template,
            mask_leading_specials=self.loaded.is_utu,
        ).to(self.device)
        need_mid = bool(sts) and self.weights.mid_infonce > 0
        with self._autocast():
            last, mid = self.wrapped(batch.input_ids, batch.attention_mask, batch.pool_mask, need_mid)
        total = last.sum() * 0.0
        parts: dict[str, float] = {}
        b, p = len(ir), cfg.num_positives
        if ir:
            q = last[:b]
            pos = last[b : b + b * p].reshape(b, p, -1)
            neg = last[b + b * p : b + b * p + n_neg]
            offset = 0
            if gather:
                offset = self.info.rank * b
                pos = D.gather_with_grad(pos.reshape(b, -1)).reshape(-1, p, pos.shape[-1])
                neg = D.gather_with_grad(neg)
            loss_ir = ir_infonce(q, pos, neg, temperature=cfg.ir_temperature, query_offset=offset)
            parts["ir"] = float(loss_ir.detach())
            total = total + loss_ir
        if sts:
            start = b + b * p + n_neg
            m = len(sts)
            gold = torch.tensor([e.positive_score(0) for _, e in sts], device=self.device)
            loss_sts, sts_parts = sts_loss(
                last[start : start + m],
                last[start + m : start + 2 * m],
                gold,
                mid_first=mid[start : start + m] if mid is not None else None,
                mid_second=mid[start + m : start + 2 * m] if mid is not None else None,
                weights=self.weights,
            )
            parts["sts"] = float(loss_sts.detach())
            parts.update({f"sts_{k}": v for k, v in sts_parts.items()})
            total = total + loss_sts
        return total, parts

    # ----- the loop ----------------------------------------------------------------------------
    def train(self) -> TrainResult:
        """Train; checkpoint as configured; save the final model; return the run's losses."""
        cfg = self.config
        t0 = time.perf_counter()
        self._setup()
        out = Path(cfg.output_dir)
        if self.info.is_main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "train_config.json").write_text(cfg.model_dump_json(indent=2))
        D.barrier()
        metrics_path = out / "metrics.jsonl"
        global_step, start_epoch, start_step = 0, 0, 0
        losses: list[float] = []
        ckpt = find_resume_checkpoint(out, cfg.resume)
        if ckpt is not None:
            state = load_checkpoint(
                ckpt,
                module=self.model,
                optimizer=self.optimizer,
                scheduler=self.scheduler,
                scaler=self.scaler,
                rank=self.info.rank,
                world_size=self.info.world_size,
                device=self.device,
                fsdp=self.wrapped if self._is_fsdp else None,
            )
            global_step, start_epoch, start_step = state["global_step"], state["epoch"], state["step_in_epoch"]
            losses = list(state.get("losses", []))
            if self.info.is_main:
                logger.info("resumed from %s at step %d", ckpt, global_step)
                _truncate_metrics(metrics_path, global_step)
        elif self.info.is_main and metrics_path.exists():
            metrics_path.unlink()

        bar = None
        if cfg.progress and self.info.is_main:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.total_steps, initial=global_step, desc="train", unit="step", dynamic_ncols=True)
        running: dict[str, list[float]] = defaultdict(list)
        gather_ok = cfg.cross_device_negatives and self.info.enabled and cfg.sampler != "mixed"
        done = global_step >= self.total_steps
        epoch = start_epoch
        while not done and epoch < cfg.epochs:
            plan = self._plan(epoch)
            first = start_step if epoch == start_epoch else 0
            for step_idx in range(first, len(plan)):
                step = plan[step_idx]
                self.wrapped.train()
                micro = step.local(self.info.rank)
                step_loss = 0.0
                step_parts: dict[str, float] = defaultdict(float)
                for a, refs in enumerate(micro):
                    sync = a == len(micro) - 1
                    ctx = (
                        self.wrapped.no_sync()  # type: ignore[operator]
                        if (not sync and self.info.enabled and hasattr(self.wrapped, "no_sync"))
                        else contextlib.nullcontext()
                    )
                    with ctx:
                        loss, parts = self._micro_loss(refs, epoch, global_step, gather_ok)
                        scaled = loss / len(micro)
                        if self.scaler is not None:
                            self.scaler.scale(scaled).backward()
                        else:
                            scaled.backward()
                    step_loss += float(loss.detach()) / len(micro)
                    for k, v in parts.items():
                        step_parts[k] += v / len(micro)
                if self.scaler is not None:
                    self.scaler.unscale_(self.optimizer)
                if cfg.max_grad_norm:
                    torch.nn.utils.clip_grad_norm_(self.wrapped.parameters(), cfg.max_grad_norm)
                if self.scaler is not None:
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                else:
                    self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                global_step += 1
                mean_loss = D.all_reduce_mean(step_loss, self.device)
                losses.append(mean_loss)
                running[step.task].append(mean_loss)
                if self.info.is_main:
                    record = {
                        "step": global_step,
                        "epoch": epoch,
                        "task": step.task,
                        "dataset": step.dataset,
                        "loss": mean_loss,
                        "lr": self.scheduler.get_last_lr()[0],
                        **{k: v for k, v in step_parts.items() if k not in ("ir", "sts")},
                    }
                    with metrics_path.open("a", encoding="utf-8") as fh:
                        fh.write(json.dumps(record) + "\n")
                    if bar is not None:
                        bar.update(1)
                        if global_step % cfg.log_steps == 0:
                            bar.set_postfix(
                                {f"{t}": f"{np.mean(v[-20:]):.4f}" for t, v in running.items()}, refresh=False
                            )
                done = global_step >= self.total_steps
                end_of_epoch = step_idx == len(plan) - 1
                if (cfg.save_steps and global_step % cfg.save_steps == 0) or (end_of_epoch and cfg.save_every_epoch):
                    next_epoch, next_step = (epoch + 1, 0) if end_of_epoch else (epoch, step_idx + 1)
                    self._save(global_step, next_epoch, next_step, losses)
                if done:
                    break
            epoch += 1
        if bar is not None:
            bar.close()
        final = None
        if cfg.save_final:
            final = out / "final"
            state = None
            if self._is_fsdp:  # collective gather of the full weights onto rank 0
                from youtu_embedding.train.checkpoint import full_model_state

                full = full_model_state(self.wrapped)
                state = {k.removeprefix("backbone."): v for k, v in full.items()}
            if self.info.is_main:
                save_embedding_model(
                    self.backbone,
                    self.loaded.tokenizer,
                    self.loaded,
                    final,
                    max_length=cfg.max_length,
                    include_prompt=not (self.loaded.is_utu or cfg.prefix_template),
                    state_dict=state,
                )
            D.barrier()
        per_task = {t: float(np.mean(v)) for t, v in running.items()}
        return TrainResult(global_step, losses, final, out, self.skipped, time.perf_counter() - t0, per_task)

    def _save(self, global_step: int, epoch: int, step_in_epoch: int, losses: list[float]) -> None:
        save_checkpoint(
            self.config.output_dir,
            step=global_step,
            module=self.model,
            optimizer=self.optimizer,
            scheduler=self.scheduler,
            scaler=self.scaler,
            state={"global_step": global_step, "epoch": epoch, "step_in_epoch": step_in_epoch, "losses": losses},
            rank=self.info.rank,
            world_size=self.info.world_size,
            keep=self.config.keep_checkpoints,
            barrier=D.barrier,
            fsdp=self.wrapped if self._is_fsdp else None,
        )


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metrics of steps after the checkpoint (they are trained again)."""
    if not path.exists():
        return
    keep = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
    path.write_text("".join(line + "\n" for line in keep))


def _wrap_fsdp(model: EmbeddingModel, device: torch.device, world_size: int) -> torch.nn.Module:
    """FSDP2 (``fully_shard``): one shard unit per transformer layer, then the whole model."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(device.type, (world_size,))
    for module in model.modules():
        if type(module).__name__.endswith(("DecoderLayer", "BertLayer")) or type(module).__name__ == "UtuDecoderLayer":
            fully_shard(module, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def train(config: TrainConfig | dict[str, Any]) -> TrainResult:
    """Train from a :class:`TrainConfig` (or a dict of its options)."""
    from youtu_embedding.train.config import build_config

    cfg = config if isinstance(config, TrainConfig) else build_config(config)
    try:
        return Trainer(cfg).train()
    finally:
        D.shutdown_distributed()
