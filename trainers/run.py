"""One training run: build model + processor, the balanced data stream, train (resuming), save.

Used by `florenz train` and by every point of `florenz sweep`.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard

from dataset_builder.balancing import GENERALIST_FINETUNE_KEYS, uniform_shares
from dataset_builder.corpus import ScenesConfig
from dataset_builder.release import MANIFEST_NAME, check_release
from model_tools.checkpoint_init import (
    INITIALISABLE_PRESETS,
    build_model_and_processor,
    default_image_size,
    prompt_token_budget,
)
from model_tools.model_card import base_models, build_model_card, write_model_card
from model_tools.model_folder import set_generation_defaults
from modeling_florenz.configuration_florenz import VISION_PREFIXES
from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration
from modeling_florenz.processing_florenz import FlorenzProcessor, florenz_image_processor

from .config import FlorenzPretrainConfig
from .data import ReleaseStream, ScenesStream, load_release_config, release_eval_sets, scenes_eval_sets
from .scenes_presets import SCENES_IMAGE_SIZE, SCENES_PRESETS
from .trainer import FlorenzSeq2SeqTrainer

FINAL_DIR = "final"


def run_image_size(args: FlorenzPretrainConfig) -> int:
    """The one image size of a run: `args.image_size`, else the model's own (preset default or a folder's processor)."""
    if args.image_size:
        return args.image_size
    if args.model in SCENES_PRESETS:
        return SCENES_IMAGE_SIZE
    if args.model in INITIALISABLE_PRESETS:
        return default_image_size(args.model)
    if Path(args.model).is_dir():
        check_model_folder(args.model)
        return FlorenzProcessor.from_pretrained(args.model, trust_remote_code=True).image_size
    allowed = sorted(SCENES_PRESETS) + list(INITIALISABLE_PRESETS)
    raise ValueError(f"model {args.model!r} is neither a model folder nor a preset; presets: {allowed}")


def scenes_corpus_config(args: FlorenzPretrainConfig, corpus: ScenesConfig | None = None) -> ScenesConfig:
    """The run's corpus: `corpus` (a sweep plan's, whole) or the defaults with `args`' coverage; images at the
    run's image size either way."""
    if corpus is None:
        corpus = ScenesConfig(caption_langs=args.caption_languages, translation_langs=args.translation_languages)
    elif (corpus.caption_langs, corpus.translation_langs) != (args.caption_languages, args.translation_languages):
        raise ValueError(
            f"corpus coverage {corpus.caption_langs}/{corpus.translation_langs} differs from the run's "
            f"caption_langs={args.caption_langs!r} / translation_langs={args.translation_langs!r}"
        )
    return dataclasses.replace(corpus, image_size=run_image_size(args))


def _quote(text: str, limit: int = 200) -> str:
    """`repr` of user text, cut to `limit` characters so an error message stays one readable line."""
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[:limit]}… ({len(text)} characters)"


def check_model_folder(folder: str | Path) -> None:
    """A `--model` folder must hold a Florenz `config.json`; a dataset release or an unrelated folder is refused."""
    path = Path(folder)
    if (path / MANIFEST_NAME).is_file():
        raise ValueError(
            f"--model {_quote(str(folder))} is a dataset release (it holds {MANIFEST_NAME}); pass it as --dataset"
        )
    try:
        model_type = json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as err:
        raise ValueError(
            f"--model {_quote(str(folder))} is not a model folder: config.json is missing or unreadable "
            f"({type(err).__name__}); give a preset or a folder written by `florenz model init` or training"
        ) from err
    if model_type != "florenz":
        raise ValueError(f"--model {_quote(str(folder))} holds a {model_type!r} model, not a Florenz model")


def check_dataset(dataset: str) -> None:
    """`--dataset` is 'scenes' or a complete, intact release folder; checked before any model or pretraining work."""
    if dataset == "scenes":
        return
    path = Path(dataset)
    try:
        is_dir = path.is_dir()
    except OSError:  # e.g. a name longer than the file system allows
        is_dir = False
    if not is_dir:
        raise ValueError(f"--dataset {_quote(dataset)} is neither 'scenes' nor an existing release folder")
    if (path / "config.json").is_file() and not (path / MANIFEST_NAME).is_file():
        raise ValueError(f"--dataset {_quote(dataset)} is a model folder (it holds config.json), not a dataset release")
    check_release(path)


