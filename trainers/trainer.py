"""`FlorenzSeq2SeqTrainer`: `transformers.Seq2SeqTrainer` plus the evaluations the scaling study needs.

TRL's SFTTrainer trains causal LMs only, so we subclass Seq2SeqTrainer and override as little as possible: the default
collator, and `evaluate`, which reports per-sample mean token CE on each named eval set (the scaling-law target) and,
on request, generation metrics.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader
from transformers import Seq2SeqTrainer

from dataset_builder.balancing import PRETRAIN_CAPTION_LANGUAGES

from .collator import FlorenzDataCollator
from .metrics import bleu, per_sample_ce
from .runs_table import CE_GROUPS, ce_column


def split_eval_sets(names: Sequence[str], caption_langs: Sequence[str]) -> dict[str, list[str]]:
    """{group: [eval set names]}: seen/unseen captions by coverage, translation, disambiguation."""
    groups: dict[str, list[str]] = {group: [] for group in (*CE_GROUPS, "disambiguation")}
    for name in names:
        kind, _, language = name.partition("-")
        if kind == "caption":
            groups["seen_caption" if language in caption_langs else "unseen_caption"].append(name)
        elif kind in ("translation", "disambiguation"):
            groups[kind].append(name)
        else:
            raise ValueError(f"eval set {name!r} is not caption-/translation-/disambiguation-<lang>")
    return groups


class FlorenzSeq2SeqTrainer(Seq2SeqTrainer):
    """Seq2SeqTrainer with Florenz defaults: the Florenz collator and CE/BLEU evaluation on named eval sets.

    `eval_sets` maps a name such as `caption-fr` to a sequence of corpus rows. `evaluate()` without an explicit
    `eval_dataset` reports `eval_ce_<name>` for each set (mean over samples of the mean token CE), the group means
    `eval_ce_seen_caption` / `eval_ce_unseen_caption` / `eval_ce_translation` (coverage from `caption_langs`) and,
    for the sets in `generation_sets`, `eval_bleu_<name>` from beam-search generations.

    Those generations go through `Seq2SeqTrainer.predict` (`predict_with_generate=True`, so the rows are sharded over
    processes like any eval set); BLEU is scored on its output against the rows' own targets rather than in a
    `compute_metrics` on decoded labels, which are truncated to `max_decoder_length`. Prefix-mode generation
    (`generate_texts(prefix=True)`, the end-of-run evaluation) keeps its own loop, because the processor strips the
    forced prefix using the prefix rows of its latest call, which `predict` overwrites batch by batch before decoding,
    and `prediction_step` drops the forced `decoder_input_ids` of any batch where they have the labels' shape.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        args: Any,
        train_dataset: Any = None,
        processing_class: Any = None,
        data_collator: Any = None,
        eval_sets: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        generation_sets: Sequence[str] = (),
        caption_langs: Sequence[str] = PRETRAIN_CAPTION_LANGUAGES,
        **kwargs: Any,
    ) -> None:
        if data_collator is None:
            if processing_class is None:
                raise ValueError("pass processing_class (a FlorenzProcessor) or a data_collator")
            data_collator = FlorenzDataCollator(
                processing_class,
                max_encoder_length=getattr(args, "max_encoder_length", 128),
                max_decoder_length=getattr(args, "max_decoder_length", 128),
            )
        if eval_sets and "eval_dataset" not in kwargs:  # the Trainer insists on one when eval_strategy != "no"
            kwargs["eval_dataset"] = [row for rows in eval_sets.values() for row in rows]
        super().__init__(
            model=model,
            args=args,
            train_dataset=train_dataset,
            processing_class=processing_class,
            data_collator=data_collator,
            **kwargs,
        )
        self.eval_sets = dict(eval_sets or {})
        unknown = set(generation_sets) - set(self.eval_sets)
        if unknown:
            raise ValueError(f"generation_sets {sorted(unknown)} are not among eval_sets {sorted(self.eval_sets)}")
        if generation_sets and not args.predict_with_generate:
            raise ValueError("generation_sets need predict_with_generate=True (their BLEU is scored on predict())")
        self.generation_sets = tuple(generation_sets)
        self.caption_langs = tuple(caption_langs)

    def create_optimizer(self, model=None):
        """The Trainer's AdamW, with the cross-attention gates (`*_gate`) in groups of their own at
        `args.gate_learning_rate` when it is set; the schedule scales every group alike."""
        optimizer = super().create_optimizer(model)
        gate_lr = getattr(self.args, "gate_learning_rate", None)
        if gate_lr is None:
            return optimizer
        gates = {id(p) for name, p in self.model.named_parameters() if name.endswith("_gate") and p.requires_grad}
        groups = []
        for group in optimizer.param_groups:
            rest = [p for p in group["params"] if id(p) not in gates]
            mine = [p for p in group["params"] if id(p) in gates]
            groups += [g for g in ({**group, "params": rest}, {**group, "params": mine, "lr": gate_lr}) if g["params"]]
        optimizer.param_groups.clear()
        for group in groups:
            optimizer.add_param_group(group)
        return optimizer

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval", **gen_kwargs):
        if eval_dataset is not None or not self.eval_sets:
            return super().evaluate(
                eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix, **gen_kwargs
            )
        ce = self.cross_entropy(self.eval_sets)
        metrics = {f"{metric_key_prefix}_ce_{name}": value for name, value in ce.items()}
        for group, names in split_eval_sets(list(ce), self.caption_langs).items():
            if names and group in CE_GROUPS:
                metrics[f"{metric_key_prefix}_{ce_column(group)}"] = sum(ce[n] for n in names) / len(names)
        for name in self.generation_sets:
            rows = self.eval_sets[name]
            hyps = self.predict_texts(rows, **gen_kwargs)
            metrics[f"{metric_key_prefix}_bleu_{name}"] = bleu(
                hyps, [row["target"] for row in rows], rows[0]["language"]
            )
        self.log(metrics)
        return metrics

    def _batches(self, rows: Sequence[Mapping[str, Any]]) -> DataLoader:
        return DataLoader(
            list(rows), batch_size=self.args.per_device_eval_batch_size, shuffle=False, collate_fn=self.data_collator
        )

    @torch.no_grad()
    def cross_entropy(
        self,
        eval_sets: Mapping[str, Sequence[Mapping[str, Any]]],
        shuffle_images: bool = False,
        per_sample: bool = False,
    ) -> dict[str, Any]:
        """Mean over samples of the per-sample mean token CE (nats/token) for each eval set.

        With `shuffle_images=True` every sample is scored with another sample's image (a cyclic shift within the
        batch): the difference to the right-image CE measures how much the model uses the picture.
        With `per_sample=True` each value is the numpy array of per-sample CEs instead of their mean.
        """
        model = self.model
        was_training = model.training
        model.eval()
        try:
            results = {}
            for name, rows in eval_sets.items():
                losses = []
                for batch in self._batches(rows):
                    batch = batch.to(self.args.device)
                    if shuffle_images:
                        if batch["pixel_values"].shape[0] < 2:
                            raise ValueError("shuffled-image CE needs eval batches of at least 2 samples")
                        batch["pixel_values"] = batch["pixel_values"].roll(1, dims=0)
                    logits = model(**batch).logits
                    losses.append(per_sample_ce(logits.float(), batch["labels"]))
                values = torch.cat(losses)
                results[name] = values.cpu().numpy() if per_sample else values.mean().item()
        finally:
            model.train(was_training)
        return results

    def _generation_kwargs(self, gen_kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Explicit kwargs, else the `generation_num_beams` / `generation_max_length` arguments, else beam 4 and
        64 new tokens. `max_length` stays `max_length` (decoder tokens incl. the start and any forced prefix)."""
        gen_kwargs = dict(gen_kwargs)
        if gen_kwargs.get("num_beams") is None:
            gen_kwargs["num_beams"] = getattr(self.args, "generation_num_beams", None) or 4
        if gen_kwargs.get("max_length") is None and gen_kwargs.get("max_new_tokens") is None:
            max_length = getattr(self.args, "generation_max_length", None)
            if max_length is not None:
                gen_kwargs["max_length"] = max_length
            else:
                gen_kwargs["max_new_tokens"] = 64
        return gen_kwargs

    def predict_texts(self, rows: Sequence[Mapping[str, Any]], **gen_kwargs: Any) -> list[str]:
        """Decode each row's prompt through `predict` with the arguments of `generate_texts` (no prefix)."""
        gen_kwargs = self._generation_kwargs(gen_kwargs)
        max_length, max_new_tokens = gen_kwargs.pop("max_length", None), gen_kwargs.pop("max_new_tokens", None)
        # One limit, max_length, counted as in generate_texts (the decoder start token is the one forced token):
        # prediction_step writes max_length=20 into the model's generation config, and generate warns on every batch
        # that has a max_new_tokens beside it.
        gen_kwargs["max_length"] = max_length if max_length is not None else max_new_tokens + 1
        if gen_kwargs["max_length"] < 2:
            raise ValueError(
                f"generation max_length={gen_kwargs['max_length']} leaves no room after the decoder start token"
            )
        model = self.model
        saved = model.generation_config
        model.generation_config = copy.deepcopy(saved)
        model.generation_config.max_new_tokens = None  # a folder's saved max_new_tokens would win over max_length
        try:
            predictions = self.predict(list(rows), **gen_kwargs).predictions
        finally:
            model.generation_config = saved  # prediction_step also fills every generation default into the config
        # the -100 that pads batches to one width decodes to nothing
        return self.processing_class.batch_decode(predictions, skip_special_tokens=True, strip_prefix=False)

    @torch.no_grad()
    def generate_texts(self, rows: Sequence[Mapping[str, Any]], prefix: bool = False, **gen_kwargs: Any) -> list[str]:
        """Decode each row's prompt (see `_generation_kwargs` for beams and length); `prefix` forces the language
        prefix."""
        gen_kwargs = self._generation_kwargs(gen_kwargs)
        max_length = gen_kwargs.pop("max_length", None)
        processor = self.processing_class
        model = self.model
        was_training = model.training
        model.eval()
        texts: list[str] = []
        try:
            batch_size = self.args.per_device_eval_batch_size
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                inputs = processor(
                    images=[row["image"] for row in chunk],
                    task=[row["task"] for row in chunk],
                    language=[row["language"] for row in chunk],
                    text=[row["source"] or None for row in chunk],
                    prefix=prefix,
                    max_length=getattr(self.args, "max_encoder_length", None),
                    return_tensors="pt",
                ).to(self.args.device)
                if max_length is not None:
                    # as max_new_tokens, so that a folder's saved max_new_tokens cannot override it
                    started = inputs["decoder_input_ids"].shape[1] if "decoder_input_ids" in inputs else 1
                    gen_kwargs["max_new_tokens"] = max_length - started
                    if gen_kwargs["max_new_tokens"] < 1:
                        raise ValueError(
                            f"generation max_length={max_length} leaves no room after {started} forced tokens"
                        )
                ids = model.generate(**inputs, **gen_kwargs)
                texts.extend(processor.batch_decode(ids, skip_special_tokens=True))
        finally:
            model.train(was_training)
        return texts
