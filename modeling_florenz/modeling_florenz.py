"""Florenz: Florence-2 DaViT + projector + BART text encoder -> a decoder speaking the Gemma vocabulary.

Hub remote code: flat file; the only relative import is the configuration. The decoder is either Florence-2's BART
decoder (0.4B/1.0B) or a Gemma-2/Gemma-3 stack into every layer of which a gated cross-attention block is inserted
(3.5B/11.2B, nano). Reused library modules keep their parameter names, so checkpoint converters are key renames.
"""

import hashlib
import json
import os
from pathlib import Path

import torch
from torch import nn
from transformers import initialization as init
from transformers.cache_utils import Cache, DynamicCache, EncoderDecoderCache
from transformers.generation import GenerationConfig, GenerationMixin
from transformers.masking_utils import (
    create_bidirectional_mask,
    create_causal_mask,
    create_sliding_window_causal_mask,
)
from transformers.modeling_outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
)
from transformers.modeling_utils import PreTrainedModel, slice_logits_to_keep
from transformers.models.bart.modeling_bart import BartDecoder, BartEncoder
from transformers.models.florence2.modeling_florence2 import (
    Florence2MultiModalProjector,
    Florence2VisionBackbone,
    Florence2VisionPositionalEmbeddingCosine1D,
)
from transformers.models.gemma2.modeling_gemma2 import (
    Gemma2Attention,
    Gemma2DecoderLayer,
    Gemma2PreTrainedModel,
    Gemma2RMSNorm,
    Gemma2RotaryEmbedding,
    Gemma2TextScaledWordEmbedding,
)
from transformers.models.gemma3.modeling_gemma3 import (
    Gemma3Attention,
    Gemma3DecoderLayer,
    Gemma3PreTrainedModel,
    Gemma3RMSNorm,
    Gemma3RotaryEmbedding,
    Gemma3TextScaledWordEmbedding,
)
from transformers.models.t5gemma.modeling_t5gemma import T5GemmaCrossAttention
from transformers.utils.deprecation import deprecate_kwarg
from transformers.utils.generic import TransformersKwargs, can_return_tuple
from transformers.utils.output_capturing import OutputRecorder, capture_outputs

from .configuration_florenz import VISION_PREFIXES, FlorenzConfig

FREEZE_POLICIES = ("paper", "all")
_GEMMA_TRAINABLE_MARKERS = ("encoder_attn", "post_encoder_attention_layernorm", "embed_tokens")
# Keyword arguments the forward methods pass on to sub-modules (the library's `TransformersKwargs`); anything else is
# a caller's typo or an argument of another model and is refused rather than silently dropped.
ACCEPTED_KWARGS = frozenset(TransformersKwargs.__annotations__) | {"return_dict"}
_DECODER_SIDE_KWARGS = frozenset({"logits_to_keep", "labels"})


