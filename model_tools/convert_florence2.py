"""Florence-2 checkpoints → Florenz (0.4B/1.0B: Florence-2's own BART decoder re-vocabularised to Gemma ids).

Not Hub remote code. Two source layouts exist: the transformers-native one (`florence-community/Florence-2-*`, keys
`model.vision_tower.*`, `model.language_model.*`) and Microsoft's remote-code one (`microsoft/Florence-2-*`, keys
`vision_tower.*`, `language_model.model.*`, a raw transposed `image_projection`, config fields `dim_embed`,
`visual_temporal_embedding`, `image_pos_embed`). Both are renamed to the native layout first (stack notes §1), then to
Florenz names; the decoder embedding is rebuilt over the Gemma vocabulary by averaging each Gemma token's BART-piece
embeddings (reference §1.6). Everything reads local folders (safetensors only); nothing touches the network.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

FLORENCE2_LAYOUTS = ("auto", "native", "original")
DEFAULT_IMAGE_SIZE = 768
# The paper pads the BART prompt vocabulary (51289) to a multiple of 128 (51328) for the BART-decoder models ...
ENCODER_VOCAB_MULTIPLE = 128
# ... and gives the Gemma-vocabulary decoder 1024 spare rows (256000 → 257024), left at their random init.
EXTRA_DECODER_ROWS = 1024
# The only image-token recipe Florenz implements (reference §1.2).
_IMAGE_FEATURE_SOURCE = ["spatial_avg_pool", "temporal_avg_pool"]

# (original remote-code key template, transformers-native key template). `{tail}` matches any dotted rest, every other
# `{name}` one key component; the same table drives both directions.
_FLORENCE2_KEY_TEMPLATES = (
    ("vision_tower.convs.{i}.proj.{p}", "model.vision_tower.convs.{i}.conv.{p}"),
    ("vision_tower.convs.{i}.norm.{p}", "model.vision_tower.convs.{i}.norm.{p}"),
    (
        "vision_tower.blocks.{s}.{b}.{kind}_block.conv{n}.fn.dw.{p}",
        "model.vision_tower.blocks.{s}.{b}.{kind}_block.conv{n}.{p}",
    ),
    (
        "vision_tower.blocks.{s}.{b}.spatial_block.window_attn.norm.{p}",
        "model.vision_tower.blocks.{s}.{b}.spatial_block.norm1.{p}",
    ),
    (
        "vision_tower.blocks.{s}.{b}.spatial_block.window_attn.fn.{m}.{p}",
        "model.vision_tower.blocks.{s}.{b}.spatial_block.window_attn.{m}.{p}",
    ),
    (
        "vision_tower.blocks.{s}.{b}.channel_block.channel_attn.norm.{p}",
        "model.vision_tower.blocks.{s}.{b}.channel_block.norm1.{p}",
    ),
    (
        "vision_tower.blocks.{s}.{b}.channel_block.channel_attn.fn.{m}.{p}",
        "model.vision_tower.blocks.{s}.{b}.channel_block.channel_attn.{m}.{p}",
    ),
    (
        "vision_tower.blocks.{s}.{b}.{kind}_block.ffn.norm.{p}",
        "model.vision_tower.blocks.{s}.{b}.{kind}_block.norm2.{p}",
    ),
    (
        "vision_tower.blocks.{s}.{b}.{kind}_block.ffn.fn.net.{fc}.{p}",
        "model.vision_tower.blocks.{s}.{b}.{kind}_block.ffn.{fc}.{p}",
    ),
    ("image_projection", "model.multi_modal_projector.image_projection.weight"),
    ("image_proj_norm.{p}", "model.multi_modal_projector.image_proj_norm.{p}"),
    (
        "image_pos_embed.{axis}_embeddings.weight",
        "model.multi_modal_projector.image_position_embed.{axis}_embeddings.weight",
    ),
    ("visual_temporal_embed.pos_idx_to_embed", "model.multi_modal_projector.visual_temporal_embed.pos_idx_to_embed"),
    ("language_model.lm_head.weight", "lm_head.weight"),
    ("language_model.model.{tail}", "model.language_model.{tail}"),
)
# Stored as a raw (C_last, projection_dim) Parameter by the original code, a Linear weight (projection_dim, C_last) natively.
_TRANSPOSED_KEYS = {("image_projection", "model.multi_modal_projector.image_projection.weight")}
# The original BART head's bias; Florenz (like native Florence-2) has none.
_DROPPED_ORIGINAL_KEYS = ("language_model.final_logits_bias",)
# The shared BART embedding under the names a native checkpoint may store it (ties make all but one optional).
_NATIVE_EMBEDDING_KEYS = (
    "model.language_model.shared.weight",
    "model.language_model.encoder.embed_tokens.weight",
    "model.language_model.decoder.embed_tokens.weight",
    "lm_head.weight",
)
# BartConfig fields that define a Florence-2 text tower; everything else in a source config is runtime noise.
_BART_FIELDS = (
    "vocab_size",
    "max_position_embeddings",
    "d_model",
    "encoder_layers",
    "encoder_ffn_dim",
    "encoder_attention_heads",
    "decoder_layers",
    "decoder_ffn_dim",
    "decoder_attention_heads",
    "encoder_layerdrop",
    "decoder_layerdrop",
    "activation_function",
    "dropout",
    "attention_dropout",
    "activation_dropout",
    "init_std",
    "scale_embedding",
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "decoder_start_token_id",
)
_VISION_FIELDS = (
    "in_channels",
    "depths",
    "patch_size",
    "patch_stride",
    "patch_padding",
    "patch_prenorm",
    "embed_dim",
    "num_heads",
    "num_groups",
    "window_size",
    "drop_path_rate",
    "mlp_ratio",
    "qkv_bias",
    "activation_function",
    "projection_dim",
    "max_temporal_embeddings",
    "max_position_embeddings",
)


# --------------------------------------------------------------------------------------------------------------------
# Key renames
# --------------------------------------------------------------------------------------------------------------------


def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"(\{\w+\})", template)
    regex = "".join(
        ("(?P<tail>.+)" if part == "{tail}" else f"(?P<{part[1:-1]}>[^.]+)")
        if part.startswith("{")
        else re.escape(part)
        for part in parts
    )
    return re.compile(f"^{regex}$")


_ORIGINAL_PATTERNS = [(_template_regex(o), n, (o, n) in _TRANSPOSED_KEYS) for o, n in _FLORENCE2_KEY_TEMPLATES]
_NATIVE_PATTERNS = [(_template_regex(n), o, (o, n) in _TRANSPOSED_KEYS) for o, n in _FLORENCE2_KEY_TEMPLATES]


def _rename(state_dict: dict[str, torch.Tensor], patterns, dropped: tuple[str, ...], source: str) -> dict:
    renamed, unknown = {}, []
    for key, tensor in state_dict.items():
        if key in dropped:
            continue
        for regex, target, transposed in patterns:
            match = regex.match(key)
            if match:
                renamed[target.format(**match.groupdict())] = tensor.t().contiguous() if transposed else tensor
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"{len(unknown)} keys are not {source} Florence-2 keys, e.g. {unknown[:5]}")
    return renamed


def florence2_original_to_native(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Microsoft remote-code keys → transformers-native keys (`image_projection` transposed, `final_logits_bias` dropped)."""
    return _rename(state_dict, _ORIGINAL_PATTERNS, _DROPPED_ORIGINAL_KEYS, "original-layout")