def build_model(args: FlorenzPretrainConfig, corpus: ScenesConfig, tokenizer_dir: str | Path) -> tuple[Any, Any, str]:
    """(model, processor, decoder_init) for a Scenes preset, an initialisable preset, or a saved folder; the
    processor's image size is `corpus.image_size` (the run's)."""
    image_size = corpus.image_size
    if args.model in SCENES_PRESETS:
        from .scenes_model import build_scenes_model

        model, processor = build_scenes_model(args.model, corpus, tokenizer_dir, seed=args.seed)
        return model, processor, SCENES_PRESETS[args.model]["decoder_init"]
    if args.model in INITIALISABLE_PRESETS:
        model, processor = build_model_and_processor(args.model, seed=args.seed, image_size=image_size)
        return model, processor, "pretrained" if args.model == "florenz-nano" else "scratch"
    if Path(args.model).is_dir():
        check_model_folder(args.model)
        model = FlorenzForConditionalGeneration.from_pretrained(args.model, trust_remote_code=True)
        processor = FlorenzProcessor.from_pretrained(args.model, trust_remote_code=True)
        if processor.image_size != image_size:
            processor.image_processor = florenz_image_processor(image_size)
        return model, processor, "pretrained"
    allowed = sorted(SCENES_PRESETS) + list(INITIALISABLE_PRESETS)
    raise ValueError(f"model {args.model!r} is neither a model folder nor a preset; presets: {allowed}")


def training_stream(args: FlorenzPretrainConfig, corpus: ScenesConfig):
    """The balanced stream of `args.seen_samples` rows from Scenes or a parquet release folder."""
    shares = uniform_shares(GENERALIST_FINETUNE_KEYS) if args.balancing == "generalist" else None
    if args.dataset == "scenes":
        return ScenesStream(corpus, args.seen_samples, seed=args.seed, shares=shares)
    from datasets import get_dataset_config_names

    keys = list(shares) if shares else [k for k in get_dataset_config_names(args.dataset) if k != "pretrain"]
    sources = {}
    for key in keys:
        splits = load_release_config(args.dataset, key)
        if "train" in splits:
            sources[key] = splits["train"]
    if not sources:
        raise ValueError(f"release {args.dataset} has no train split for any of {keys}")
    shares = {key: share for key, share in (shares or uniform_shares(list(sources))).items() if key in sources}
    return ReleaseStream(sources, args.seen_samples, seed=args.seed, shares=shares)


def in_training_eval_sets(args: FlorenzPretrainConfig, corpus: ScenesConfig) -> dict[str, list[dict[str, Any]]]:
    """`num_eval` test rows per caption/translation key: CE (and BLEU with predict_with_generate) during training."""
    if args.dataset == "scenes":
        sets = scenes_eval_sets(corpus, "test", args.num_eval)
    else:
        sets = release_eval_sets(args.dataset, args.num_eval)
    return {name: rows for name, rows in sets.items() if not name.startswith("disambiguation-")}


def check_lengths(model, args: FlorenzPretrainConfig, image_size: int) -> None:
    """Fail before training when image tokens + prompt or the targets exceed the learned position tables."""
    config = model.config
    budget = prompt_token_budget(config, image_size)
    if args.max_encoder_length > budget:
        raise ValueError(
            f"{config.encoder_config.max_position_embeddings - budget} image tokens + max_encoder_length="
            f"{args.max_encoder_length} exceed the encoder's {config.encoder_config.max_position_embeddings} positions; "
            "lower max_encoder_length or image_size"
        )
    decoder_positions = getattr(config.text_config, "max_position_embeddings", None)
    if decoder_positions is not None and args.max_decoder_length > decoder_positions:
        raise ValueError(
            f"max_decoder_length={args.max_decoder_length} exceeds the decoder's {decoder_positions} positions"
        )