CHECKSUMS_FILE = "florenz_checksums.json"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_checksums(folder: str | os.PathLike) -> Path:
    """Record size and sha256 of every file under `folder` in `florenz_checksums.json` (atomically), so that
    `florenz model verify` can later detect missing, truncated or altered files."""
    folder = Path(folder)
    files = {
        path.relative_to(folder).as_posix(): {"size": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != CHECKSUMS_FILE and not path.name.startswith(".")
    }
    target = folder / CHECKSUMS_FILE
    tmp = folder / f".{CHECKSUMS_FILE}.tmp"
    tmp.write_text(json.dumps({"algorithm": "sha256", "files": files}, indent=1, sort_keys=True))
    os.replace(tmp, target)
    return target


def verify_checksums(folder: str | os.PathLike) -> tuple[list[str], list[str]]:
    """(problems, unlisted files) of a folder against its `florenz_checksums.json`; ValueError without one."""
    folder = Path(folder)
    manifest_path = folder / CHECKSUMS_FILE
    if not manifest_path.is_file():
        raise ValueError(f"{folder} has no {CHECKSUMS_FILE}; it was not saved by Florenz's save path")
    try:
        listed = json.loads(manifest_path.read_text())["files"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{manifest_path} is not a valid checksum manifest: {error}") from None
    problems = []
    for name, expected in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: missing")
        elif path.stat().st_size != expected["size"]:
            problems.append(f"{name}: {path.stat().st_size} bytes, expected {expected['size']}")
        elif _sha256(path) != expected["sha256"]:
            problems.append(f"{name}: sha256 differs from the one recorded at save time")
    unlisted = sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file()
        and path.name != CHECKSUMS_FILE
        and not path.name.startswith(".")
        and path.relative_to(folder).as_posix() not in listed
    )
    return problems, unlisted


def check_forward_kwargs(kwargs: dict, where: str) -> None:
    """TypeError naming any keyword argument that no Florenz sub-module consumes."""
    unknown = sorted(set(kwargs) - ACCEPTED_KWARGS)
    if unknown:
        raise TypeError(
            f"{where} got unexpected keyword argument(s) {unknown}; besides its named parameters it accepts "
            f"{sorted(ACCEPTED_KWARGS)}"
        )


def check_token_ids(input_ids: torch.Tensor, vocab_size: int, name: str) -> None:
    """ValueError unless every id indexes the embedding table (an id out of range is an IndexError deep inside)."""
    if input_ids.numel() and (int(input_ids.min()) < 0 or int(input_ids.max()) >= vocab_size):
        raise ValueError(
            f"{name} holds ids outside the vocabulary [0, {vocab_size}): min {int(input_ids.min())}, max "
            f"{int(input_ids.max())}; encode prompts with this model's processor"
        )


def check_pixel_values(pixel_values: torch.Tensor, image_size: int | None) -> None:
    """ValueError unless `pixel_values` is a finite floating `(batch, 3, S, S)` tensor of the configured size.

    Costs one reduction over the pixels, negligible next to the vision tower.
    """
    if not isinstance(pixel_values, torch.Tensor):
        raise ValueError(f"pixel_values must be a torch.Tensor, got {type(pixel_values).__name__}")
    expected = f"(batch, 3, {image_size}, {image_size})" if image_size else "(batch, 3, S, S)"
    if pixel_values.ndim != 4 or pixel_values.shape[1] != 3:
        raise ValueError(f"pixel_values must have shape {expected}, got {tuple(pixel_values.shape)}")
    if not pixel_values.is_floating_point():
        raise ValueError(
            f"pixel_values must be a floating tensor (the processor's normalised output), got {pixel_values.dtype}"
        )
    height, width = pixel_values.shape[-2:]
    if image_size is not None and (height, width) != (image_size, image_size):
        raise ValueError(
            f"pixel_values have size {height}x{width} but this model expects {image_size}x{image_size} "
            "(config.image_size; set it to change the input size)"
        )
    if height != width:
        raise ValueError(
            f"pixel_values must be square (the vision tower needs square feature maps), got {height}x{width}"
        )
    if not torch.isfinite(pixel_values).all():
        raise ValueError("pixel_values contain NaN or infinite values")


# --------------------------------------------------------------------------------------------------------------------
# Gemma decoder layers with a gated cross-attention block inserted between self-attention and MLP
# --------------------------------------------------------------------------------------------------------------------


class FlorenzCrossAttentionLayerMixin:
    """Adds `encoder_attn` + `post_encoder_attention_layernorm` + tanh gate between self-attention and MLP.

    h = h + tanh(gate) * norm(cross_attn(h, encoder)): the query is the un-normalised residual stream, and with the gate
    at 0 the block is an exact identity, so a pretrained Gemma stack is unchanged at initialisation.
    """

    def _add_cross_attention(self, config, layer_idx: int, norm_cls: type[nn.Module]) -> None:
        self.encoder_attn = T5GemmaCrossAttention(config, layer_idx)
        self.post_encoder_attention_layernorm = norm_cls(config.hidden_size, eps=config.rms_norm_eps)
        self.encoder_attn_gate = nn.Parameter(torch.zeros(1))

    def forward(
        self,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        attention_mask: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: EncoderDecoderCache | None = None,
        **kwargs,
    ) -> torch.Tensor:
        """`hidden_states` and `encoder_hidden_states` come positionally: gradient checkpointing with
        `use_reentrant=True` routes gradients only through positional tensors."""
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states, _ = self.self_attn(
            hidden_states=hidden_states,
            position_embeddings=position_embeddings,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache.self_attention_cache if cache is not None else None,
            **kwargs,
        )
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = residual + hidden_states

        residual = hidden_states
        cross, _ = self.encoder_attn(
            hidden_states=hidden_states,
            encoder_hidden_states=encoder_hidden_states,
            attention_mask=encoder_attention_mask,
            cache=cache,
            **kwargs,
        )
        cross = self.post_encoder_attention_layernorm(cross)
        hidden_states = residual + torch.tanh(self.encoder_attn_gate).to(cross.dtype) * cross

        residual = hidden_states
        hidden_states = self.pre_feedforward_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        hidden_states = self.post_feedforward_layernorm(hidden_states)
        return residual + hidden_states


class FlorenzGemma2DecoderLayer(FlorenzCrossAttentionLayerMixin, Gemma2DecoderLayer):
    def __init__(self, config, layer_idx: int):
        super().__init__(config, layer_idx)
        self._add_cross_attention(config, layer_idx, Gemma2RMSNorm)


class FlorenzGemma3DecoderLayer(FlorenzCrossAttentionLayerMixin, Gemma3DecoderLayer):
    def __init__(self, config, layer_idx: int):
        super().__init__(config, layer_idx)
        self._add_cross_attention(config, layer_idx, Gemma3RMSNorm)


class FlorenzGemmaDecoderMixin:
    """Decoder stack shared by the Gemma-2 and Gemma-3 variants; subclasses name their module classes and rotary use."""

    embedding_class: type[nn.Module]
    layer_class: type[nn.Module]
    norm_class: type[nn.Module]
    rotary_class: type[nn.Module]
    # The inserted cross-attention shards like the self-attention (heads split, output projection reduced).
    _tp_plan = {
        "layers.*.encoder_attn.q_proj": "colwise",
        "layers.*.encoder_attn.k_proj": "colwise",
        "layers.*.encoder_attn.v_proj": "colwise",
        "layers.*.encoder_attn.o_proj": "rowwise",
    }

    def __init__(self, config):
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        self.vocab_size = config.vocab_size
        self.embed_tokens = self.embedding_class(
            config.vocab_size, config.hidden_size, self.padding_idx, embed_scale=config.hidden_size**0.5
        )
        self.layers = nn.ModuleList([self.layer_class(config, i) for i in range(config.num_hidden_layers)])
        self.norm = self.norm_class(config.hidden_size, eps=config.rms_norm_eps)
        self.rotary_emb = self.rotary_class(config)
        self.gradient_checkpointing = False
        self.post_init()

    def init_cross_attention_from_decoder(self) -> None:
        """Copy each layer's `post_attention_layernorm` into `post_encoder_attention_layernorm` and zero the gates,
        as the original `prepare.py` does after loading Gemma weights."""
        with torch.no_grad():
            for layer in self.layers:
                layer.post_encoder_attention_layernorm.weight.copy_(layer.post_attention_layernorm.weight)
                layer.encoder_attn_gate.zero_()

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, FlorenzCrossAttentionLayerMixin):
            init.zeros_(module.encoder_attn_gate)

    @capture_outputs
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: EncoderDecoderCache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPastAndCrossAttentions:
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of decoder input_ids or inputs_embeds")
        if encoder_hidden_states is None:
            raise ValueError("the Florenz decoder needs encoder_hidden_states")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        if use_cache is None:
            use_cache = self.config.use_cache and not self.training
        if use_cache and cache is None:
            cache = EncoderDecoderCache(DynamicCache(config=self.config), DynamicCache())
        if cache is not None and not any(cache.is_updated.values()) and any(cache.cross_attention_cache.is_sliding):
            # generate() builds the cross cache from the decoder config, i.e. with sliding layers that would silently
            # keep only the last `sliding_window` encoder states. Cross-attention always sees the full encoder output.
            cache.cross_attention_cache = DynamicCache()

        seq_len = inputs_embeds.shape[1]
        if position_ids is None:
            if attention_mask is not None and attention_mask.ndim == 2:
                # left-padded prefixes: positions count only real tokens
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -seq_len:]
            else:
                past_seen = cache.get_seq_length() if cache is not None else 0
                position_ids = (torch.arange(seq_len, device=inputs_embeds.device) + past_seen).unsqueeze(0)

        self_cache = cache.self_attention_cache if cache is not None else None
        mask_kwargs = {
            "config": self.config,
            "inputs_embeds": inputs_embeds,
            "attention_mask": attention_mask,
            "cache": self_cache,
            "position_ids": position_ids,
        }
        self_masks = {
            "full_attention": create_causal_mask(**mask_kwargs),
            "sliding_attention": create_sliding_window_causal_mask(**mask_kwargs),
        }
        cross_mask = create_bidirectional_mask(
            config=self.config,
            inputs_embeds=inputs_embeds,
            attention_mask=encoder_attention_mask,
            encoder_hidden_states=encoder_hidden_states,
        )

        hidden_states = inputs_embeds
        position_embeddings = self._position_embeddings(hidden_states, position_ids)
        layer_types = self.config.layer_types  # read once: config attribute access is not free per layer and step
        for layer, layer_type in zip(self.layers[: self.config.num_hidden_layers], layer_types):
            hidden_states = layer(
                hidden_states,
                encoder_hidden_states,
                position_embeddings[layer_type],
                self_masks[layer_type],
                cross_mask,
                position_ids,
                cache=cache,
                **kwargs,
            )
        hidden_states = self.norm(hidden_states)
        return BaseModelOutputWithPastAndCrossAttentions(last_hidden_state=hidden_states, cache=cache)


