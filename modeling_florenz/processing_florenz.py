"""Florenz processor: images + (task, language[, source]) → encoder inputs, optional forced decoder prefix and labels.

Hub remote code: flat file, imports only torch/numpy/PIL/transformers/stdlib.

The encoder prompt carries the target language ("The target language is Spanish. What does the image describe?"),
it is tokenized by the BART-style `encoder_tokenizer`; everything the decoder sees or emits uses the Gemma-vocabulary
`tokenizer` (primary, so Trainer/TRL/pipelines that read `processor.tokenizer` get the decoder ids).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageOps
from transformers import BatchFeature
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.processing_utils import ProcessorMixin

LANGUAGES = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "ru": "Russian",
    "zh": "simplified Chinese",
}
TASKS = ("caption", "detailed_caption", "more_detailed_caption", "translate")
CAPTION_TASKS = ("caption", "detailed_caption", "more_detailed_caption")
TASK_PROMPTS = {
    "caption": "What does the image describe?",
    "detailed_caption": "Describe in detail what is shown in the image.",
    "more_detailed_caption": "Describe with a paragraph what is shown in the image.",
    "translate": "Translate the following text: {source}",
}
# Forced into the decoder to unlock captioning in languages only seen in translation (paper's "language prefix").
# A locative phrase closed by a colon: what follows is the caption unchanged (case, gender and number need not agree
# with the prefix), so a prefixed caption minus its prefix is exactly the unprefixed caption.
LANGUAGE_PREFIXES = {
    "en": "In the image:",
    "de": "Auf dem Bild:",
    "fr": "Sur l'image :",
    "es": "En la imagen:",
    "ru": "На картинке:",
    "zh": "图中：",
}
# Florence-2's task tokens (what its processor takes as `text`) → Florenz tasks.
TASK_TOKENS = {
    "<CAPTION>": "caption",
    "<DETAILED_CAPTION>": "detailed_caption",
    "<MORE_DETAILED_CAPTION>": "more_detailed_caption",
}
# Separates an instruction from the start of the answer that is forced into the decoder (a chat's prefilled
# assistant message): "Caption this image in French.\nAnswer: Sur l'image :".
ANSWER_MARKER = "\nAnswer:"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LABEL_PAD_ID = -100

_ALPHA_MODES = ("RGBA", "LA", "PA")
_PREMULTIPLIED_MODES = ("RGBa", "La")
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_CALL_KWARGS = (
    "images",
    "text",
    "task",
    "language",
    "prefix",
    "text_target",
    "max_length",
    "max_target_length",
    "truncation",
    "return_tensors",
    "padding",
)
MAX_QUOTED_CHARS = 150  # error messages quote at most this much of the caller's text (messages stay < 300)
# Where each tokenizer lives in a saved processor folder (named in load errors).
TOKENIZER_FILES = {
    "tokenizer": "tokenizer.json / tokenizer_config.json",
    "encoder_tokenizer": "encoder_tokenizer/tokenizer.json / encoder_tokenizer/tokenizer_config.json",
}


def _quote(value: Any, limit: int = MAX_QUOTED_CHARS) -> str:
    """`repr(value)` cut to `limit` characters, so an error never echoes a whole document back."""
    shown = repr(value)
    if len(shown) <= limit:
        return shown
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return f"{shown[:limit]}…{size}"


def _check_unicode(name: str, value: Any) -> None:
    """Lone surrogates (e.g. undecodable bytes read with surrogateescape) cannot be tokenized: name the argument."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(
                f"{name} holds invalid Unicode (lone surrogate U+{ord(value[err.start]):04X} at character "
                f"{err.start}); give valid UTF-8 text"
            ) from None


def tokenizer_fingerprint(tokenizer: Any) -> dict[str, Any]:
    """What a saved processor records about each tokenizer: vocabulary size, special-token ids and a sha256 of the
    (token, id) table, so a missing, truncated or swapped tokenizer file is caught when the processor loads."""
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: (item[1], item[0]))
    return {
        "vocab_size": len(tokenizer),
        "special_ids": {name: getattr(tokenizer, f"{name}_token_id", None) for name in ("bos", "eos", "pad", "unk")},
        "sha256": hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode("utf-8")).hexdigest(),
    }


