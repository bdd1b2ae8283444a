"""Training configuration: nested dataclasses, loaded from / dumped to YAML (configs/<stage>.yaml)."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from superpoint_rt.geometry import HomographyConfig
from superpoint_rt.network_spec import CONV_LAYERS
from superpoint_rt.train.augment import PhotometricConfig

STAGES = ("magicpoint", "superpoint")
DESCRIPTOR_LOSSES = ("hinge", "softmax")
#: the shift-equivariance terms (superpoint_rt.train.equivariance.shift_loss)
SHIFT_LOSSES = ("heatmap", "centroid")
#: detector targets of the SuperPoint stage (DataConfig.detector_targets)
DETECTOR_TARGETS = ("hard", "soft")


@dataclass
class DataConfig:
    """What a training batch is made of.

    Attributes:
        height, width: training image size (multiples of 8).
        draw_scale: Synthetic Shapes draw resolution multiple (see ``synthetic.ShapesConfig``).
        primitives: Synthetic Shapes primitives (None: all).
        photometric: photometric augmentation.
        homographic: apply a random homography to every training image (MagicPoint stage).
        homography: its parameters; also the pair warp of the SuperPoint stage.
        valid_border_margin: pixels eroded from the valid area after a warp.
        num_workers: DataLoader worker processes (0: generate in the training process).
        image_dir: real images (SuperPoint stage): a folder, or a list of folders.
        label_dir: pseudo ground truth written by ``train adapt`` (SuperPoint stage): a folder, or a list that
            pairs up with ``image_dir`` (labels of ``label_dir[i]`` name images under ``image_dir[i]``).
        detector_targets: SuperPoint stage detector targets: ``"hard"`` (each point rounded to its pixel, one class
            per cell: the paper's) or ``"soft"`` (each point spread bilinearly over its four pixels,
            :func:`superpoint_rt.train.losses.points_to_soft_labels`: the warped image's labels keep their
            sub-pixel position instead of a rounding error of up to 0.5 px).
    """

    height: int = 120
    width: int = 160
    draw_scale: int = 2
    primitives: tuple[str, ...] | None = None
    photometric: PhotometricConfig = field(default_factory=PhotometricConfig)
    homographic: bool = True
    homography: HomographyConfig = field(default_factory=lambda: HomographyConfig(patch_ratio=0.8))
    valid_border_margin: int = 3
    num_workers: int = 1
    image_dir: str | tuple[str, ...] | None = None
    label_dir: str | tuple[str, ...] | None = None
    detector_targets: str = "hard"

    def __post_init__(self) -> None:
        if self.detector_targets not in DETECTOR_TARGETS:
            raise ValueError(f"detector_targets must be one of {DETECTOR_TARGETS}, got {self.detector_targets!r}")


@dataclass
class TrainConfig:
    """One training stage.

    Attributes:
        stage: "magicpoint" (detector loss on Synthetic Shapes) or "superpoint" (pairs of real images).
        seed: training seed (data stream and initialisation).
        batch_size: images per step (per process under torchrun).
        max_steps: total optimizer steps.
        lr: Adam learning rate (the config is authoritative: also after ``--resume``).
        lr_schedule: piecewise-constant drops, ``[[step, lr], ...]`` with increasing steps: the update taken
            after ``step`` completed steps (and every later one, up to the next entry) uses ``lr``; before the
            first entry, ``lr``. A function of the step, so a resumed run follows it exactly.
        checkpoint_every: steps between checkpoints (``checkpoints/last.pt``, atomic).
        keep_every: steps between checkpoints kept as ``checkpoints/step_XXXXXXX.pt`` (0: never).
        log_every: steps between CSV log rows.
        val_every: steps between validations on the held-out synthetic set (0: never).
        val_size, val_seed: size and seed of that set (the seed differs from training's).
        torch_threads: intra-op threads of the training process (0: PyTorch's default).
        precision: "bf16" (autocast; CPU needs AVX512-BF16/AMX to be fast), "fp16" (CUDA) or "fp32".
        channels_last: NHWC memory format: true, false or "auto" (CUDA: NHWC; CPU: the faster of the two,
            timed on this machine at start, see :mod:`superpoint_rt.train.memory_format`).
        detection_threshold, nms_radius, match_tolerance: validation precision/recall settings.
        init_weights: checkpoint or exported weights to start from (SuperPoint stage: MagicPoint's).
        dustbin_prior: initial dustbin probability of the detector (bias init; 0 disables it).
        lambda_loss: weight of the descriptor term; lambda_d, positive_margin, negative_margin: its hinge.
        descriptor_loss: "hinge" (the paper's eq. 5, :func:`~superpoint_rt.train.losses.descriptor_loss`) or
            "softmax" (cross-entropy of the corresponding cell among all cells,
            :func:`~superpoint_rt.train.losses.descriptor_softmax_loss`, at ``softmax_temperature``).
        lambda_shift: weight of the shift-equivariance term (SuperPoint stage; 0: off, one forward pass less): each
            step also runs the source images shifted by a random (dx, dy) in {0..7}^2 and adds
            ``lambda_shift`` times the term ``shift_loss`` names (:mod:`superpoint_rt.train.equivariance`):
            ``"heatmap"`` (squared heatmap difference, recipe L) or ``"centroid"`` (squared distance of the 5x5
            heat-weighted centroids at the unshifted heatmap's peaks, recipe M; blind to the peaks' height).
        lambda_warp: weight of the warp-centroid term (SuperPoint stage; 0: off; no extra forward pass):
            :func:`~superpoint_rt.train.warp_centroid.warp_centroid_loss`, the squared distance between the warped
            image's keypoints (peak + 5x5 centroid) and the homography's image of the source image's (recipe O).
        train_layers: the layers that learn, by convolution name (``conv1a`` .. ``conv4b``, ``convPa``, ``convPb``,
            ``convDa``, ``convDb``; a layer's batch norm goes with it); every other layer is frozen: its weights and
            its batch-norm statistics stay as loaded (batch norm in eval mode). Empty: all layers the stage trains.
            ``[convPa, convPb]`` fine-tunes the detector head alone (recipe S): the descriptors stay exactly those
            of the starting weights.
    """

    stage: str = "magicpoint"
    seed: int = 0
    batch_size: int = 32
    max_steps: int = 50000
    lr: float = 1e-3
    lr_schedule: tuple[tuple[int, float], ...] = ()
    checkpoint_every: int = 500
    keep_every: int = 5000
    log_every: int = 20
    val_every: int = 1000
    val_size: int = 256
    val_seed: int = 1_000_003
    torch_threads: int = 2
    precision: str = "bf16"
    channels_last: bool | str = "auto"
    detection_threshold: float = 0.015
    nms_radius: int = 4
    match_tolerance: int = 3
    init_weights: str | None = None
    dustbin_prior: float = 0.97
    lambda_loss: float = 1e-4
    lambda_d: float = 250.0
    positive_margin: float = 1.0
    negative_margin: float = 0.2
    descriptor_loss: str = "hinge"
    softmax_temperature: float = 0.1
    lambda_shift: float = 0.0
    shift_loss: str = "heatmap"
    lambda_warp: float = 0.0
    train_layers: tuple[str, ...] = ()
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, got {self.stage!r}")
        if self.precision not in ("bf16", "fp16", "fp32"):
            raise ValueError(f"precision must be bf16, fp16 or fp32, got {self.precision!r}")
        if self.descriptor_loss not in DESCRIPTOR_LOSSES:
            raise ValueError(f"descriptor_loss must be one of {DESCRIPTOR_LOSSES}, got {self.descriptor_loss!r}")
        if not self.softmax_temperature > 0:
            raise ValueError(f"softmax_temperature must be > 0, got {self.softmax_temperature}")
        if not self.lambda_shift >= 0:
            raise ValueError(f"lambda_shift must be >= 0, got {self.lambda_shift}")
        if not self.lambda_warp >= 0:
            raise ValueError(f"lambda_warp must be >= 0, got {self.lambda_warp}")
        self.train_layers = _parse_layers(self.train_layers)
        if self.shift_loss not in SHIFT_LOSSES:
            raise ValueError(f"shift_loss must be one of {SHIFT_LOSSES}, got {self.shift_loss!r}")
        if self.channels_last not in (True, False, "auto"):
            raise ValueError(f"channels_last must be true, false or auto, got {self.channels_last!r}")
        if self.data.height % 8 or self.data.width % 8:
            raise ValueError(f"image size must be a multiple of 8, got {self.data.height}x{self.data.width}")
        if self.batch_size < 1 or self.max_steps < 0:
            raise ValueError("batch_size must be >= 1 and max_steps >= 0")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        self.lr_schedule = _parse_schedule(self.lr_schedule)

    def lr_at(self, step: int) -> float:
        """Learning rate of the update taken after ``step`` completed steps (see ``lr_schedule``)."""
        lr = self.lr
        for start, value in self.lr_schedule:
            if step >= start:
                lr = value
        return lr


def _parse_layers(layers: Any) -> tuple[str, ...]:
    """``train_layers`` (a YAML list of convolution names) -> tuple; ValueError naming an unknown layer."""
    known = [name for name, *_ in CONV_LAYERS]
    if isinstance(layers, str):
        layers = (layers,)
    out = tuple(layers or ())
    for name in out:
        if name not in known:
            raise ValueError(f"train_layers: unknown layer {name!r}; the layers are {known}")
    if len(set(out)) != len(out):
        raise ValueError(f"train_layers names a layer twice: {list(out)}")
    return out


def _parse_schedule(schedule: Any) -> tuple[tuple[int, float], ...]:
    """``[[step, lr], ...]`` (YAML lists or tuples) -> tuple of (int, float); ValueError when malformed."""
    out: list[tuple[int, float]] = []
    for entry in schedule or ():
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            raise ValueError(f"lr_schedule entries must be [step, lr] pairs, got {entry!r}")
        step, lr = entry
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"lr_schedule step must be an integer >= 0, got {step!r}")
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
            raise ValueError(f"lr_schedule lr must be a number > 0, got {lr!r}")
        if out and step <= out[-1][0]:
            raise ValueError(f"lr_schedule steps must increase, got {step} after {out[-1][0]}")
        out.append((step, float(lr)))
    return tuple(out)


def _convert(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_dict(tp, value)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _convert(inner[0], value)
        if isinstance(value, list) and any(typing.get_origin(a) is tuple for a in inner):
            return tuple(value)  # e.g. ``str | tuple[str, ...]`` given a YAML list
        return value
    if origin is tuple and isinstance(value, list | tuple):
        return tuple(value)
    return value


def from_dict(cls: type, data: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from a (YAML) dict; unknown keys raise ValueError."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} config must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
    return cls(**{k: _convert(hints[k], v) for k, v in data.items()})


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass as plain dicts/lists (YAML- and torch.save-friendly)."""

    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [plain(x) for x in v]
        return v

    return typing.cast(dict[str, Any], plain(dataclasses.asdict(config)))


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``; nested mappings merge key by key, anything else replaces."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file as a dict, with ``base: OTHER.yaml`` (relative to this file) merged underneath."""
    import yaml

    path = path.resolve()
    if path in seen:
        raise ValueError(f"config base cycle: {' -> '.join(str(p) for p in (*seen, path))}")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config must be a YAML mapping")
    base = data.pop("base", None)
    if base is None:
        return data
    return _merge(_read_yaml(path.parent / str(base), (*seen, path)), data)


def load_config(path: str | Path) -> TrainConfig:
    """Read a stage config. ``base: OTHER.yaml`` (relative path) starts from another config and overrides it
    key by key (nested sections merge), so a variant states only what it changes."""
    return typing.cast(TrainConfig, from_dict(TrainConfig, _read_yaml(Path(path))))


def save_config(config: TrainConfig, path: str | Path) -> None:
    import yaml

    with open(path, "w") as f:
        yaml.safe_dump(to_dict(config), f, sort_keys=False)