class FlorenzGemma2Decoder(FlorenzGemmaDecoderMixin, Gemma2PreTrainedModel):
    """Gemma-2 stack with cross-attention; a `Gemma2PreTrainedModel` so attention resolves to eager (softcap)."""

    embedding_class = Gemma2TextScaledWordEmbedding
    layer_class = FlorenzGemma2DecoderLayer
    norm_class = Gemma2RMSNorm
    rotary_class = Gemma2RotaryEmbedding
    _can_record_outputs = {
        "hidden_states": FlorenzGemma2DecoderLayer,
        "attentions": OutputRecorder(Gemma2Attention, index=1, layer_name="self_attn"),
        "cross_attentions": OutputRecorder(T5GemmaCrossAttention, index=1, layer_name="encoder_attn"),
    }

    def _position_embeddings(self, hidden_states, position_ids) -> dict:
        rope = self.rotary_emb(hidden_states, position_ids)
        return dict.fromkeys(set(self.config.layer_types), rope)


class FlorenzGemma3Decoder(FlorenzGemmaDecoderMixin, Gemma3PreTrainedModel):
    """Gemma-3 text stack with cross-attention (local/global RoPE per layer type; sdpa allowed)."""

    embedding_class = Gemma3TextScaledWordEmbedding
    layer_class = FlorenzGemma3DecoderLayer
    norm_class = Gemma3RMSNorm
    rotary_class = Gemma3RotaryEmbedding
    _can_record_outputs = {
        "hidden_states": FlorenzGemma3DecoderLayer,
        "attentions": OutputRecorder(Gemma3Attention, index=1, layer_name="self_attn"),
        "cross_attentions": OutputRecorder(T5GemmaCrossAttention, index=1, layer_name="encoder_attn"),
    }

    def _position_embeddings(self, hidden_states, position_ids) -> dict:
        return {lt: self.rotary_emb(hidden_states, position_ids, lt) for lt in set(self.config.layer_types)}