def build_prompt(task: str, language: str, source: str | None = None) -> str:
    """Encoder prompt as in the paper's processor: "The target language is <Name>. <task text>"."""
    if not isinstance(task, str) or task not in TASKS:
        raise ValueError(f"unknown task {_quote(task)}; allowed: {', '.join(TASKS)}")
    if not isinstance(language, str) or language not in LANGUAGES:
        raise ValueError(f"unknown language {_quote(language)}; allowed: {', '.join(LANGUAGES)}")
    if task == "translate":
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"task 'translate' needs a non-empty source text, got {_quote(source)}")
        instruction = TASK_PROMPTS[task].format(source=source)
    else:
        if source is not None:
            raise ValueError(f"task {task!r} takes no source text (only 'translate' does), got {_quote(source)}")
        instruction = TASK_PROMPTS[task]
    return f"The target language is {LANGUAGES[language]}. {instruction}"


def add_language_prefix(text: str, language: str) -> str:
    """`text` (a caption starting with a capital letter) behind the language's prefix: "In the image: a red star."."""
    prefix = LANGUAGE_PREFIXES[language]
    return f"{prefix}{text}" if language == "zh" else f"{prefix} {text[:1].lower()}{text[1:]}"


def strip_language_prefix(text: str, language: str) -> str:
    """Inverse of `add_language_prefix`; text without the prefix is returned unchanged."""
    prefix = LANGUAGE_PREFIXES[language]
    if not text.startswith(prefix):
        return text
    rest = text[len(prefix) :].strip()
    return rest[:1].upper() + rest[1:]


# Names an instruction may use for a language: the code, the English name, and "Chinese" for simplified Chinese.
_LANGUAGE_WORDS = {
    **{code: code for code in LANGUAGES},
    **{name.lower(): code for code, name in LANGUAGES.items()},
    "chinese": "zh",
}
_LANGUAGE_PATTERN = "|".join(sorted((re.escape(word) for word in _LANGUAGE_WORDS), key=len, reverse=True))
_FLORENZ_PROMPT = re.compile(r"The target language is (?P<name>[^.]+)\. (?P<instruction>.+)", re.DOTALL)
_TRANSLATE = re.compile(
    rf"translate(?: (?:this|the following))?(?: text| sentence)?(?: from \w+)? (?:in)?to (?P<language>{_LANGUAGE_PATTERN})"
    r"\s*:\s*(?P<source>.+)",
    re.IGNORECASE | re.DOTALL,
)
_CAPTION = re.compile(
    rf"(?:caption|describe)\b(?P<body>.*?)(?:\bin (?P<language>{_LANGUAGE_PATTERN}))?\s*[.!?]?",
    re.IGNORECASE | re.DOTALL,
)
# Kept short: it ends error messages, which stay under 300 characters.
INSTRUCTION_FORMS = (
    "'Caption this image in French.', 'Describe this image in detail.', 'Translate to German: <text>', "
    f"<CAPTION>-style task tokens, the Florenz prompt or ''; {ANSWER_MARKER!r} starts a forced answer"
)


def parse_instruction(text: str) -> tuple[str, str | None, str | None, str | None]:
    """Free-text instruction → (task, language or None when not named, translation source, forced answer start).

    This is what `processor(images, text)` and the chat template feed in: the instructions users write for
    image-text-to-text models, Florence-2's task tokens, or the Florenz encoder prompt itself.
    """
    if not isinstance(text, str):
        raise ValueError(f"text must be a str instruction, got {type(text).__name__}; allowed: {INSTRUCTION_FORMS}")
    instruction, marker, answer = text.partition(ANSWER_MARKER)
    answer = answer.strip() or None if marker else None
    instruction = instruction.strip()
    if not instruction:
        return "caption", None, None, answer
    if instruction in TASK_TOKENS:
        return TASK_TOKENS[instruction], None, None, answer
    if match := _FLORENZ_PROMPT.fullmatch(instruction):
        names = {name: code for code, name in LANGUAGES.items()}
        language = names.get(match["name"])
        rest = match["instruction"]
        translate_head = TASK_PROMPTS["translate"].format(source="")
        if language is not None:
            if rest.startswith(translate_head) and rest[len(translate_head) :].strip():
                return "translate", language, rest[len(translate_head) :], answer
            for task in CAPTION_TASKS:
                if rest == TASK_PROMPTS[task]:
                    return task, language, None, answer
    elif match := _TRANSLATE.fullmatch(instruction):
        return "translate", _LANGUAGE_WORDS[match["language"].lower()], match["source"].strip(), answer
    elif match := _CAPTION.fullmatch(instruction):
        body = match["body"].lower()
        task = "more_detailed_caption" if "paragraph" in body else "detailed_caption" if "detail" in body else "caption"
        language = _LANGUAGE_WORDS[match["language"].lower()] if match["language"] else None
        if language is None and (other := re.search(r"\bin (?!detail\b|a paragraph\b)(\w+)\W*$", body)):
            raise ValueError(
                f"unknown language {_quote(other[1], 40)} in {_quote(instruction, 80)}; allowed: {', '.join(LANGUAGES)}"
            )
        return task, language, None, answer
    raise ValueError(f"cannot read the instruction {_quote(instruction, 40)}; allowed: {INSTRUCTION_FORMS}")


