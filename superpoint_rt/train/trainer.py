"""The training loop shared by the MagicPoint and SuperPoint stages.

Run directory layout::

    <run_dir>/config.yaml            the resolved config
    <run_dir>/checkpoints/last.pt    model + optimizer + step + RNG state (atomic write)
    <run_dir>/checkpoints/step_XXXXXXX.pt  kept every ``keep_every`` steps
    <run_dir>/train_log.csv          step, loss, lr, images_per_s, elapsed_s (+ loss parts)
    <run_dir>/val_log.csv            step, val_loss, precision, recall
    <run_dir>/loss_curve.png
    <run_dir>/export/weights.pth     {"state_dict": plain folded weights, "meta": {...}}

The data stream is a function of (seed, step), so ``resume`` continues at the exact step with the
same batches. Under ``torchrun`` (``WORLD_SIZE`` > 1) every process trains on its own batches with
DistributedDataParallel; rank 0 writes logs and checkpoints.
"""

from __future__ import annotations

import contextlib
import csv
import os
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from superpoint_rt.network import SuperPointNet
from superpoint_rt.network_spec import conv_name
from superpoint_rt.train.checkpoint import (
    atomic_save,
    export_weights,
    load_checkpoint,
    load_net_state,
    rng_state,
    set_rng_state,
)
from superpoint_rt.train.config import TrainConfig, save_config, to_dict
from superpoint_rt.train.equivariance import shift_images, shift_loss, step_shifts
from superpoint_rt.train.heatmap import detection_metrics, logits_to_heatmap
from superpoint_rt.train.losses import descriptor_loss, descriptor_softmax_loss, detector_loss
from superpoint_rt.train.warp_centroid import warp_centroid_loss

Batch = dict[str, torch.Tensor]


# ----------------------------------------------------------------------------------------------
# model wrapper (what DistributedDataParallel wraps)


def layer_of(param_name: str) -> str:
    """The convolution layer a ``SuperPointNet`` parameter belongs to: ``bnPa.weight`` -> ``convPa``."""
    return conv_name(param_name.split(".")[0])