_GEMMA_DECODERS = {"gemma2": FlorenzGemma2Decoder, "gemma3_text": FlorenzGemma3Decoder}


# --------------------------------------------------------------------------------------------------------------------
# Encoder side: vision -> projector -> [image tokens ; prompt embeddings] -> BART encoder
# --------------------------------------------------------------------------------------------------------------------


class FlorenzEncoder(nn.Module):
    """A view over the model's vision tower, projector and BART encoder (not registered in the model's state dict).

    `generate()` calls `get_encoder()(input_ids=..., attention_mask=..., pixel_values=...)`, so stock greedy and beam
    search work without overriding private generation hooks. Hidden states and attentions are those of the BART
    encoder: the DaViT tower returns neither (as in transformers' Florence-2).
    """

    def __init__(
        self,
        vision_tower: nn.Module,
        multi_modal_projector: nn.Module,
        text_encoder: BartEncoder,
        image_size: int | None = None,
    ):
        super().__init__()
        self.vision_tower = vision_tower
        self.multi_modal_projector = multi_modal_projector
        self.encoder = text_encoder
        self.image_size = image_size

    def get_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """1 pooled + H·W spatial tokens of the encoder width (50 at 224 px)."""
        check_pixel_values(pixel_values, self.image_size)
        features = self.vision_tower(pixel_values).last_hidden_state
        return self.multi_modal_projector(features)

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        **kwargs,
    ) -> BaseModelOutput:
        # generate() hands the encoder every model keyword; those of the decoder side are not the encoder's to use
        kwargs = {key: value for key, value in kwargs.items() if key not in _DECODER_SIDE_KWARGS}
        check_forward_kwargs(kwargs, "FlorenzEncoder.forward")
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("pass at most one of input_ids or inputs_embeds to the Florenz encoder")
        if input_ids is None and inputs_embeds is None:
            if pixel_values is None:
                raise ValueError(
                    "the Florenz encoder needs pixel_values and/or a prompt (input_ids or inputs_embeds); to continue "
                    "from a cache without them, pass the encoder_outputs the cache was built from"
                )
            batch_size = pixel_values.shape[0] if isinstance(pixel_values, torch.Tensor) else 0
            inputs_embeds = self.encoder.embed_tokens.weight.new_zeros(batch_size, 0, self.encoder.config.d_model)
        if inputs_embeds is None:
            check_token_ids(input_ids, self.encoder.embed_tokens.num_embeddings, "input_ids (the encoder prompt)")
            inputs_embeds = self.encoder.embed_tokens(input_ids)
        batch_size, text_len = inputs_embeds.shape[:2]
        if attention_mask is None:
            attention_mask = torch.ones(batch_size, text_len, dtype=torch.long, device=inputs_embeds.device)
        if pixel_values is not None:
            image_embeds = self.get_image_features(pixel_values).to(inputs_embeds.dtype)
            if image_embeds.shape[0] != batch_size:
                raise ValueError(
                    f"pixel_values batch ({image_embeds.shape[0]}) must equal the prompt batch ({batch_size})"
                )
            inputs_embeds = torch.cat([image_embeds, inputs_embeds], dim=1)
            image_mask = attention_mask.new_ones(batch_size, image_embeds.shape[1])
            attention_mask = torch.cat([image_mask, attention_mask], dim=1)
        return self.encoder(inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs)


