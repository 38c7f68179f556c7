"""Train small stand-ins for the two Florenz tokenizers from a text corpus.

The real model pairs the Florence-2 BART tokenizer (encoder prompts) with the Gemma tokenizer (decoder targets).
Tests and the small sweep presets need tokenizers with the same special-token layout but a vocabulary sized to the
experiment, so both builders train a byte-level BPE (lossless for every script, no `<unk>` ever produced) and wrap it in
a transformers tokenizer class that `AutoTokenizer` reloads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast, RobertaTokenizer

# Special tokens in id order: the position in the list is the id (BART: <s>=0 <pad>=1 </s>=2 <unk>=3).
ENCODER_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
# Gemma layout: <pad>=0 <eos>=1 <bos>=2 <unk>=3.
DECODER_SPECIAL_TOKENS = ("<pad>", "<eos>", "<bos>", "<unk>")

_BYTE_ALPHABET_SIZE = 256


def _train_byte_level_bpe(texts: Iterable[str], vocab_size: int, special_tokens: tuple[str, ...]) -> Tokenizer:
    """Byte-level BPE whose first ids are `special_tokens` in order, followed by the 256 byte symbols and merges."""
    minimum = len(special_tokens) + _BYTE_ALPHABET_SIZE
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < minimum:
        raise ValueError(
            f"vocab_size must be an int >= {minimum} ({len(special_tokens)} special tokens + 256 byte symbols), "
            f"got {vocab_size!r}"
        )
    if isinstance(texts, str):
        raise ValueError("texts must be an iterable of strings, not a single string")
    corpus = []
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"texts[{index}] is a {type(text).__name__}; allowed: str")
        corpus.append(text)
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # Sorted input: the trainer's word counts are order-independent, but sorting removes any dependence on the
    # iteration order of the caller's iterable (sets, dict views) for reproducible vocabularies.
    tokenizer.train_from_iterator(sorted(corpus), trainer)
    return tokenizer


def _vocab_and_merges(tokenizer: Tokenizer) -> tuple[dict[str, int], list[tuple[str, str]]]:
    model = json.loads(tokenizer.to_str())["model"]
    merges = [tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in model["merges"]]
    return dict(model["vocab"]), merges


def train_encoder_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a BART-layout prompt tokenizer: `<s>`=0 `<pad>`=1 `</s>`=2 `<unk>`=3 `<mask>`=4, sequences `<s> … </s>`.

    Returned as a `RobertaTokenizer` (the tokenizers-backed class `BartTokenizer` maps to in transformers 5), so it
    saves and reloads through `AutoTokenizer` exactly like the Florence-2 tokenizer.
    """
    trained = _train_byte_level_bpe(texts, vocab_size, ENCODER_SPECIAL_TOKENS)
    vocab, merges = _vocab_and_merges(trained)
    # RobertaTokenizer rebuilds the same byte-level pipeline and adds the `<s> $A </s>` post-processor.
    tokenizer = RobertaTokenizer(
        vocab=vocab, merges=merges, padding_side="right", truncation_side="right", clean_up_tokenization_spaces=False
    )
    ids = [tokenizer.convert_tokens_to_ids(token) for token in ENCODER_SPECIAL_TOKENS]
    if ids != list(range(len(ENCODER_SPECIAL_TOKENS))):
        raise RuntimeError(f"encoder special tokens landed on ids {ids}, expected 0..{len(ids) - 1}")
    return tokenizer


def train_decoder_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train a Gemma-layout target tokenizer: `<pad>`=0 `<eos>`=1 `<bos>`=2 `<unk>`=3, right padding.

    Byte-level BPE, so `decode(encode(s)) == s` for any text in any script (no normalizer, no unknown tokens).
    Like Gemma, encoding with special tokens prepends `<bos>` only; Florenz targets add `<eos>` themselves.
    """
    trained = _train_byte_level_bpe(texts, vocab_size, DECODER_SPECIAL_TOKENS)
    bos, bos_id = "<bos>", trained.token_to_id("<bos>")
    trained.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bos_id)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=trained,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
        padding_side="right",
        truncation_side="right",
        clean_up_tokenization_spaces=False,
    )
    ids = [tokenizer.convert_tokens_to_ids(token) for token in DECODER_SPECIAL_TOKENS]
    if ids != list(range(len(DECODER_SPECIAL_TOKENS))):
        raise RuntimeError(f"decoder special tokens landed on ids {ids}, expected 0..{len(ids) - 1}")
    return tokenizer


__all__ = [
    "DECODER_SPECIAL_TOKENS",
    "ENCODER_SPECIAL_TOKENS",
    "train_decoder_tokenizer",
    "train_encoder_tokenizer",
]