def _chat_template() -> str:
    """Jinja chat template: one user turn (image + instruction text, or structured `{"type": "task", "task": …,
    "language": …, "source": …}` content rendered as the Florenz prompt) and an optional final assistant turn whose
    text is forced into the decoder. `processor(images, text)` reads the rendered text with `parse_instruction`."""
    names = json.dumps(LANGUAGES, ensure_ascii=False)
    prompts = json.dumps(TASK_PROMPTS, ensure_ascii=False)
    return (
        "{%- set names = " + names + " -%}{%- set prompts = " + prompts + " -%}"
        "{%- set marker = " + json.dumps(ANSWER_MARKER) + " -%}"
        "{%- for message in messages -%}"
        "{%- if message.role == 'user' -%}"
        "{%- if loop.index0 != 0 -%}{{ raise_exception('Florenz takes one user turn (image + instruction), "
        "optionally followed by the start of the answer') }}{%- endif -%}"
        "{%- if message.content is string -%}{{ message.content }}{%- else -%}"
        "{%- for item in message.content -%}"
        "{%- if item.type == 'text' -%}{{ item.text }}"
        "{%- elif item.type == 'task' -%}"
        "{%- if item.task not in prompts or item.language not in names -%}{{ raise_exception('task content needs "
        "task in ' ~ (prompts | list | join(', ')) ~ ' and language in ' ~ (names | list | join(', '))) }}{%- endif -%}"
        "The target language is {{ names[item.language] }}. "
        "{{ prompts[item.task] | replace('{source}', item.source if item.source is defined else '') }}"
        "{%- endif -%}"
        "{%- endfor -%}{%- endif -%}"
        "{%- elif message.role == 'assistant' -%}"
        "{%- if not loop.last or loop.index0 != 1 -%}{{ raise_exception('an assistant turn must be the last one and "
        "follow the user turn') }}{%- endif -%}"
        "{{ marker }} {% if message.content is string %}{{ message.content }}{% else %}"
        "{% for item in message.content %}{% if item.type == 'text' %}{{ item.text }}{% endif %}{% endfor %}{% endif %}"
        "{%- else -%}{{ raise_exception('Florenz chats take user and assistant turns only, got ' ~ message.role) }}"
        "{%- endif -%}"
        "{%- endfor -%}"
    )


CHAT_TEMPLATE = _chat_template()


def florenz_image_processor(image_size: int) -> CLIPImageProcessorPil:
    """The paper's eval preprocessing: bicubic resize to (S, S) without crop, rescale 1/255, ImageNet normalisation.

    The PIL backend is pinned (torchvision is optional) so a saved processor gives the same pixels everywhere.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive int, got {_quote(image_size)}")
    return CLIPImageProcessorPil(
        do_resize=True,
        size={"height": image_size, "width": image_size},
        resample=Image.Resampling.BICUBIC,
        do_center_crop=False,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=list(IMAGENET_MEAN),
        image_std=list(IMAGENET_STD),
        do_convert_rgb=False,
    )


def _open_image(image: Any, index: int) -> Image.Image:
    """PIL image, path or encoded bytes → fully decoded PIL image (PIL decodes lazily, so force it here)."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        image = io.BytesIO(bytes(image))
    elif not isinstance(image, (Image.Image, str, os.PathLike)):
        raise ValueError(f"image {index} is a {type(image).__name__}; allowed: PIL.Image, path, bytes")
    try:
        opened = image if isinstance(image, Image.Image) else Image.open(image)
        opened.load()
        # Camera JPEGs store the orientation as an EXIF tag: apply it, as every viewer does (a copy; the caller's
        # image is not changed).
        if opened.getexif().get(ImageOps.ExifTags.Base.Orientation, 1) != 1:
            opened = ImageOps.exif_transpose(opened)
    except Exception as error:  # PIL raises many types (OSError, SyntaxError, DecompressionBombError, ...)
        raise ValueError(
            f"image {index} could not be read: {type(error).__name__}: {_quote(str(error))}; "
            "allowed: PIL.Image, path, bytes"
        ) from error
    return opened