def full_encoder_attention_mask(attention_mask: torch.Tensor | None, encoder_length: int) -> torch.Tensor | None:
    """Prepend ones for the image tokens when given the (shorter) text mask, as `generate()` does at every step."""
    if attention_mask is None or attention_mask.shape[1] == encoder_length:
        return attention_mask
    missing = encoder_length - attention_mask.shape[1]
    if missing < 0:
        raise ValueError(
            f"attention_mask has {attention_mask.shape[1]} positions but the encoder output only {encoder_length}"
        )
    return torch.cat([attention_mask.new_ones(attention_mask.shape[0], missing), attention_mask], dim=1)


def check_cached_encoder_length(cache: Cache | None, encoder_length: int) -> None:
    """A cache whose cross-attention already holds encoder states must continue from the same encoder output."""
    if not isinstance(cache, EncoderDecoderCache) or not any(cache.is_updated.values()):
        return
    cached = cache.cross_attention_cache.get_seq_length()
    if cached and cached != encoder_length:
        raise ValueError(
            f"the cache holds cross-attention states of {cached} encoder positions but this call's encoder output "
            f"has {encoder_length}; continue with the same pixel_values and prompt (or the same encoder_outputs) "
            "that built the cache"
        )


# --------------------------------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------------------------------


class FlorenzPreTrainedModel(PreTrainedModel):
    config_class = FlorenzConfig
    config: FlorenzConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    input_modalities = ("image", "text")
    supports_gradient_checkpointing = True
    _no_split_modules = [
        "Florence2VisionBlock",
        "BartEncoderLayer",
        "BartDecoderLayer",
        "FlorenzGemma2DecoderLayer",
        "FlorenzGemma3DecoderLayer",
    ]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    @classmethod
    def from_pretrained(cls, *args, **kwargs):
        """Load as transformers does, but refuse weights that do not match the architecture.

        transformers only logs missing, unexpected and (with `ignore_mismatched_sizes=True`) mismatched tensors and
        initialises the missing ones at random, so an incomplete or damaged folder would load as a different model.
        Here they raise ValueError naming the keys. Tied weights (`lm_head.weight`) and non-persistent buffers are
        never listed by transformers, so they stay optional as usual. `ignore_mismatched_sizes=True` keeps allowing
        re-sized tensors on purpose.
        """
        want_info = kwargs.pop("output_loading_info", False)
        model, info = super().from_pretrained(*args, output_loading_info=True, **kwargs)
        problems = []
        for name in ("missing_keys", "unexpected_keys"):
            keys = sorted(info.get(name) or ())
            if keys:
                problems.append(f"{len(keys)} {name.replace('_', ' ')} (e.g. {keys[:5]})")
        mismatched = sorted(info.get("mismatched_keys") or ())
        if mismatched and not kwargs.get("ignore_mismatched_sizes"):
            problems.append(f"{len(mismatched)} mismatched shapes (e.g. {mismatched[:3]})")
        if problems:
            source = args[0] if args else kwargs.get("pretrained_model_name_or_path")
            raise ValueError(
                f"the Florenz weights in {source} do not match the model: {'; '.join(problems)}; "
                "the folder is incomplete or belongs to another architecture (see `florenz model verify`)"
            )
        return (model, info) if want_info else model

    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, Florence2VisionPositionalEmbeddingCosine1D):
            table = torch.empty((module.max_seq_len, module.embed_dim))
            sine, cosine = module.get_sinusoid_embeddings(max_positions=module.max_seq_len, embed_dim=module.embed_dim)
            table[:, 0::2] = sine
            table[:, 1::2] = cosine
            init.copy_(module.pos_idx_to_embed, table)