class StageModel(nn.Module):
    """``SuperPointNet`` with the forward of a stage: MagicPoint -> logits; SuperPoint -> (logits, desc).

    In the MagicPoint stage the descriptor head is frozen (no gradient), so DDP needs no
    ``find_unused_parameters``. ``train_layers`` (non-empty) freezes every other layer too: no gradient, and its
    batch norm stays in eval mode (running statistics as loaded) also while the model trains.
    """

    def __init__(self, net: SuperPointNet, stage: str, train_layers: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.net = net
        self.stage = stage
        layers = {layer_of(n) for n, _ in net.named_parameters()}
        #: layers the stage itself never trains (not in the optimizer)
        self.stage_frozen = {x for x in layers if stage == "magicpoint" and x.startswith("convD")}
        #: every frozen layer; those ``train_layers`` freezes stay in the optimizer, without gradients (Adam skips
        #: them), so a resumed optimizer state still fits
        self.frozen = (layers - set(train_layers) if train_layers else set()) | self.stage_frozen
        if not layers - self.frozen:
            raise ValueError(f"train_layers {list(train_layers)}: nothing left to train in the {stage} stage")
        for name, p in net.named_parameters():
            if layer_of(name) in self.frozen:
                p.requires_grad_(False)

    def optimizer_parameters(self) -> list[nn.Parameter]:
        """The parameters the optimizer holds: all but the stage's frozen ones (``train_layers`` does not change
        this list, so a checkpoint of a full run resumes into a partial one and back)."""
        return [p for n, p in self.net.named_parameters() if layer_of(n) not in self.stage_frozen]

    def train(self, mode: bool = True) -> StageModel:
        super().train(mode)
        for name, m in self.net.named_children():
            if isinstance(m, nn.BatchNorm2d) and layer_of(name) in self.frozen - self.stage_frozen:
                m.eval()
        return self

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        feats = self.net.encode(image)
        logits = self.net.detector_head(feats)
        if self.stage == "magicpoint":
            return logits, None
        return logits, self.net.descriptor_head(feats)


def init_dustbin_prior(net: SuperPointNet, prior: float) -> None:
    """Start the detector at the label prior: dustbin probability ``prior``, the rest uniform.

    The last detector layer is followed by batch norm (``bnPb``), so its output has unit variance per
    channel at init and Adam moves the bias ~lr per step: without this the loss sits near ln 65 for
    thousands of steps. Sets the dustbin bias to ``ln(64 * prior / (1 - prior))`` (the focal-loss
    paper's prior initialisation).
    """
    if not 0.0 < prior < 1.0:
        raise ValueError(f"dustbin_prior must be in (0, 1), got {prior}")
    layer = getattr(net, "bnPb") if net.batch_norm else getattr(net, "convPb")  # noqa: B009
    if not isinstance(layer, nn.BatchNorm2d | nn.Conv2d) or layer.bias is None:
        return
    with torch.no_grad():
        layer.bias.zero_()
        layer.bias[64] = float(np.log(64.0 * prior / (1.0 - prior)))


# ----------------------------------------------------------------------------------------------


def _dist_info() -> tuple[int, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    return rank, world, local


class Trainer:
    """Train one stage into ``run_dir``.

    Args:
        config: the stage config.
        run_dir: output directory.
        resume: continue from ``run_dir/checkpoints/last.pt`` (error if missing).
        max_steps: override ``config.max_steps``.
        time_limit_min: stop cleanly (checkpoint + export) after this many minutes.
        progress: show a tqdm bar.
    """

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | Path,
        resume: bool = False,
        max_steps: int | None = None,
        time_limit_min: float | None = None,
        progress: bool = True,
    ) -> None:
        self.cfg = config
        self.run_dir = Path(run_dir)
        self.max_steps = config.max_steps if max_steps is None else max_steps
        self.time_limit_s = None if time_limit_min is None else 60.0 * time_limit_min
        #: set by SIGTERM / SIGUSR1 (see :meth:`install_stop_handlers`): stop at the next step with a checkpoint
        self.stop_requested = False
        self.progress = progress
        self.rank, self.world, local = _dist_info()
        self.distributed = self.world > 1
        if self.distributed:
            import torch.distributed as dist

            dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        if torch.cuda.is_available():
            self.device = torch.device("cuda", local)
            torch.cuda.set_device(self.device)
            torch.backends.cudnn.benchmark = True
        else:
            self.device = torch.device("cpu")
        if config.torch_threads > 0:
            torch.set_num_threads(config.torch_threads)
        self.is_main = self.rank == 0

        torch.manual_seed(config.seed)
        np.random.seed(config.seed % 2**32)  # noqa: NPY002 (third-party code may use it)
        random.seed(config.seed)
        self.net = SuperPointNet(batch_norm=True).to(self.device)
        if config.dustbin_prior > 0 and not config.init_weights:
            init_dustbin_prior(self.net, config.dustbin_prior)
        if config.init_weights and not resume:  # a resume loads the checkpoint's weights over them anyway
            missing, _unexpected = self.net.load_state_dict(load_net_state(config.init_weights), strict=False)
            conv_missing = [k for k in missing if k.startswith("conv")]
            if conv_missing:
                raise ValueError(f"init_weights {config.init_weights} lacks {conv_missing[:4]}...")
        self.memory_probe: dict[str, float] = {}
        self.channels_last = self._choose_channels_last()
        self.memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.net = self.net.to(memory_format=self.memory_format)  # type: ignore[call-overload]
        self.stage_model = StageModel(self.net, config.stage, config.train_layers)
        self.model: nn.Module = self.stage_model
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(self.stage_model, device_ids=ids)
        self.optimizer = torch.optim.Adam(self.stage_model.optimizer_parameters(), lr=config.lr)
        self.use_amp = config.precision != "fp32"
        self.amp_dtype = torch.float16 if config.precision == "fp16" else torch.bfloat16
        if self.device.type == "cpu" and config.precision == "fp16":
            raise ValueError("precision fp16 needs CUDA; use bf16 or fp32 on the CPU")
        self.scaler = torch.amp.GradScaler("cuda", enabled=config.precision == "fp16")
        self.step = 0
        self.elapsed_before = 0.0
        if resume:
            self._load(self.run_dir / "checkpoints" / "last.pt")
        self._val_set: list[Batch] | None = None

    # -- data ------------------------------------------------------------------------------
    def _train_batches(self) -> Iterable[Batch]:
        from superpoint_rt.train.data import SyntheticShapesBatches, make_loader

        c = self.cfg
        ds: torch.utils.data.IterableDataset
        if c.stage == "magicpoint":
            ds = SyntheticShapesBatches(c.data, c.batch_size, c.seed, self.step, self.rank, self.world)
        else:
            from superpoint_rt.train.pairs import PairBatches

            ds = PairBatches(c.data, c.batch_size, c.seed, self.step, self.rank, self.world)
        return make_loader(ds, c.data.num_workers)

    def _validation_set(self) -> list[Batch]:
        if self._val_set is None:
            c = self.cfg
            if c.stage == "magicpoint":
                from superpoint_rt.train.data import fixed_synthetic_set

                self._val_set = fixed_synthetic_set(c.data, c.val_size, c.val_seed, c.batch_size)
            else:
                from superpoint_rt.train.pairs import fixed_pair_set

                self._val_set = fixed_pair_set(c.data, c.val_size, c.val_seed, c.batch_size)
        return self._val_set

    # -- one step --------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if not self.use_amp:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _to(self, t: torch.Tensor, image: bool = False) -> torch.Tensor:
        t = t.to(self.device, non_blocking=True)
        return t.contiguous(memory_format=self.memory_format) if image else t

    def compute_loss(self, batch: Batch, model: nn.Module | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of one batch (the model in its current train/eval mode) and its parts."""
        model = self.model if model is None else model
        c = self.cfg
        img = self._to(batch["image"], image=True)
        if c.stage == "magicpoint":
            with self._autocast():
                logits, _ = model(img)
            loss = detector_loss(logits, self._to(batch["labels"]), self._to(batch["cell_valid"]))
            return loss, {"det": float(loss.detach())}
        wimg = self._to(batch["warped_image"], image=True)
        b = img.shape[0]
        views = [img, wimg]
        if c.lambda_shift > 0:  # the source images again, shifted by (dx, dy) drawn per step and rank
            shifts = step_shifts(c.seed, self.step, self.rank, b)
            views.append(shift_images(img, shifts))
        with self._autocast():
            logits, desc = model(torch.cat(views))
        assert desc is not None
        det = detector_loss(logits[:b], self._to(batch["labels"]), self._to(batch["cell_valid"]))
        wdet = detector_loss(logits[b : 2 * b], self._to(batch["warped_labels"]), self._to(batch["warped_cell_valid"]))
        pair = (
            desc[:b].float(),
            desc[b : 2 * b].float(),
            self._to(batch["homography"]),
            self._to(batch["warped_cell_valid"]),
        )
        if c.descriptor_loss == "softmax":
            dl = descriptor_softmax_loss(*pair, c.softmax_temperature)
        else:
            dl = descriptor_loss(*pair, c.positive_margin, c.negative_margin, c.lambda_d)
        loss = det + wdet + c.lambda_loss * dl
        parts = {"det": float(det.detach()), "wdet": float(wdet.detach()), "desc": float(dl.detach())}
        if c.lambda_shift > 0:
            sl = shift_loss(c.shift_loss, logits[:b], logits[2 * b :], shifts)
            loss = loss + c.lambda_shift * sl
            parts["shift"] = float(sl.detach())
        if c.lambda_warp > 0:
            wl = warp_centroid_loss(logits[:b], logits[b : 2 * b], pair[2], pair[3])
            loss = loss + c.lambda_warp * wl
            parts["warp"] = float(wl.detach())
        return loss, parts

    def train_step(self, batch: Batch) -> tuple[float, dict[str, float]]:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss, parts = self.compute_loss(batch)
        self.scaler.scale(loss).backward()
        lr = self.cfg.lr_at(self.step)
        for group in self.optimizer.param_groups:  # the config, not a resumed optimizer state, sets the lr
            group["lr"] = lr
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        return float(loss.detach()), parts

    # -- validation ------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        c = self.cfg
        model = self.stage_model  # not the DDP wrapper: only rank 0 validates
        model.eval()
        total, n = 0.0, 0
        tp = nd = fl = nl = 0
        for batch in self._validation_set():
            loss, _ = self.compute_loss(batch, model)
            bs = batch["image"].shape[0]
            total += float(loss) * bs
            n += bs
            with self._autocast():
                logits, _ = model(self._to(batch["image"], image=True))
            heat = logits_to_heatmap(logits).cpu()
            a, b, d, e = detection_metrics(
                heat, batch["keypoint_map"], c.detection_threshold, c.nms_radius, c.match_tolerance
            )
            tp, nd, fl, nl = tp + a, nd + b, fl + d, nl + e
        model.train()
        return {
            "val_loss": total / max(n, 1),
            "precision": tp / max(nd, 1),
            "recall": fl / max(nl, 1),
        }

    # -- persistence -----------------------------------------------------------------------
    def checkpoint(self, elapsed: float) -> None:
        if not self.is_main:
            return
        state = {
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "elapsed_s": elapsed,
            "rng": rng_state(),
            "stage": self.cfg.stage,
            "config": to_dict(self.cfg),
        }
        ckpt_dir = self.run_dir / "checkpoints"
        atomic_save(state, ckpt_dir / "last.pt")
        if self.cfg.keep_every and self.step % self.cfg.keep_every == 0:
            atomic_save(state, ckpt_dir / f"step_{self.step:07d}.pt")

    def _load(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint to resume from: {path}")
        state = load_checkpoint(path)  # on the CPU; load_state_dict copies to the device
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.elapsed_before = float(state.get("elapsed_s", 0.0))
        set_rng_state(state["rng"])

    def export(self) -> Path:
        meta = {"stage": self.cfg.stage, "step": self.step, "config": to_dict(self.cfg)}
        return export_weights(self.net.state_dict(), self.run_dir / "export" / "weights.pth", meta)

    # -- logs ------------------------------------------------------------------------------
    def _trim_csv(self, path: Path) -> None:
        """On resume, drop log rows after the checkpoint's step."""
        if not path.is_file():
            return
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
        if not rows:
            return
        keep = [rows[0]] + [r for r in rows[1:] if r and int(float(r[0])) <= self.step]
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows(keep)

    def _append_csv(self, path: Path, row: dict[str, Any]) -> None:
        """Append ``row``; a file written with other columns is rewritten with the union of both (empty cells)."""
        fields = list(row)
        rows: list[dict[str, Any]] = []
        if path.is_file():
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                old = list(reader.fieldnames or [])
                if old != fields:
                    rows = list(reader)
            if old == fields:  # the usual case
                with open(path, "a", newline="") as f:
                    csv.DictWriter(f, fieldnames=fields).writerow(row)
                return
            fields = old + [k for k in fields if k not in old]
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, restval="")
            w.writeheader()
            w.writerows([*rows, row])

    def plot(self) -> None:
        if not self.is_main:
            return
        try:
            from superpoint_rt.train.plot import plot_run

            plot_run(self.run_dir)
        except Exception as e:  # plotting must never stop training
            print(f"[train] plot failed: {e}", flush=True)

    # -- main loop -------------------------------------------------------------------------
    def run(self, on_step: Callable[[int, float], None] | None = None) -> int:
        """Train until ``max_steps`` or the time limit; returns the final step."""
        c = self.cfg
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            save_config(c, self.run_dir / "config.yaml")
            self._trim_csv(self.run_dir / "train_log.csv")
            self._trim_csv(self.run_dir / "val_log.csv")
        t0 = time.perf_counter()
        start_step, started = self.step, time.strftime("%Y-%m-%dT%H:%M:%S%z")
        bar = None
        if self.progress and self.is_main:
            from tqdm import tqdm

            bar = tqdm(total=self.max_steps, initial=self.step, unit="step", mininterval=5.0, dynamic_ncols=True)
        win_t, win_n, win_loss, win_steps = time.perf_counter(), 0, 0.0, 0
        stop = self.step >= self.max_steps
        if not stop:
            for batch in self._train_batches():
                loss, parts = self.train_step(batch)
                if not np.isfinite(loss):
                    raise FloatingPointError(f"loss is {loss} at step {self.step}")
                win_n += batch["image"].shape[0] * self.world
                win_loss += loss
                win_steps += 1
                if on_step is not None:
                    on_step(self.step, loss)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                elapsed = time.perf_counter() - t0
                if self.is_main and (self.step % c.log_every == 0 or self.step == self.max_steps):
                    now = time.perf_counter()
                    row = {
                        "step": self.step,
                        "loss": f"{win_loss / win_steps:.6f}",
                        "lr": self.optimizer.param_groups[0]["lr"],
                        "images_per_s": f"{win_n / max(now - win_t, 1e-9):.2f}",
                        "elapsed_s": f"{self.elapsed_before + elapsed:.1f}",
                        **{k: f"{v:.6f}" for k, v in parts.items()},
                    }
                    self._append_csv(self.run_dir / "train_log.csv", row)
                    win_t, win_n, win_loss, win_steps = now, 0, 0.0, 0
                if self.is_main and c.val_every and self.step % c.val_every == 0:
                    m = self.validate()
                    self._append_csv(
                        self.run_dir / "val_log.csv", {"step": self.step, **{k: f"{v:.6f}" for k, v in m.items()}}
                    )
                    print(f"\n[train] step {self.step} validation {m}", flush=True)
                timed_out = self.stop_requested or (self.time_limit_s is not None and elapsed >= self.time_limit_s)
                stop = self.step >= self.max_steps or self._agree(timed_out)
                if self.step % c.checkpoint_every == 0 or stop:
                    self.checkpoint(self.elapsed_before + elapsed)
                    self.plot()
                if stop:
                    break
        if bar is not None:
            bar.close()
        if self.is_main:
            self.checkpoint(self.elapsed_before + time.perf_counter() - t0)
            path = self.export()
            self.plot()
            self._append_csv(self.run_dir / "chunks.csv", self.chunk_record(start_step, started, t0))
            print(f"[train] stopped at step {self.step}; exported {path}", flush=True)
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()
        return self.step

    def chunk_record(self, start_step: int, started: str, t0: float) -> dict[str, Any]:
        """One row of ``<run_dir>/chunks.csv``: the steps this process ran and the machine and precision they ran
        on (chunks of one run may run on different CPUs)."""
        from superpoint_rt.sysinfo import cpu_description

        cpu = cpu_description()
        fast = [k for k in ("amx", "avx512_bf16", "avx512_vnni", "avx512f") if cpu.get(k)]
        return {
            "started": started,
            "start_step": start_step,
            "end_step": self.step,
            "seconds": f"{time.perf_counter() - t0:.1f}",
            "cpu": cpu.get("cpu"),
            "cpu_id": cpu.get("cpu_id"),
            "cpu_flags": " ".join(fast) or "no AVX-512 / AMX",
            "precision": self.cfg.precision,
            "memory_format": "channels_last" if self.channels_last else "contiguous",
            "memory_probe": " ".join(f"{k}={v}" for k, v in self.memory_probe.items()),
            "processes": self.world,
            "torch_threads": torch.get_num_threads(),
            "device": str(self.device),
        }

    def _choose_channels_last(self) -> bool:
        """The config's layout; for ``auto``: NHWC on CUDA, on the CPU the faster one measured by rank 0
        (:func:`~superpoint_rt.train.memory_format.probe_channels_last`), the same for every process."""
        c = self.cfg
        if c.channels_last != "auto":
            return bool(c.channels_last)
        if self.device.type == "cuda":
            return True
        faster = False
        if self.is_main:
            from superpoint_rt.train.memory_format import probe_channels_last

            faster, self.memory_probe = probe_channels_last(c.data.height, c.data.width, c.precision)
            layout = "channels-last" if faster else "contiguous"
            size = f"{c.data.height}x{c.data.width}"
            print(f"[train] memory format: {layout} (one {size} forward+backward: {self.memory_probe})", flush=True)
        return self._agree(faster)

    def install_stop_handlers(self) -> None:
        """SIGTERM and SIGUSR1 end the run cleanly: checkpoint + export at the next step (for chunked runs)."""
        import signal

        def _request(signum: int, frame: Any) -> None:
            print(f"\n[train] signal {signum}: stopping after this step with a checkpoint", flush=True)
            self.stop_requested = True

        for sig in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(sig, _request)

    def _agree(self, flag: bool) -> bool:
        """Every process stops at the same step: rank 0's time decides."""
        if not self.distributed:
            return flag
        import torch.distributed as dist

        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.broadcast(t, src=0)
        return bool(t.item() > 0)