def last_complete_checkpoint(output_dir: str | Path) -> str | None:
    """Newest `checkpoint-N` whose trainer state (written last) is complete; removes checkpoints killed mid-write.

    `transformers`' own `get_last_checkpoint` returns the newest folder even when the process died while writing
    it, which then cannot be resumed.
    """
    checkpoints = sorted(
        (p for p in Path(output_dir).glob("checkpoint-*") if p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
        reverse=True,
    )
    for checkpoint in checkpoints:
        try:
            json.loads((checkpoint / "trainer_state.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            shutil.rmtree(checkpoint)
            continue
        return str(checkpoint)
    return None


def train(
    args: FlorenzPretrainConfig,
    eval_sets: dict[str, list[dict[str, Any]]] | None = None,
    tokenizer_dir: str | Path | None = None,
    corpus: ScenesConfig | None = None,
) -> tuple[FlorenzSeq2SeqTrainer, str]:
    """Train (resuming from the last checkpoint in `args.output_dir` if any) and save to `output_dir/final`.

    `corpus` (a sweep plan's Scenes configuration) is used whole: training rows, eval rows, tokenizer training and
    vision pretraining all see the same corpus.
    """
    check_dataset(args.dataset)
    corpus = scenes_corpus_config(args, corpus)
    tokenizer_dir = tokenizer_dir or Path(args.output_dir) / "tokenizers"
    model, processor, decoder_init = build_model(args, corpus, tokenizer_dir)
    if args.vision_pretraining_steps:
        from .scenes_presets import vision_tower_name
        from .vision_pretraining import load_or_pretrain_vision

        tower = vision_tower_name(args.model)
        # Named by its steps too, so a folder re-run with other pretraining never picks up the old tower.
        name = f"{tower}__seed{args.seed}__steps{args.vision_pretraining_steps}.safetensors"
        cache = Path(tokenizer_dir).parent / "vision" / name
        load_or_pretrain_vision(model, processor, corpus, args.vision_pretraining_steps, cache)
    if args.lm_pretraining_languages:
        from .lm_pretraining import load_or_pretrain_decoder

        if decoder_init != "scratch" or not args.lm_pretraining_steps:
            raise ValueError(
                f"lm_pretraining_languages={args.lm_pretraining_languages} needs a scratch decoder and "
                f"lm_pretraining_steps > 0; got decoder_init={decoder_init!r}, steps={args.lm_pretraining_steps}"
            )
        k = args.lm_pretraining_languages
        name = f"{args.model}__seed{args.seed}__lm{k}__steps{args.lm_pretraining_steps}.safetensors"
        cache = Path(tokenizer_dir).parent / "decoder" / name
        load_or_pretrain_decoder(model, processor.tokenizer, corpus, k, args.lm_pretraining_steps, cache)
        decoder_init = f"lm{k}"
    check_lengths(model, args, processor.image_size)
    model.apply_freeze_policy(args.freeze_policy)
    if args.vision_pretraining_steps:  # the shared tower stays frozen; the projector adapts it to this model's width
        for name, param in model.named_parameters():
            if name.startswith("model.multi_modal_projector."):
                param.requires_grad_(True)
    if args.train_vision:
        for name, param in model.named_parameters():
            if name.startswith(VISION_PREFIXES):
                param.requires_grad_(True)
    if eval_sets is None and args.eval_strategy != "no":
        eval_sets = in_training_eval_sets(args, corpus)
    trainer = FlorenzSeq2SeqTrainer(
        model=model,
        args=args,
        train_dataset=training_stream(args, corpus),
        processing_class=processor,
        eval_sets=eval_sets,
        generation_sets=list(eval_sets or {}) if args.predict_with_generate else (),
        caption_langs=args.caption_languages,
    )
    trainer.train(resume_from_checkpoint=last_complete_checkpoint(args.output_dir))
    final = Path(args.output_dir) / FINAL_DIR
    set_generation_defaults(trainer.model)  # only now: in-training evaluation decodes with the generation_* flags
    trainer.save_model(str(final))
    processor.save_pretrained(str(final))
    write_model_card(final, training_card(args, decoder_init, str(final)))
    return trainer, decoder_init


def training_card(
    args: FlorenzPretrainConfig, decoder_init: str, model_id: str, results: dict[str, Any] | None = None
) -> ModelCard:
    """The card of a trained model: preset, data, budget and coverage from the run's config; `results` from its eval."""
    dataset = "Florenz-Scenes, generated on the fly" if args.dataset == "scenes" else Path(args.dataset).name
    return build_model_card(
        model_id=model_id,
        summary=f"`{args.model}` trained with `florenz train` on {dataset} ({decoder_init} decoder).",
        preset=Path(args.model).name,
        base_model=base_models(preset=args.model),
        caption_languages=args.caption_languages,
        translation_languages=args.translation_languages,
        training={
            "dataset": dataset,
            "seen_samples": args.seen_samples,
            "batch_size": args.per_device_train_batch_size,
            "learning_rate": args.learning_rate,
            "image_size": run_image_size(args),
            "seed": args.seed,
            "decoder_init": decoder_init,
        },
        results=results,
    )