class FlorenzModel(FlorenzPreTrainedModel):
    def __init__(self, config: FlorenzConfig):
        super().__init__(config)
        self.vision_tower = Florence2VisionBackbone(config.vision_config)
        self.multi_modal_projector = Florence2MultiModalProjector(config)
        self.encoder = BartEncoder(config.encoder_config)
        if config.decoder_kind == "bart":
            self.decoder = BartDecoder(config.text_config)
        else:
            self.decoder = _GEMMA_DECODERS[config.decoder_kind](config.text_config)
        self.post_init()

    def get_encoder(self, modality: str | None = None) -> FlorenzEncoder:
        return FlorenzEncoder(self.vision_tower, self.multi_modal_projector, self.encoder, self.config.image_size)

    def get_decoder(self) -> nn.Module:
        return self.decoder

    def get_input_embeddings(self) -> nn.Embedding:
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.decoder.embed_tokens = value

    def init_cross_attention_from_decoder(self) -> None:
        """Initialise the inserted cross-attention norms from the Gemma layers (call after loading Gemma weights)."""
        if self.config.decoder_kind == "bart":
            raise ValueError("init_cross_attention_from_decoder applies to Gemma decoders; BART brings its own")
        self.decoder.init_cross_attention_from_decoder()

    @can_return_tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        decoder_position_ids: torch.LongTensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> Seq2SeqModelOutput:
        check_forward_kwargs(kwargs, f"{type(self).__name__}.forward")
        if encoder_outputs is None:
            encoder_outputs = self.get_encoder()(
                input_ids=input_ids,
                attention_mask=attention_mask,
                pixel_values=pixel_values,
                inputs_embeds=inputs_embeds,
                **kwargs,
            )
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(
                last_hidden_state=encoder_outputs[0],
                hidden_states=encoder_outputs[1] if len(encoder_outputs) > 1 else None,
                attentions=encoder_outputs[2] if len(encoder_outputs) > 2 else None,
            )
        encoder_hidden_states = encoder_outputs.last_hidden_state
        check_cached_encoder_length(cache, encoder_hidden_states.shape[1])
        encoder_attention_mask = full_encoder_attention_mask(attention_mask, encoder_hidden_states.shape[1])

        decoder_kwargs = {
            "input_ids": decoder_input_ids,
            "attention_mask": decoder_attention_mask,
            "encoder_hidden_states": encoder_hidden_states,
            "encoder_attention_mask": encoder_attention_mask,
            "cache": cache,
            "inputs_embeds": decoder_inputs_embeds,
            "use_cache": use_cache,
            **kwargs,
        }
        if self.config.decoder_kind == "bart":
            if (
                decoder_attention_mask is not None
                and (decoder_attention_mask[:, 1:] > decoder_attention_mask[:, :-1]).any()
            ):
                raise ValueError(
                    "the BART decoder has absolute positions and supports only right-padded decoder inputs; "
                    "left-padded decoder_attention_mask is allowed for Gemma decoders"
                )
        else:
            decoder_kwargs["position_ids"] = decoder_position_ids
        decoder_outputs = self.decoder(**decoder_kwargs)
        return Seq2SeqModelOutput(
            last_hidden_state=decoder_outputs.last_hidden_state,
            cache=decoder_outputs.cache,
            decoder_hidden_states=decoder_outputs.hidden_states,
            decoder_attentions=decoder_outputs.attentions,
            cross_attentions=decoder_outputs.cross_attentions,
            encoder_last_hidden_state=encoder_hidden_states,
            encoder_hidden_states=encoder_outputs.hidden_states,
            encoder_attentions=encoder_outputs.attentions,
        )