def florence2_native_to_original(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of `florence2_original_to_native` (without the dropped bias): writes the remote-code layout."""
    return _rename(state_dict, _NATIVE_PATTERNS, (), "native-layout")


def florence2_native_to_florenz(
    state_dict: dict[str, torch.Tensor], include_decoder: bool = True
) -> dict[str, torch.Tensor]:
    """Native Florence-2 keys → Florenz keys.

    The shared BART embedding becomes the prompt embedding `model.encoder.embed_tokens.weight` (rows may be fewer than
    the Florenz encoder's). Decoder layers are kept for BART-decoder Florenz models (`include_decoder`) and dropped for
    Gemma ones; the decoder embedding and `lm_head` are never copied: they speak the Gemma vocabulary.
    """
    embedding_key = next((key for key in _NATIVE_EMBEDDING_KEYS if key in state_dict), None)
    if embedding_key is None:
        raise ValueError(
            f"native Florence-2 state dict has no BART embedding; looked for {list(_NATIVE_EMBEDDING_KEYS)}"
        )
    converted = {"model.encoder.embed_tokens.weight": state_dict[embedding_key]}
    unknown = []
    for key, tensor in state_dict.items():
        if key in _NATIVE_EMBEDDING_KEYS:
            continue
        if key.startswith(("model.vision_tower.", "model.multi_modal_projector.")):
            converted[key] = tensor
        elif key.startswith("model.language_model.encoder."):
            converted["model.encoder." + key.removeprefix("model.language_model.encoder.")] = tensor
        elif key.startswith("model.language_model.decoder."):
            if include_decoder:
                converted["model.decoder." + key.removeprefix("model.language_model.decoder.")] = tensor
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"{len(unknown)} keys are not native Florence-2 keys, e.g. {unknown[:5]}")
    return converted


def detect_florence2_layout(keys) -> str:
    """ "native" or "original" from the key names; ValueError if they are neither or a mix."""
    keys = list(keys)
    native = any(key.startswith("model.vision_tower.") for key in keys)
    original = any(key.startswith("vision_tower.") for key in keys)
    if native == original:
        what = "both" if native else "neither"
        raise ValueError(
            f"cannot tell the Florence-2 layout: {what} of 'model.vision_tower.*' (native) and 'vision_tower.*' "
            f"(original) keys found, e.g. {keys[:3]}"
        )
    return "native" if native else "original"


# --------------------------------------------------------------------------------------------------------------------
# Configs
# --------------------------------------------------------------------------------------------------------------------


def florence2_original_config_to_native(config: dict[str, Any]) -> dict[str, Any]:
    """Original `config.json` → `{"vision_config": …, "text_config": …}` with `Florence2VisionConfig`/`BartConfig` fields.

    Field mapping as in transformers' own converter: `dim_embed` → `embed_dim`,
    `visual_temporal_embedding.max_temporal_embeddings` → `max_temporal_embeddings`,
    `image_pos_embed.max_pos_embeddings` → `max_position_embeddings`; `projection_dim` from the vision or top level.
    """
    vision = dict(config.get("vision_config") or {})
    text = dict(config.get("text_config") or {})
    if "dim_embed" not in vision or not text:
        raise ValueError(
            "original Florence-2 config.json needs vision_config.dim_embed and a text_config; "
            f"got vision_config keys {sorted(vision)} and text_config keys {sorted(text)}"
        )
    source = vision.get("image_feature_source", _IMAGE_FEATURE_SOURCE)
    if list(source) != _IMAGE_FEATURE_SOURCE:
        raise ValueError(f"image_feature_source {source!r} is not supported; allowed: {_IMAGE_FEATURE_SOURCE}")
    native = {key: vision[key] for key in _VISION_FIELDS if key in vision}
    native["embed_dim"] = vision["dim_embed"]
    if "visual_temporal_embedding" in vision:
        native["max_temporal_embeddings"] = vision["visual_temporal_embedding"]["max_temporal_embeddings"]
    if "image_pos_embed" in vision:
        native["max_position_embeddings"] = vision["image_pos_embed"]["max_pos_embeddings"]
    projection_dim = vision.get("projection_dim", config.get("projection_dim"))
    if projection_dim is None:
        raise ValueError("original Florence-2 config.json has no projection_dim (vision_config or top level)")
    native["projection_dim"] = projection_dim
    return {"vision_config": native, "text_config": text}


def _native_config_dict(config: dict[str, Any]) -> dict[str, Any]:
    vision, text = config.get("vision_config"), config.get("text_config")
    if not vision or not text or "embed_dim" not in vision:
        raise ValueError(
            "native Florence-2 config.json needs vision_config (with embed_dim) and text_config; "
            f"got top-level keys {sorted(config)}"
        )
    return {"vision_config": dict(vision), "text_config": dict(text)}


def florence2_towers(config: dict[str, Any], layout: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(vision kwargs, BART kwargs) of a Florence-2 `config.json` in either layout, limited to the shape fields."""
    native = florence2_original_config_to_native(config) if layout == "original" else _native_config_dict(config)
    vision = {key: native["vision_config"][key] for key in _VISION_FIELDS if key in native["vision_config"]}
    text = {key: native["text_config"][key] for key in _BART_FIELDS if key in native["text_config"]}
    if vision.get("projection_dim") != text.get("d_model"):
        raise ValueError(
            f"Florence-2 projection_dim ({vision.get('projection_dim')}) must equal the BART d_model "
            f"({text.get('d_model')}) for Florenz"
        )
    return vision, text


def decoder_token_ids(tokenizer) -> dict[str, int]:
    """pad/eos/bos ids of the Gemma-side tokenizer; the decoder starts with `<eos>` (reference §1.5)."""
    ids = {
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "bos_token_id": tokenizer.bos_token_id,
    }
    missing = [name for name, value in ids.items() if value is None]
    if missing:
        raise ValueError(f"the Gemma-side tokenizer lacks {', '.join(missing)}; Florenz needs <pad>, <eos> and <bos>")
    return {**ids, "decoder_start_token_id": ids["eos_token_id"]}


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


# --------------------------------------------------------------------------------------------------------------------
# Vocabulary remap (reference §1.6)
# --------------------------------------------------------------------------------------------------------------------


def _byte_symbols() -> dict[int, str]:
    """GPT-2/BART byte-level alphabet: byte value → the printable character that stands for it in the vocabulary."""
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    symbols, extra = {}, 0
    for value in range(256):
        if value in printable:
            symbols[value] = chr(value)
        else:
            symbols[value] = chr(256 + extra)
            extra += 1
    return symbols


_BYTE_SYMBOLS = _byte_symbols()
_SYMBOL_BYTES = {symbol: value for value, symbol in _BYTE_SYMBOLS.items()}
_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def _component_type(component) -> str:
    return "" if component is None else json.loads(component.__getstate__())["type"]


def _token_bytes(tokenizer, token: str) -> bytes | None:
    """Raw bytes of a byte token (`<0xE4>` byte fallback, or a byte-level BPE symbol string); None otherwise."""
    fallback = _BYTE_FALLBACK.match(token)
    if fallback:
        return bytes([int(fallback.group(1), 16)])
    if _component_type(tokenizer.backend_tokenizer.decoder) == "ByteLevel" and all(c in _SYMBOL_BYTES for c in token):
        return bytes(_SYMBOL_BYTES[c] for c in token)
    return None


def match_vocabularies(gemma_tokenizer, bart_tokenizer) -> list[list[int]]:
    """For every Gemma id, the BART ids of its text (specials map onto specials: `<bos>`→`<s>`, `<eos>`→`</s>`,
    `<unk>`→`<unk>`, `<pad>`→`<pad>`). Ids whose text BART-tokenizes to nothing get `[]` and are logged.

    A token's text comes from the Gemma tokenizer's own decoder ("▁" → space everywhere in the token, byte fallback
    `<0x0A>` → newline). Byte tokens that are only part of a UTF-8 character (`<0xE4>`) have no text: they map onto
    BART's byte-level symbols for the same bytes; the paper's recipe averaged the pieces of the literal "<0xE4>".
    """
    specials = {}
    for name in ("bos_token_id", "eos_token_id", "unk_token_id", "pad_token_id"):
        gemma_id, bart_id = getattr(gemma_tokenizer, name), getattr(bart_tokenizer, name)
        if gemma_id is None:
            continue
        if bart_id is None:
            raise ValueError(f"the Gemma tokenizer has a {name} but the BART tokenizer has none to map it onto")
        specials[gemma_id] = [bart_id]
    bart_model = bart_tokenizer.backend_tokenizer.model
    bart_byte_level = _component_type(bart_tokenizer.backend_tokenizer.pre_tokenizer) == "ByteLevel"
    size = len(gemma_tokenizer)
    tokens = gemma_tokenizer.convert_ids_to_tokens(list(range(size)))
    matching: list[list[int]] = [[] for _ in range(size)]
    text_ids, texts = [], []
    for gemma_id, token in enumerate(tokens):
        if gemma_id in specials:
            matching[gemma_id] = specials[gemma_id]
            continue
        token = token or ""
        text = gemma_tokenizer.convert_tokens_to_string([token]) if token else ""
        if "\ufffd" in text:  # part of a multi-byte character
            raw = _token_bytes(gemma_tokenizer, token)
            if raw is not None and bart_byte_level:
                symbols = "".join(_BYTE_SYMBOLS[value] for value in raw)
                matching[gemma_id] = [bart_model.token_to_id(piece.value) for piece in bart_model.tokenize(symbols)]
                continue
            text = token.replace("▁", " ")
        text_ids.append(gemma_id)
        texts.append(text)
    if texts:
        for gemma_id, bart_ids in zip(text_ids, bart_tokenizer(texts, add_special_tokens=False)["input_ids"]):
            matching[gemma_id] = list(bart_ids)
    empty = [i for i, ids in enumerate(matching) if not ids]
    if empty:
        logger.warning(
            "%d Gemma tokens map to no BART piece and keep their initial embedding: %s", len(empty), empty[:20]
        )
    return matching


def remap_embeddings(
    bart_embedding: torch.Tensor,
    matching: list[list[int]],
    num_rows: int,
    initial: torch.Tensor | None = None,
    init_std: float = 0.02,
) -> torch.Tensor:
    """Decoder embedding over the Gemma vocabulary: row g = mean of the BART rows `matching[g]`.

    Rows without pieces and rows beyond `len(matching)` keep `initial` (the model's own init) or, without it,
    normal(0, `init_std`): an empty mean would be NaN. Computed in fp32, grouped by piece count (one gather per group).
    """
    if len(matching) > num_rows:
        raise ValueError(f"matching covers {len(matching)} ids but the embedding has only num_rows={num_rows}")
    vocab, width = bart_embedding.shape
    flat = [piece for pieces in matching for piece in pieces]
    if flat and not 0 <= min(flat) <= max(flat) < vocab:
        raise ValueError(f"matching has BART ids outside [0, {vocab}) (min {min(flat)}, max {max(flat)})")
    if initial is None:
        out = torch.empty(num_rows, width).normal_(0.0, init_std)
    else:
        if tuple(initial.shape) != (num_rows, width):
            raise ValueError(f"initial has shape {tuple(initial.shape)}, expected {(num_rows, width)}")
        out = initial.detach().float().clone()
    source = bart_embedding.detach().float()
    by_count: dict[int, list[int]] = {}
    for gemma_id, pieces in enumerate(matching):
        if pieces:
            by_count.setdefault(len(pieces), []).append(gemma_id)
    for ids in by_count.values():
        index = torch.tensor([matching[i] for i in ids], dtype=torch.long)  # (n, count)
        out[torch.tensor(ids)] = source[index].mean(dim=1)
    return out.to(bart_embedding.dtype if initial is None else initial.dtype)


# --------------------------------------------------------------------------------------------------------------------
# Loading local checkpoints
# --------------------------------------------------------------------------------------------------------------------


def safetensors_files(folder: str | os.PathLike) -> list[Path]:
    """`model.safetensors`, or the shards named by `model.safetensors.index.json`; ValueError if neither is there."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"checkpoint folder {folder} does not exist or is not a folder")
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.is_file():
        return [single]
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing = [name for name in shards if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"{index} names shards that are missing: {missing}")
        return [folder / name for name in shards]
    found = sorted(p.name for p in folder.iterdir())
    raise ValueError(
        f"{folder} has no model.safetensors or model.safetensors.index.json (found {found[:10]}); "
        "only safetensors checkpoints are read"
    )


def safetensors_keys(folder: str | os.PathLike) -> list[str]:
    """Tensor names of a checkpoint folder, read from the headers only."""
    from safetensors import safe_open

    keys = []
    for path in safetensors_files(folder):
        with safe_open(path, framework="pt") as handle:
            keys.extend(handle.keys())
    return keys


def load_safetensors(folder: str | os.PathLike) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    state = {}
    for path in safetensors_files(folder):
        state.update(load_file(path))
    return state


def read_config(folder: str | os.PathLike) -> dict[str, Any]:
    if not Path(folder).is_dir():
        raise ValueError(f"checkpoint folder {folder} does not exist or is not a folder")
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise ValueError(f"{folder} has no config.json")
    return json.loads(path.read_text())


def require_tokenizer_files(folder: str | os.PathLike, what: str) -> None:
    folder = Path(folder)
    if not any(
        (folder / name).is_file()
        for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")
    ):
        raise ValueError(
            f"{what} folder {folder} has no tokenizer files (tokenizer.json / tokenizer_config.json / vocab.json)"
        )


def load_tokenizer(folder: str | os.PathLike):
    """A local tokenizer, padding on the right (seq2seq targets and BART prompts both need it)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "right"
    return tokenizer


class Florence2Source:
    """A local Florence-2 checkpoint folder, validated cheaply (config, key names, tokenizer files) before any weight
    is read. `layout` is "auto", "native" or "original"; `state_dict()` returns native-layout tensors."""

    def __init__(self, folder: str | os.PathLike, layout: str = "auto"):
        if layout not in FLORENCE2_LAYOUTS:
            raise ValueError(f"unknown Florence-2 layout {layout!r}; allowed: {list(FLORENCE2_LAYOUTS)}")
        self.folder = Path(folder)
        self.config = read_config(self.folder)
        keys = safetensors_keys(self.folder)
        detected = detect_florence2_layout(keys)
        if layout != "auto" and layout != detected:
            raise ValueError(
                f"{self.folder} holds a {detected}-layout Florence-2 checkpoint but layout={layout!r} was given"
            )
        self.layout = detected
        require_tokenizer_files(self.folder, "Florence-2")
        self.vision, self.text = florence2_towers(self.config, detected)

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = load_safetensors(self.folder)
        return florence2_original_to_native(state) if self.layout == "original" else state

    def tokenizer(self):
        return load_tokenizer(self.folder)

    def encoder_config(self, vocab_size: int | None = None) -> dict[str, Any]:
        """BART kwargs of the prompt encoder (BART ids; `vocab_size` may exceed the source's to pad rows)."""
        encoder = dict(self.text)
        if vocab_size is not None:
            encoder["vocab_size"] = vocab_size
        return encoder


def load_into(model, converted: dict[str, torch.Tensor], allowed_missing) -> None:
    """Copy converted tensors into `model`; embeddings with fewer source rows fill the leading rows only.

    Any missing key not matched by `allowed_missing(key)`, any unexpected key and any other shape mismatch is an error.
    """
    own = model.state_dict()
    unexpected = [key for key in converted if key not in own]
    missing = [key for key in own if key not in converted and not allowed_missing(key)]
    if unexpected or missing:
        raise ValueError(
            f"converted weights do not fit the Florenz model: unexpected={unexpected[:10]}, missing={missing[:10]}"
        )
    with torch.no_grad():
        for key, tensor in converted.items():
            target = own[key]
            if tensor.shape == target.shape:
                target.copy_(tensor)
            elif (
                key.endswith("embed_tokens.weight")
                and tensor.shape[1:] == target.shape[1:]
                and tensor.shape[0] <= target.shape[0]
            ):
                target[: tensor.shape[0]].copy_(tensor)
            else:
                raise ValueError(
                    f"{key}: source shape {tuple(tensor.shape)} does not fit Florenz shape {tuple(target.shape)}"
                )


# --------------------------------------------------------------------------------------------------------------------
# Florence-2 → Florenz 0.4B / 1.0B
# --------------------------------------------------------------------------------------------------------------------


def build_florenz_from_florence2(
    florence2_dir: str | os.PathLike,
    gemma_tokenizer_dir: str | os.PathLike,
    layout: str = "auto",
    image_size: int = DEFAULT_IMAGE_SIZE,
    text_vocab_size: int | None = None,
    seed: int = 0,
):
    """(model, processor, unmatched Gemma ids) of a BART-decoder Florenz built from a Florence-2 checkpoint.

    Encoder vocab = source rows rounded up to a multiple of 128 (51289 → 51328 as in the paper); decoder vocab =
    `text_vocab_size` or len(Gemma tokenizer) + 1024. Extra rows keep the seeded normal(0, 0.02) init.
    """
    from modeling_florenz.configuration_florenz import FlorenzConfig
    from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration
    from modeling_florenz.processing_florenz import FlorenzProcessor, florenz_image_processor

    source = Florence2Source(florence2_dir, layout)
    require_tokenizer_files(gemma_tokenizer_dir, "Gemma tokenizer")
    gemma_tokenizer = load_tokenizer(gemma_tokenizer_dir)
    bart_tokenizer = source.tokenizer()
    image_processor = florenz_image_processor(image_size)
    min_rows = len(gemma_tokenizer)
    text_vocab_size = min_rows + EXTRA_DECODER_ROWS if text_vocab_size is None else int(text_vocab_size)
    if text_vocab_size < min_rows:
        raise ValueError(f"text_vocab_size ({text_vocab_size}) must be at least the Gemma tokenizer size ({min_rows})")
    ids = decoder_token_ids(gemma_tokenizer)

    encoder = source.encoder_config(_round_up(source.text["vocab_size"], ENCODER_VOCAB_MULTIPLE))
    text = {**source.text, "model_type": "bart", "vocab_size": text_vocab_size, "encoder_layers": 0, **ids}
    config = FlorenzConfig(vision_config=source.vision, encoder_config=encoder, text_config=text, **ids)

    state = florence2_native_to_florenz(source.state_dict(), include_decoder=True)
    torch.manual_seed(seed)
    model = FlorenzForConditionalGeneration(config)
    model.eval()
    load_into(model, state, lambda key: key in ("model.decoder.embed_tokens.weight", "lm_head.weight"))

    matching = match_vocabularies(gemma_tokenizer, bart_tokenizer)
    decoder_embedding = model.get_input_embeddings().weight
    remapped = remap_embeddings(
        state["model.encoder.embed_tokens.weight"], matching, text_vocab_size, initial=decoder_embedding
    )
    with torch.no_grad():
        decoder_embedding.copy_(remapped)
    model.tie_weights()
    from .checkpoint_init import limit_prompts

    processor = limit_prompts(model, FlorenzProcessor(image_processor, gemma_tokenizer, bart_tokenizer))
    return model, processor, [i for i, pieces in enumerate(matching) if not pieces]


def convert_florence2(
    florence2_dir: str | os.PathLike,
    gemma_tokenizer_dir: str | os.PathLike,
    out: str | os.PathLike,
    layout: str = "auto",
    image_size: int = DEFAULT_IMAGE_SIZE,
    text_vocab_size: int | None = None,
    seed: int = 0,
) -> tuple[Path, list[int]]:
    """Write a Florenz 0.4B/1.0B-style folder (model + processor) from a Florence-2 checkpoint; returns the folder and
    the Gemma ids that matched no BART piece."""
    from .checkpoint_init import save_model_and_processor
    from .model_card import base_models, build_model_card

    check_output_folder(out)
    check_image_size(image_size)
    model, processor, unmatched = build_florenz_from_florence2(
        florence2_dir,
        gemma_tokenizer_dir,
        layout=layout,
        image_size=image_size,
        text_vocab_size=text_vocab_size,
        seed=seed,
    )
    card = build_model_card(
        model_id=str(out),
        summary=f"Converted from the Florence-2 checkpoint `{Path(florence2_dir).name}`: its BART decoder re-targeted to "
        f"the Gemma vocabulary of `{Path(gemma_tokenizer_dir).name}` ({len(unmatched)} Gemma ids matched no BART "
        "piece and start from the mean embedding); not trained after conversion.",
        base_model=base_models(florence2_dir),
    )
    return save_model_and_processor(model, processor, out, card), unmatched


def check_image_size(image_size: int) -> None:
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 32:
        raise ValueError(f"image_size must be an int >= 32 (the DaViT backbone's total stride), got {image_size!r}")


def check_output_folder(out: str | os.PathLike) -> None:
    """Fail before any weight is read when the output folder would be refused by `save_model_and_processor`."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"output folder {out} is not empty; choose a new or empty folder")


__all__ = [
    "FLORENCE2_LAYOUTS",
    "Florence2Source",
    "build_florenz_from_florence2",
    "convert_florence2",
    "detect_florence2_layout",
    "florence2_native_to_florenz",
    "florence2_native_to_original",
    "florence2_original_config_to_native",
    "florence2_original_to_native",
    "match_vocabularies",
    "remap_embeddings",
]
