"""TRL-style configs for Florenz seq2seq training: a dataclass on top of `Seq2SeqTrainingArguments`.

Defaults are the paper's recipes: continued pre-training (lr 1e-4, cosine, 100 warm-up steps but at most 10% of
the run, wd 0.01, 128/128 tokens, task×language balancing over the 7 covered keys; images at the model's own size,
224 px for the paper's models) and the generalist fine-tune (lr 5e-5, wd 0.05, 768 px, uniform over 11 keys).
Everything can be overridden from YAML or flags (`HfArgumentParser`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from transformers import Seq2SeqTrainingArguments

from dataset_builder.balancing import PRETRAIN_CAPTION_LANGUAGES
from modeling_florenz.modeling_florenz import FREEZE_POLICIES
from modeling_florenz.processing_florenz import LANGUAGES, TRANSLATION_TARGETS

BALANCING = ("pretrain", "generalist")
PAPER_WARMUP_STEPS = 100
WARMUP_CAP = 0.1  # share of a run that the default warm-up may take


@dataclass
class FlorenzPretrainConfig(Seq2SeqTrainingArguments):
    """Continued pre-training on the incomplete-coverage corpus."""

    model: str = field(
        default="tiny-bart", metadata={"help": "A preset name or a model folder (`florenz model init`)."}
    )
    dataset: str = field(default="scenes", metadata={"help": "'scenes' (generated on the fly) or a release folder."})
    seen_samples: int = field(default=2048, metadata={"help": "Training samples S; max_steps = S / global batch."})
    max_encoder_length: int = field(default=128, metadata={"help": "Prompt tokens after the image tokens."})
    max_decoder_length: int = field(default=128, metadata={"help": "Target tokens incl. <bos>/<eos>."})
    image_size: int | None = field(
        default=None,
        metadata={
            "help": "Image side in px, for the processor, the length check, FLOPs and Scenes rendering alike. "
            "Default: the model's own (Scenes presets 96, tiny presets 64, florenz-nano 224, a folder's processor)."
        },
    )
    balancing: str = field(default="pretrain", metadata={"help": f"Task×language mix, one of {BALANCING}."})
    caption_langs: str = field(
        default=",".join(PRETRAIN_CAPTION_LANGUAGES), metadata={"help": "Scenes: caption languages in training."}
    )
    translation_langs: str = field(
        default=",".join(TRANSLATION_TARGETS), metadata={"help": "Scenes: translation targets."}
    )
    num_eval: int = field(default=64, metadata={"help": "Rows per eval set for in-training CE."})
    freeze_policy: str = field(default="paper", metadata={"help": f"One of {FREEZE_POLICIES} (vision frozen)."})
    vision_pretraining_steps: int = field(
        default=0,
        metadata={
            "help": "Scenes presets: attribute-prediction steps that pretrain the vision tower before it is frozen."
        },
    )
    lm_pretraining_languages: int = field(
        default=0,
        metadata={
            "help": "Scenes scratch decoders: pretrain the decoder as a text-only LM on translation-distribution "
            "sentences of this many of en/de/fr/es/ru/zh before vision training (the T axis; 0 = none)."
        },
    )
    lm_pretraining_steps: int = field(default=0, metadata={"help": "Steps of that LM pretraining (batches of 32)."})
    gate_learning_rate: float | None = field(
        default=None,
        metadata={
            "help": "Peak learning rate of the tanh gates of gated cross-attention (Gemma decoders); None = "
            "learning_rate. Gates start at 0, so at small budgets the shared rate barely opens them."
        },
    )
    train_vision: bool = field(
        default=False,
        metadata={"help": "Also train the vision tower + projector (only for models without a pretrained one)."},
    )

    # Seq2SeqTrainingArguments fields with the paper's defaults (help repeated: a redefined field loses its own).
    learning_rate: float = field(default=1e-4, metadata={"help": "Peak AdamW learning rate."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "Learning-rate schedule after warm-up."})
    warmup_steps: float | None = field(
        default=None,
        metadata={
            "help": "Linear warm-up: an int (steps) or a float in [0, 1) (share of the run). Default: the paper's "
            "100 steps, capped at a tenth of the run so that short runs reach their peak rate."
        },
    )
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping norm."})
    seed: int = field(default=44595, metadata={"help": "Seed of model init, data order and dropout."})
    per_device_train_batch_size: int = field(default=32, metadata={"help": "Training batch per device."})
    logging_steps: float = field(default=25, metadata={"help": "Log the training loss every N optimizer steps."})
    save_strategy: str = field(default="steps", metadata={"help": "When to write checkpoints: no, steps, epoch."})
    save_steps: float = field(default=500, metadata={"help": "Checkpoint every N optimizer steps."})
    save_total_limit: int | None = field(default=2, metadata={"help": "Keep at most N checkpoints."})
    eval_strategy: str = field(default="no", metadata={"help": "When to evaluate CE (and BLEU): no, steps, epoch."})
    report_to: None | str | list[str] = field(default="none", metadata={"help": "Experiment trackers, or none."})
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Keep False: the collator needs the image and text columns."}
    )
    train_sampling_strategy: str = field(
        default="sequential", metadata={"help": "The balanced stream is already shuffled: keep it sequential."}
    )
    use_cpu: bool = field(default=False, metadata={"help": "Train on CPU even where an accelerator is available."})

    def __post_init__(self) -> None:
        if self.balancing not in BALANCING:
            raise ValueError(f"balancing={self.balancing!r} is not one of {BALANCING}")
        if self.freeze_policy not in FREEZE_POLICIES:
            raise ValueError(f"freeze_policy={self.freeze_policy!r} is not one of {FREEZE_POLICIES}")
        for name in (
            "seen_samples",
            "max_encoder_length",
            "max_decoder_length",
            "image_size",
            "per_device_train_batch_size",
            "per_device_eval_batch_size",
            "gradient_accumulation_steps",
        ):
            value = getattr(self, name)
            if name == "image_size" and value is None:  # None: the model's own size
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"--{name} must be a positive integer, got {value!r}")
        if self.gate_learning_rate is not None and not self.gate_learning_rate > 0:
            raise ValueError(f"--gate_learning_rate must be positive or unset, got {self.gate_learning_rate!r}")
        scaled_warmup = self.warmup_steps is None
        if scaled_warmup:
            self.warmup_steps = 0
        super().__post_init__()
        global_batch = self.per_device_train_batch_size * self.gradient_accumulation_steps * max(self.world_size, 1)
        if self.seen_samples % global_batch:
            raise ValueError(
                f"seen_samples={self.seen_samples} must be a multiple of the global batch {global_batch} "
                "(per-device batch × gradient accumulation × processes), so that S is exact"
            )
        self.max_steps = self.seen_samples // global_batch
        if scaled_warmup:
            self.warmup_steps = min(PAPER_WARMUP_STEPS, math.ceil(WARMUP_CAP * self.max_steps))

    @property
    def caption_languages(self) -> tuple[str, ...]:
        return tuple(code.strip() for code in self.caption_langs.split(",") if code.strip())

    @property
    def translation_languages(self) -> tuple[str, ...]:
        return tuple(code.strip() for code in self.translation_langs.split(",") if code.strip())


@dataclass
class FlorenzSFTConfig(FlorenzPretrainConfig):
    """Generalist fine-tuning: uniform over the 11 task×language keys, higher resolution."""

    image_size: int | None = 768
    balancing: str = "generalist"
    caption_langs: str = ",".join(LANGUAGES)
    learning_rate: float = 5e-5
    weight_decay: float = 0.05
    per_device_train_batch_size: int = 32