class FlorenzForConditionalGeneration(FlorenzPreTrainedModel, GenerationMixin):
    _tied_weights_keys = {"lm_head.weight": "model.decoder.embed_tokens.weight"}
    # auto classes written to `auto_map` besides the registered primary one (AutoModelForImageTextToText)
    _extra_auto_classes = ("AutoModelForSeq2SeqLM", "AutoModel")

    def __init__(self, config: FlorenzConfig):
        super().__init__(config)
        self.model = FlorenzModel(config)
        text_config = config.text_config
        hidden_size = text_config.d_model if config.decoder_kind == "bart" else text_config.hidden_size
        self.vocab_size = text_config.vocab_size
        self.lm_head = nn.Linear(hidden_size, text_config.vocab_size, bias=False)
        # labels are already aligned with the decoder inputs (shifted right), so the loss does not shift again
        self.loss_type = "ForMaskedLM"
        # only the Gemma-side ids: BART's defaults (e.g. forced_eos_token_id=2) would mean <bos> in this vocabulary
        self.generation_config = GenerationConfig(
            pad_token_id=config.pad_token_id,
            bos_token_id=config.bos_token_id,
            eos_token_id=config.eos_token_id,
            decoder_start_token_id=config.decoder_start_token_id,
        )
        self.post_init()

    def init_parallel_plans(self) -> None:
        """Shard the tied `lm_head` on the vocabulary whenever the decoder embedding is (Gemma decoders), so the two
        views of the one weight agree under `tp_plan="auto"`."""
        super().init_parallel_plans()
        if "model.decoder.embed_tokens" in self._tp_plan:
            self._tp_plan["lm_head"] = "colwise_gather_output"

    def get_encoder(self, modality: str | None = None) -> FlorenzEncoder:
        return self.model.get_encoder(modality)

    def get_decoder(self) -> nn.Module:
        return self.model.get_decoder()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.model.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.model.set_input_embeddings(value)

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, new_embeddings: nn.Linear) -> None:
        self.lm_head = new_embeddings

    def init_cross_attention_from_decoder(self) -> None:
        self.model.init_cross_attention_from_decoder()

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.LongTensor:
        """Shift right with `decoder_start_token_id` (= <eos>), turning -100 into <pad>: `[<eos>, <bos>, t1, …]`."""
        shifted = labels.new_full(labels.shape, self.config.pad_token_id)
        shifted[:, 1:] = labels[:, :-1]
        shifted[:, 0] = self.config.decoder_start_token_id
        return shifted.masked_fill(shifted == -100, self.config.pad_token_id)

    def apply_freeze_policy(self, policy: str = "paper") -> dict[str, int]:
        """Set `requires_grad` as the paper trains and return `{"total_params", "trainable_params"}`.

        "paper": vision tower + projector frozen; BART decoders train everything else; Gemma decoders train only the
        BART encoder, `encoder_attn*`, `post_encoder_attention_layernorm` and the (tied) embeddings.
        "all": everything except the vision side.
        """
        if policy not in FREEZE_POLICIES:
            raise ValueError(f"unknown freeze policy {policy!r}; allowed: {list(FREEZE_POLICIES)}")
        gemma = self.config.decoder_kind != "bart"
        for name, param in self.named_parameters():
            if name.startswith(VISION_PREFIXES):
                trainable = False
            elif policy == "all" or not gemma or not name.startswith("model.decoder."):
                trainable = True
            else:
                trainable = any(marker in name for marker in _GEMMA_TRAINABLE_MARKERS)
            param.requires_grad_(trainable)
        return {
            "total_params": sum(p.numel() for p in self.parameters()),
            "trainable_params": sum(p.numel() for p in self.parameters() if p.requires_grad),
        }

    def save_pretrained(self, save_directory, *args, **kwargs):
        """Also map `AutoModelForSeq2SeqLM` and `AutoModel` to this class in the saved `auto_map`, register the
        Florenz pipeline for `pipeline("image-text-to-text" | "image-to-text")` in `custom_pipelines` (its file is
        copied with this one's relative imports), and record the files' sha256 in `florenz_checksums.json` (see
        `write_checksums`)."""
        if self._auto_class is not None:
            from .pipeline_florenz import custom_pipelines

            auto_map = dict(getattr(self.config, "auto_map", None) or {})
            target = f"{self.__class__.__module__.split('.')[-1]}.{self.__class__.__name__}"
            for auto_class in self._extra_auto_classes:
                auto_map[auto_class] = target
            self.config.auto_map = auto_map
            self.config.custom_pipelines = custom_pipelines()
        result = super().save_pretrained(save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):
            write_checksums(save_directory)
        return result

    @can_return_tuple
    @deprecate_kwarg("past_key_values", "5.40.0", new_name="cache")
    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        pixel_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.LongTensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        decoder_position_ids: torch.LongTensor | None = None,
        encoder_outputs: BaseModelOutput | tuple | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> Seq2SeqLMOutput:
        r"""
        input_ids / attention_mask: encoder prompt (BART tokenizer), right-padded; image tokens are prepended inside.
        pixel_values: `(batch, 3, S, S)` finite floating images, `S = config.image_size` when set; None for a
            text-only encoder input.
        decoder_input_ids / decoder_attention_mask: Gemma-vocabulary decoder input; left padding is allowed for
            Gemma decoders (positions follow the mask), right padding only for the BART decoder.
        labels: Gemma ids with -100 for ignored positions; ids outside the vocabulary raise ValueError.
            Without decoder inputs they are shifted right with `decoder_start_token_id`.
        cache: an `EncoderDecoderCache` to continue from (`past_key_values=` is accepted with a deprecation warning).
        kwargs: `output_hidden_states`, `output_attentions` (BART encoder, decoder self- and cross-attention; the
            DaViT tower returns none), `return_dict`, and `num_items_in_batch` (gradient-accumulation-exact loss,
            passed by `Trainer`); any other keyword is a TypeError.
        """
        check_forward_kwargs(kwargs, f"{type(self).__name__}.forward")
        num_items_in_batch = kwargs.pop("num_items_in_batch", None)
        if labels is not None:
            vocab = self.config.text_config.vocab_size
            bad = (labels != -100) & ((labels < 0) | (labels >= vocab))
            if bad.any():
                raise ValueError(
                    f"labels contain ids outside [0, {vocab}) (e.g. {labels[bad][0].item()}); use -100 to ignore positions"
                )
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
            if use_cache is None:
                use_cache = False

        outputs = self.model(
            input_ids=input_ids,
            pixel_values=pixel_values,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            decoder_position_ids=decoder_position_ids,
            encoder_outputs=encoder_outputs,
            cache=cache,
            inputs_embeds=inputs_embeds,
            decoder_inputs_embeds=decoder_inputs_embeds,
            use_cache=use_cache,
            **kwargs,
        )
        hidden_states = slice_logits_to_keep(outputs.last_hidden_state, logits_to_keep)
        logits = self.lm_head(hidden_states)
        softcap = self.config.final_logit_softcapping
        if softcap is not None:
            logits = softcap * torch.tanh(logits / softcap)

        loss = None
        if labels is not None:
            loss = self.loss_function(logits, labels, logits.shape[-1], num_items_in_batch=num_items_in_batch)

        return Seq2SeqLMOutput(
            loss=loss,
            logits=logits,
            cache=outputs.cache,
            decoder_hidden_states=outputs.decoder_hidden_states,
            decoder_attentions=outputs.decoder_attentions,
            cross_attentions=outputs.cross_attentions,
            encoder_last_hidden_state=outputs.encoder_last_hidden_state,
            encoder_hidden_states=outputs.encoder_hidden_states,
            encoder_attentions=outputs.encoder_attentions,
        )


FlorenzConfig.register_for_auto_class()
FlorenzForConditionalGeneration.register_for_auto_class("AutoModelForImageTextToText")

__all__ = [
    "CHECKSUMS_FILE",
    "FlorenzEncoder",
    "FlorenzForConditionalGeneration",
    "FlorenzGemma2Decoder",
    "FlorenzGemma3Decoder",
    "FlorenzModel",
    "FlorenzPreTrainedModel",
    "verify_checksums",
    "write_checksums",
]