def _to_rgb(image: Image.Image, index: int) -> Image.Image:
    """Any PIL mode → 8-bit RGB, by fixed per-mode rules (never by looking at the pixel values):

    - RGBA/LA/PA/P or L with transparency: composited on white (what a viewer shows); RGBa/La (premultiplied) too;
    - I;16, I;16B, I;16L, I;16N and I: 16-bit intensities 0..65535 (PIL opens 16-bit PNG/TIFF files in these modes)
      → divided by 257, rounded, clipped to 0..255, as grey;
    - F: floats in [0, 1] (the convention of float images) → ×255, rounded, clipped, as grey; NaN/inf is an error;
    - every other mode (1, L, P, CMYK, YCbCr, LAB, HSV, RGBX): PIL's own `convert("RGB")`.
    """
    if image.width < 1 or image.height < 1:
        raise ValueError(f"image {index} has size {image.width}x{image.height}; both sides must be >= 1")
    mode = image.mode
    if mode == "RGB" and "transparency" not in image.info:
        return image
    if mode in _PREMULTIPLIED_MODES:
        array = np.asarray(image, dtype=np.float32)
        colour, alpha = array[..., :-1], array[..., -1:] / 255.0
        composite = np.clip(colour + 255.0 * (1.0 - alpha), 0, 255).round().astype(np.uint8)
        return Image.fromarray(np.repeat(composite, 3 // composite.shape[-1], axis=-1), "RGB")
    if mode in _SIXTEEN_BIT_MODES or mode in ("I", "F"):
        # PIL's own convert clips these to 0..255, turning ordinary 16-bit photos white: rescale to 8 bit instead.
        array = np.asarray(image, dtype=np.float64)
        if not np.isfinite(array).all():
            raise ValueError(
                f"image {index} (mode {mode}) holds NaN or infinite values; allowed: finite floats in [0, 1]"
            )
        grey = np.clip(array * (255.0 if mode == "F" else 1 / 257), 0, 255).round().astype(np.uint8)
        return Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB")
    if mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except (ValueError, OSError) as error:
        raise ValueError(
            f"image {index} has PIL mode {mode!r} that cannot be converted to RGB: {_quote(str(error))}"
        ) from error


def _per_item(name: str, value: Any, batch_size: int) -> list[Any]:
    """A single value applies to every image; a list/tuple must give one value per image."""
    if isinstance(value, (list, tuple)):
        if len(value) != batch_size:
            raise ValueError(f"{name} has {len(value)} entries but there are {batch_size} images; give one per image")
        return list(value)
    return [value] * batch_size


def _as_id_rows(sequences: Any) -> list[list[int]]:
    """Tensor, array or nested list of shape (batch, length) → list of int lists."""
    rows = sequences.tolist() if hasattr(sequences, "tolist") else sequences
    if not isinstance(rows, (list, tuple)) or not all(isinstance(row, (list, tuple)) for row in rows):
        raise ValueError(f"sequences must be 2-D (batch, length) token ids, got {type(sequences).__name__}")
    try:
        return [[int(token) for token in row] for row in rows]
    except (TypeError, ValueError) as error:
        raise ValueError(f"sequences must hold integer token ids: {error}") from error


def _check_max_length(name: str, value: int | None, minimum: int) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
        raise ValueError(f"{name} must be None or an int >= {minimum}, got {_quote(value)}")


def _check_tokenizers(expected: Any, tokenizers: dict[str, Any]) -> None:
    """Each tokenizer must be the one the processor was saved with; transformers silently falls back to the root
    tokenizer (or a near-empty one) when a sub-folder's files are missing or damaged."""
    if not isinstance(expected, dict):
        raise ValueError(f"processor_config.json: vocab_fingerprints must be a mapping, got {_quote(expected)}")
    for name, tokenizer in tokenizers.items():
        saved = expected.get(name)
        if saved is None:
            continue
        found = tokenizer_fingerprint(tokenizer)
        for field, label in (
            ("vocab_size", "vocabulary size"),
            ("special_ids", "special-token ids"),
            ("sha256", "vocabulary sha256"),
        ):
            if found[field] != saved.get(field):
                shown = (
                    (found[field][:12], str(saved.get(field))[:12])
                    if field == "sha256"
                    else (found[field], saved.get(field))
                )
                raise ValueError(
                    f"{name} ({TOKENIZER_FILES[name]}) is not the tokenizer this processor was saved with: "
                    f"{label} {shown[0]} instead of {shown[1]}; the files are missing or damaged"
                )


class FlorenzProcessor(ProcessorMixin):
    r"""
    Processor of the Florenz encoder-decoder VLMs.

    image_processor (`CLIPImageProcessorPil`): resize to (S, S) bicubic, rescale, ImageNet-normalise; build it with
        `florenz_image_processor(S)`. Images of any PIL mode are converted to RGB here first (alpha on white).
    tokenizer (Gemma-vocabulary tokenizer): the decoder side (`<pad>`=0 `<eos>`=1 `<bos>`=2). Primary, saved at the root.
    encoder_tokenizer (BART-style tokenizer): the prompt side (`<s>`=0 `<pad>`=1 `</s>`=2), saved in `encoder_tokenizer/`.

    State: every `__call__` records the forced decoder prefix rows it returned (or `None` when `prefix=False`).
    `batch_decode`/`decode` strip those rows from generated sequences by default, so call them on the output of
    the `generate` that consumed the *latest* processor call (or pass `strip_prefix` explicitly).
    """

    def __init__(
        self,
        image_processor=None,
        tokenizer=None,
        encoder_tokenizer=None,
        chat_template=None,
        max_prompt_length: int | None = None,
        vocab_fingerprints: dict | None = None,
        **kwargs,
    ):
        missing = [
            name
            for name, value in (
                ("image_processor", image_processor),
                ("tokenizer", tokenizer),
                ("encoder_tokenizer", encoder_tokenizer),
            )
            if value is None
        ]
        if missing:
            raise ValueError(f"FlorenzProcessor needs {', '.join(missing)}; got None")
        if type(image_processor).__name__ == "CLIPImageProcessor":
            # AutoProcessor picks the torchvision backend where it is installed; its bicubic resize differs from
            # PIL's, so pin the PIL backend to get the same pixels on every machine.
            settings = image_processor.to_dict()
            for key in ("image_processor_type", "auto_map", "processor_class"):
                settings.pop(key, None)
            image_processor = CLIPImageProcessorPil(**settings)
        _check_max_length("max_prompt_length", max_prompt_length, 2)
        if vocab_fingerprints is not None:
            _check_tokenizers(vocab_fingerprints, {"tokenizer": tokenizer, "encoder_tokenizer": encoder_tokenizer})
        super().__init__(
            image_processor, tokenizer, encoder_tokenizer, chat_template=chat_template or CHAT_TEMPLATE, **kwargs
        )
        self.max_prompt_length = max_prompt_length
        self._forced_prefix_rows: list[list[int]] | None = None
        self._encoder_rows: list[list[int]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """processor_config.json also records the tokenizers' fingerprints, checked again when the folder loads."""
        output = super().to_dict()
        output["vocab_fingerprints"] = {
            "tokenizer": tokenizer_fingerprint(self.tokenizer),
            "encoder_tokenizer": tokenizer_fingerprint(self.encoder_tokenizer),
        }
        return output

    @property
    def model_input_names(self) -> list[str]:
        return ["pixel_values", "input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask"]

    @property
    def image_size(self) -> int:
        return int(self.image_processor.size["height"])

    @property
    def decoder_start_token_id(self) -> int:
        """Decoder sequences start with `<eos>` then `<bos>` (BART's "`</s>` then forced `<s>`" in Gemma ids)."""
        return self.tokenizer.eos_token_id

    def __call__(
        self,
        images: Any = None,
        text: str | None | Sequence[str | None] = None,
        task: str | Sequence[str] | None = None,
        language: str | Sequence[str] | None = None,
        prefix: bool = False,
        text_target: str | Sequence[str] | None = None,
        max_length: int | None = None,
        max_target_length: int | None = None,
        truncation: bool = True,
        return_tensors: str | None = "pt",
        padding: bool | str = True,
        videos: None = None,
        audio: None = None,
        **kwargs: Any,
    ) -> BatchFeature:
        r"""
        images: one image or a list; each a `PIL.Image` (any mode/size), a file path or encoded bytes.
        text: with `task`: the source sentence(s) for `task="translate"` (None for caption tasks). Without `task`
            (the image-text-to-text convention, as in pipelines and chat templates): instruction(s) read by
            `parse_instruction`, e.g. "Caption this image in French.", "Translate to German: A red circle.",
            "<CAPTION>"; text after "\nAnswer:" is forced into the decoder. A single value applies to all images.
        task / language: one value for the batch or one per image; see `TASKS` and `LANGUAGES`. Defaults: caption,
            and English unless the instruction names a language.
        prefix: force `LANGUAGE_PREFIXES[language]` into the decoder (caption tasks only, for `generate`).
        text_target: reference output(s) → `labels` = `<bos> … <eos>`, right-padded with -100.
        max_length / max_target_length: truncate encoder prompts / labels (the final `</s>` / `<eos>` is kept).
            Prompts are also limited to `max_prompt_length` (saved with the processor: the encoder positions left
            after the image tokens), which a longer prompt would overrun.
        truncation: True (default) cuts a prompt longer than the limit, with a warning; False raises a ValueError.
        return_tensors: "pt" (default), "np", or None (id lists, pixel values as a numpy array).

        Returns `pixel_values` (B, 3, S, S) float32, `input_ids`/`attention_mask` (right-padded with the encoder pad),
        and optionally `decoder_input_ids`/`decoder_attention_mask` (left-padded) and `labels`.
        """
        if kwargs:
            raise ValueError(f"unexpected argument(s) {_quote(sorted(kwargs))}; allowed: {', '.join(_CALL_KWARGS)}")
        if videos is not None or audio is not None:
            raise ValueError("Florenz reads images and text only; videos and audio must be None")
        if padding not in (True, "longest"):
            raise ValueError(
                f"padding must be True or 'longest' (batches pad to the longest row), got {_quote(padding)}"
            )
        if images is None:
            raise ValueError("images is required (one image or a list of images)")
        if isinstance(images, (list, tuple)) and any(isinstance(item, (list, tuple)) for item in images):
            images = self._one_image_per_sample(images)
        if not isinstance(prefix, bool):
            raise ValueError(f"prefix must be True or False, got {_quote(prefix)}")
        if not isinstance(truncation, bool):
            raise ValueError(f"truncation must be True or False, got {_quote(truncation)}")
        _check_max_length("max_length", max_length, 2)
        _check_max_length("max_target_length", max_target_length, 2)
        image_list = list(images) if isinstance(images, (list, tuple)) else [images]
        if not image_list:
            raise ValueError("images is an empty list; give at least one image")
        batch_size = len(image_list)
        languages = _per_item("language", language, batch_size)
        texts = _per_item("text", text, batch_size)
        for index, value in enumerate(texts):
            _check_unicode(f"text[{index}]", value)
        if task is None and text is not None:
            tasks, languages, sources, answers = self._read_instructions(texts, languages)
        else:
            tasks = _per_item("task", "caption" if task is None else task, batch_size)
            languages = [item or "en" for item in languages]
            sources = texts
            answers = [None] * batch_size
        for name, values in (("task", tasks), ("language", languages)):
            for index, value in enumerate(values):
                _check_unicode(f"{name}[{index}]", value)
        prompts = [
            build_prompt(item_task, item_language, item_source)
            for item_task, item_language, item_source in zip(tasks, languages, sources)
        ]
        if any(answer is not None for answer in answers):
            if prefix:
                raise ValueError(f"give the forced answer start either as prefix=True or after {ANSWER_MARKER!r}")
            if text_target is not None:
                raise ValueError(
                    f"an answer start after {ANSWER_MARKER!r} is for generation; it cannot be combined "
                    "with text_target (training)"
                )
        if prefix:
            if text_target is not None:
                raise ValueError("prefix=True is for generation; it cannot be combined with text_target (training)")
            not_caption = sorted({item_task for item_task in tasks if item_task not in CAPTION_TASKS})
            if not_caption:
                raise ValueError(f"prefix=True works only for caption tasks {CAPTION_TASKS}, got {not_caption}")

        rgb_images = [_to_rgb(_open_image(image, index), index) for index, image in enumerate(image_list)]
        pixel_values = self.image_processor(images=rgb_images, return_tensors="np")["pixel_values"]
        data: dict[str, Any] = {"pixel_values": np.asarray(pixel_values, dtype=np.float32)}

        encoded = self._encode_prompts(prompts, max_length, truncation)
        data["input_ids"] = encoded["input_ids"]
        data["attention_mask"] = encoded["attention_mask"]
        self._encoder_rows = [list(row) for row in encoded["input_ids"]]

        self._forced_prefix_rows = None
        if prefix or any(answer is not None for answer in answers):
            rows = [
                self._prefix_row(item_language) if prefix else self._answer_row(answer)
                for item_language, answer in zip(languages, answers)
            ]
            width = max(len(row) for row in rows)
            pad_id = self.tokenizer.pad_token_id
            data["decoder_input_ids"] = [[pad_id] * (width - len(row)) + row for row in rows]
            data["decoder_attention_mask"] = [[0] * (width - len(row)) + [1] * len(row) for row in rows]
            self._forced_prefix_rows = [list(row) for row in data["decoder_input_ids"]]

        if text_target is not None:
            targets = _per_item("text_target", text_target, batch_size)
            data["labels"] = self._labels(targets, max_target_length)
        return BatchFeature(data=data, tensor_type=return_tensors)

    def _encode_prompts(self, prompts: list[str], max_length: int | None, truncation: bool) -> dict[str, list]:
        """Tokenize prompts within the limit: `max_length` if given, else `max_prompt_length` (encoder positions)."""
        limits = [value for value in (max_length, self.max_prompt_length) if value is not None]
        limit = min(limits) if limits else None
        encoded = self.encoder_tokenizer(prompts, add_special_tokens=True, padding=False, truncation=False)
        if limit is not None:
            too_long = [(index, len(ids)) for index, ids in enumerate(encoded["input_ids"]) if len(ids) > limit]
            if too_long:
                index, length = too_long[0]
                what = f"prompt {index} has {length} tokens, more than the limit of {limit}"
                if not truncation:
                    raise ValueError(
                        f"{what} (max_length / max_prompt_length: the encoder positions after the image tokens); "
                        "shorten the text or pass truncation=True"
                    )
                if max_length is None or max_length > limit:  # an explicit max_length asks for truncation
                    warnings.warn(f"{what}; cut to {limit} tokens (pass truncation=False to get an error instead)")
        return self.encoder_tokenizer(
            prompts,
            add_special_tokens=True,
            padding="longest",
            padding_side="right",
            truncation=limit is not None,
            max_length=limit,
        )

    def _prefix_row(self, language: str) -> list[int]:
        return self._answer_row(LANGUAGE_PREFIXES[language])

    def _answer_row(self, answer: str | None) -> list[int]:
        """Decoder start, `<bos>` and the words of `answer` (nothing more for None): what generate continues."""
        words = self.tokenizer(answer, add_special_tokens=False)["input_ids"] if answer else []
        return [self.decoder_start_token_id, self.tokenizer.bos_token_id, *words]

    @staticmethod
    def _one_image_per_sample(images: Sequence[Any]) -> list[Any]:
        """Chat templates and pipelines pass one image list per sample; Florenz reads exactly one image each."""
        flat = []
        for index, item in enumerate(images):
            group = list(item) if isinstance(item, (list, tuple)) else [item]
            if len(group) != 1:
                raise ValueError(f"sample {index} has {len(group)} images; Florenz reads exactly one image per sample")
            flat.append(group[0])
        return flat

    @staticmethod
    def _read_instructions(
        texts: list[Any], languages: list[str | None]
    ) -> tuple[list[str], list[str], list[str | None], list[str | None]]:
        """Instructions → per-item task, language, source and forced answer start (see `parse_instruction`)."""
        tasks, resolved, sources, answers = [], [], [], []
        for index, (text, language) in enumerate(zip(texts, languages)):
            item_task, named, source, answer = parse_instruction("" if text is None else text)
            if named is not None and language is not None and named != language:
                raise ValueError(
                    f"text {index} asks for language {named!r} but language={_quote(language, 40)} was passed; "
                    "give one of them"
                )
            tasks.append(item_task)
            resolved.append(named or language or "en")
            sources.append(source)
            answers.append(answer)
        return tasks, resolved, sources, answers

    def post_process_image_text_to_text(
        self, generated_outputs: Any, skip_special_tokens: bool = True, **kwargs: Any
    ) -> list[str]:
        """Texts for the image-text-to-text pipeline.

        Generated rows decode to what follows the forced answer start (leading space kept, so the pipeline's
        "prefilled answer + continuation" reads as one text). The encoder prompt rows of the latest call, which the
        pipeline decodes to remove an echoed prompt, decode with the encoder tokenizer to the Florenz prompt.
        A single sequence (1-D) gives a list of one text.
        """
        rows = generated_outputs.tolist() if hasattr(generated_outputs, "tolist") else list(generated_outputs)
        rows = _as_id_rows([rows] if rows and not isinstance(rows[0], (list, tuple)) else rows)
        if self._encoder_rows is not None and rows == self._encoder_rows:
            return self.encoder_tokenizer.batch_decode(rows, skip_special_tokens=skip_special_tokens, **kwargs)
        vocab_size = len(self.tokenizer)
        forced = self._forced_prefix_rows or [[]]
        repeats = max(len(rows) // len(forced), 1)
        texts = []
        for index, row in enumerate(rows):
            own = forced[min(index // repeats, len(forced) - 1)]
            # generate() prepends the decoder start id only when no forced row begins with it
            start = next((head for head in (own, [self.decoder_start_token_id, *own]) if row[: len(head)] == head), [])
            full, head = (
                self.tokenizer.decode(
                    [token for token in ids if 0 <= token < vocab_size],
                    skip_special_tokens=skip_special_tokens,
                    **kwargs,
                )
                for ids in (row, start)
            )
            texts.append(full.removeprefix(head))
        return texts

    def _labels(self, targets: list[Any], max_target_length: int | None) -> list[list[int]]:
        for index, target in enumerate(targets):
            if not isinstance(target, str):
                raise ValueError(f"text_target[{index}] is a {type(target).__name__}; allowed: str")
            _check_unicode(f"text_target[{index}]", target)
        # Explicit add_special_tokens=False + manual <bos>/<eos>: the Gemma tokenizer adds <bos> only and pads left.
        pieces = self.tokenizer(targets, add_special_tokens=False, padding=False, truncation=False)["input_ids"]
        if max_target_length is not None:
            pieces = [ids[: max_target_length - 2] for ids in pieces]
        rows = [[self.tokenizer.bos_token_id, *ids, self.tokenizer.eos_token_id] for ids in pieces]
        width = max(len(row) for row in rows)
        return [row + [LABEL_PAD_ID] * (width - len(row)) for row in rows]

    def _strip_forced_prefix(self, sequences: list[list[int]]) -> list[list[int]]:
        forced = self._forced_prefix_rows
        if forced is None:
            raise ValueError("strip_prefix=True but the last processor call did not use prefix=True")
        if len(sequences) % len(forced):
            raise ValueError(
                f"{len(sequences)} sequences cannot belong to the {len(forced)} prefixed inputs of the last call "
                "(expected a multiple: num_beams/num_return_sequences rows per input); pass strip_prefix=False"
            )
        repeats = len(sequences) // len(forced)
        stripped = []
        for index, sequence in enumerate(sequences):
            row = forced[index // repeats]
            # generate() returns decoder_input_ids followed by new tokens; it prepends the start id only when
            # no row begins with it, so accept both layouts.
            for start in (row, [self.decoder_start_token_id, *row]):
                if sequence[: len(start)] == start:
                    stripped.append(sequence[len(start) :])
                    break
            else:
                raise ValueError(
                    f"sequence {index} does not start with the forced prefix {row} of the last processor call; "
                    "decode the generate() output of that call or pass strip_prefix=False"
                )
        return stripped

    def batch_decode(
        self,
        sequences: Any,
        skip_special_tokens: bool = True,
        strip_prefix: bool | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Decode generated decoder ids to text.

        strip_prefix None (default) strips when the last `__call__` used `prefix=True`, True requires that, False
        keeps everything. Stripping removes exactly the forced token positions (beam/num_return_sequences rows are
        matched to their input in order), then trims whitespace and upper-cases the first letter, as the paper's
        eval does for the prefix-less caption. Ids outside the tokenizer (padded vocab rows, -100) decode to "".
        """
        if strip_prefix is not None and not isinstance(strip_prefix, bool):
            raise ValueError(f"strip_prefix must be None, True or False, got {_quote(strip_prefix)}")
        sequences = _as_id_rows(sequences)
        strip = self._forced_prefix_rows is not None if strip_prefix is None else strip_prefix
        if strip:
            sequences = self._strip_forced_prefix(sequences)
        vocab_size = len(self.tokenizer)
        sequences = [[token for token in row if 0 <= token < vocab_size] for row in sequences]
        texts = self.tokenizer.batch_decode(sequences, skip_special_tokens=skip_special_tokens, **kwargs)
        if strip:
            texts = [text.strip() for text in texts]
            texts = [text[:1].upper() + text[1:] for text in texts]
        return texts

    def decode(self, token_ids: Any, skip_special_tokens: bool = True, strip_prefix: bool | None = None, **kwargs: Any):
        """`batch_decode` of a single sequence (prefix stripping needs a single-input last call)."""
        row = token_ids.tolist() if hasattr(token_ids, "tolist") else list(token_ids)
        return self.batch_decode([row], skip_special_tokens=skip_special_tokens, strip_prefix=strip_prefix, **kwargs)[0]


FlorenzProcessor.register_for_auto_class("AutoProcessor")

__all__ = [
    "CAPTION_TASKS",
    "LANGUAGES",
    "LANGUAGE_PREFIXES",
    "TASKS",
    "TASK_PROMPTS",
    "FlorenzProcessor",
    "add_language_prefix",
    "build_prompt",
    "florenz_image_processor",
    "strip_language_prefix",
]
