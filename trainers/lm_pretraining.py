"""Text-only language-model pretraining of a from-scratch Scenes decoder: the measured T axis.

T is the decoder's initial multilinguality: the number k of the six languages in a language-model pretraining of the
decoder before any vision training (runs.csv `lm_languages`; `initial_multilinguality` = k / 6, so the fits' T = 1 + k/6
runs from 1 for a scratch decoder to 2 for one pretrained on all six). The text is the translation distribution only
(English sources and the targets of training translation pairs), never a caption, so no caption sentence of a
translation-only language is ever seen. The decoder reads an all-zero one-token "encoder" during this stage, so only
the language model learns; its FLOPs are reported separately (`lm_pretraining_compute`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch.utils.flop_counter import FlopCounterMode

from dataset_builder.atomic import atomic_path
from dataset_builder.corpus import ScenesConfig, make_row

LM_LANGUAGES = ("en", "de", "fr", "es", "ru", "zh")  # the first k are pretrained for T level k
DECODER_PREFIX = "model.decoder."


def lm_texts(corpus: ScenesConfig, languages: int, start: int, count: int) -> list[str]:
    """`count` sentences round-robin over the first `languages` of `LM_LANGUAGES`, from training translation pairs."""
    if not 1 <= languages <= len(LM_LANGUAGES):
        raise ValueError(f"languages={languages!r}; allowed: 1..{len(LM_LANGUAGES)}")
    texts = []
    for position in range(start, start + count):
        language = LM_LANGUAGES[position % languages]
        index = position // languages
        if language == "en":
            texts.append(make_row(corpus, "train", "translation-de", index, with_image=False)["source"])
        else:
            texts.append(make_row(corpus, "train", f"translation-{language}", index, with_image=False)["target"])
    return texts


def _batch(model, tokenizer, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
    pieces = [tokenizer(text, add_special_tokens=False)["input_ids"][: max_length - 2] for text in texts]
    rows = [[tokenizer.bos_token_id, *ids, tokenizer.eos_token_id] for ids in pieces]
    width = max(len(row) for row in rows)
    labels = torch.tensor([row + [-100] * (width - len(row)) for row in rows])
    mask = torch.ones_like(labels)
    mask[:, 1:] = labels[:, :-1] != -100  # right-padded, as the BART decoder requires
    width_encoder = model.config.encoder_config.d_model
    dtype = next(model.parameters()).dtype
    return {
        "encoder_outputs": (torch.zeros(len(texts), 1, width_encoder, dtype=dtype),),
        "decoder_input_ids": model.prepare_decoder_input_ids_from_labels(labels),
        "decoder_attention_mask": mask,
        "labels": labels,
    }


def pretrain_decoder(
    model, tokenizer, corpus: ScenesConfig, languages: int, steps: int, batch_size: int = 32, lr: float = 1e-3
) -> float:
    """Train the decoder (and its tied embeddings) as a language model on `lm_texts`; returns the last loss."""
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    params = [p for name, p in model.named_parameters() if name.startswith(DECODER_PREFIX)]
    optimizer = torch.optim.AdamW(params, lr=lr)
    model.train()
    loss = torch.tensor(float("nan"))
    for step in range(steps):
        texts = lm_texts(corpus, languages, step * batch_size, batch_size)
        loss = model(**_batch(model, tokenizer, texts, 64)).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return loss.item()


@torch.no_grad()
def pretraining_compute(model, tokenizer, corpus: ScenesConfig, languages: int, steps: int, batch_size: int = 32):
    """FLOPs of `pretrain_decoder`: steps · 3 · forward FLOPs of its first batch (backward ≈ 2× forward)."""
    if steps <= 0 or languages <= 0:
        return 0.0
    with FlopCounterMode(display=False) as counter:
        model(**_batch(model, tokenizer, lm_texts(corpus, languages, 0, batch_size), 64))
    return 3.0 * steps * counter.get_total_flops()


def load_or_pretrain_decoder(
    model, tokenizer, corpus: ScenesConfig, languages: int, steps: int, cache: str | Path
) -> None:
    """Pretrain once per (preset, seed, languages) and reuse the saved decoder for every budget."""
    cache = Path(cache)
    if cache.exists():
        missing = model.load_state_dict(load_file(cache), strict=False)
        if any(k.startswith(DECODER_PREFIX) for k in missing.missing_keys):
            raise ValueError(f"{cache} does not hold this model's decoder")
        return
    pretrain_decoder(model, tokenizer, corpus, languages, steps)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k.startswith(DECODER_PREFIX)}
    with atomic_path(cache) as tmp:
        save_file(state, tmp)
