"""Florenz demo: captions in six languages (with and without the language prefix), translation, disambiguation.

The model is loaded as a Hub user loads it (`AutoModelForImageTextToText` / `AutoProcessor`, `trust_remote_code`),
from `florenz demo --model DIR`, else `$FLORENZ_MODEL` (a folder or Hub repo id), else the quick experiment's exported
best model (`runs/quick/best-model`), else the model repo named in this Space's README. There is no fallback to random
weights: without a model the page says which command makes one.

Run it on the Hub as a Space (`app.py` at the repo root with `examples/` beside it) or locally with `florenz demo`.
"""

from __future__ import annotations

import copy
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import PIL.Image
import torch
from huggingface_hub import ModelCard, metadata_load

from modeling_florenz.processing_florenz import CAPTION_TASKS, LANGUAGES
from trainers.collator import FlorenzDataCollator
from trainers.metrics import per_sample_ce

MODEL_ENV = "FLORENZ_MODEL"
DEFAULT_MODEL = "runs/quick/best-model"
HERE = Path(__file__).resolve().parent
CONCURRENCY_LIMIT = 2  # a free CPU Space has 2 vCPUs
QUEUE_SIZE = 128
MAX_BEAMS = 8
MAX_NEW_TOKENS = 128
MAKE_A_MODEL = (
    "Make one with `florenz experiment --preset quick --out runs/quick` (trains and exports "
    "runs/quick/best-model), or start on any model folder with `florenz demo --model DIR` "
    "(e.g. `florenz model init tiny-bart --out models/tiny`, random weights)."
)
LANGUAGE_CHOICES = [(f"{name} ({code})", code) for code, name in LANGUAGES.items()]
TASK_CHOICES = [(task.replace("_", " "), task) for task in CAPTION_TASKS]


class ModelNotFoundError(ValueError):
    """No usable model at any of the places the demo looks."""


def model_candidates(model: str | None = None) -> list[str]:
    """Where the demo looks for a model, in order: the argument, `$FLORENZ_MODEL`, the quick run, and on a Space
    (where the Hub sets `SPACE_ID`) the model repo its card names."""
    chosen = model or os.environ.get(MODEL_ENV)
    if chosen:
        return [chosen]
    candidates = [DEFAULT_MODEL]
    space_card = HERE / "README.md"
    if os.environ.get("SPACE_ID") and space_card.exists():
        candidates += list(metadata_load(space_card).get("models") or [])
    return candidates


def _card_info(source: str) -> dict[str, Any]:
    """The `florenz:` block of the model card (training coverage), {} when the card is missing or unreadable."""
    try:
        card = ModelCard.load(Path(source) / "README.md" if Path(source).is_dir() else source)
    except Exception:  # noqa: BLE001 -- a card is optional for the demo; the Hub may be unreachable
        return {}
    return dict(card.data.to_dict().get("florenz") or {})


@dataclass
class FlorenzDemo:
    """A loaded model with the inference behind each tab; bad input raises `gr.Error` with a one-line message."""

    model: Any
    processor: Any
    source: str
    caption_languages: tuple[str, ...] | None  # None: the model folder does not say

    @classmethod
    def load(cls, model: str | None = None) -> FlorenzDemo:
        from transformers import AutoModelForImageTextToText, AutoProcessor

        problems = []
        for source in model_candidates(model):
            if Path(source).exists() and not (Path(source) / "config.json").exists():
                problems.append(f"{source} has no config.json")
                continue
            if not Path(source).exists() and source.count("/") != 1:
                problems.append(f"{source} does not exist")
                continue
            try:
                loaded = AutoModelForImageTextToText.from_pretrained(source, trust_remote_code=True).eval()
                processor = AutoProcessor.from_pretrained(source, trust_remote_code=True)
            except (OSError, ValueError) as err:
                problems.append(f"{source}: {str(err).splitlines()[0]}")
                continue
            seen = _card_info(source).get("caption_languages")
            return cls(loaded, processor, source, None if seen is None else tuple(seen))
        raise ModelNotFoundError(f"no Florenz model found ({'; '.join(problems)}). {MAKE_A_MODEL}")

    # --- input checks ------------------------------------------------------------------------------------------------

    @staticmethod
    def _image(image: Any, what: str = "an image") -> PIL.Image.Image:
        if isinstance(image, dict):  # an uploaded file as the event sends it (events skip gradio's preprocessing)
            image = image.get("path")
        if image is None or (isinstance(image, str) and not image):
            raise gr.Error(f"Upload {what} first (PNG, JPEG, WebP…).", print_exception=False)
        if isinstance(image, PIL.Image.Image):
            return image.convert("RGB")
        try:
            with PIL.Image.open(image) as opened:
                return opened.convert("RGB")
        except (OSError, ValueError) as err:
            raise gr.Error(
                f"Could not read {Path(str(image)).name} as an image ({type(err).__name__}); upload a PNG, JPEG or "
                "WebP file.",
                print_exception=False,
            ) from err

    @staticmethod
    def _language(language: str) -> str:
        if language not in LANGUAGES:
            allowed = ", ".join(LANGUAGES)
            raise gr.Error(f"Language {language!r} is not supported; choose one of {allowed}.", print_exception=False)
        return language

    @staticmethod
    def _text(text: str | None, what: str) -> str:
        text = (text or "").strip()
        if not text:
            raise gr.Error(f"Enter {what}; the field is empty.", print_exception=False)
        return text

    @staticmethod
    def _generation(num_beams: Any, max_new_tokens: Any) -> dict[str, int]:
        try:
            beams, tokens = int(num_beams), int(max_new_tokens)
        except (TypeError, ValueError) as err:
            raise gr.Error("Beams and max new tokens must be whole numbers.", print_exception=False) from err
        if not (1 <= beams <= MAX_BEAMS and 1 <= tokens <= MAX_NEW_TOKENS):
            raise gr.Error(
                f"Beams must be 1–{MAX_BEAMS} and max new tokens 1–{MAX_NEW_TOKENS}, got {beams} and {tokens}.",
                print_exception=False,
            )
        return {"num_beams": beams, "max_new_tokens": tokens}

    # --- inference ---------------------------------------------------------------------------------------------------

    @torch.no_grad()
    def _generate(self, image: PIL.Image.Image, generation: dict[str, int], **call: Any) -> list[str]:
        # The processor remembers the prefix of its last call for batch_decode: one shallow copy per request keeps
        # concurrent requests from stripping each other's prefixes.
        processor = copy.copy(self.processor)
        inputs = processor(images=[image] * len(call["language"]), return_tensors="pt", **call)
        ids = self.model.generate(**inputs, **generation)
        return processor.batch_decode(ids, skip_special_tokens=True)

    def caption(
        self, image: Any, task: str, language: str, prefix: bool, num_beams: int = 3, max_new_tokens: int = 32
    ) -> str:
        """One caption of `task` in `language`; `prefix` forces the language prefix into the decoder."""
        picture, generation = self._image(image), self._generation(num_beams, max_new_tokens)
        if task not in CAPTION_TASKS:
            raise gr.Error(f"Task {task!r} is not a caption task; choose one of {', '.join(CAPTION_TASKS)}.")
        language = self._language(language)
        return self._generate(picture, generation, task=task, language=[language], prefix=bool(prefix))[0]

    def caption_all_languages(
        self, image: Any, task: str = "caption", num_beams: int = 3, max_new_tokens: int = 32
    ) -> list[list[str]]:
        """Rows of (language, captions seen in training?, caption without prefix, caption with prefix)."""
        picture, generation = self._image(image), self._generation(num_beams, max_new_tokens)
        if task not in CAPTION_TASKS:
            raise gr.Error(f"Task {task!r} is not a caption task; choose one of {', '.join(CAPTION_TASKS)}.")
        codes = list(LANGUAGES)
        plain = self._generate(picture, generation, task=task, language=codes, prefix=False)
        # One call per language: prefixes differ in length, and the BART decoder takes no left-padded prefixes.
        prefixed = [self._generate(picture, generation, task=task, language=[c], prefix=True)[0] for c in codes]
        seen = self.caption_languages
        return [
            [
                f"{LANGUAGES[code]} ({code})",
                "unknown" if seen is None else ("yes" if code in seen else "no — translation only"),
                without,
                with_prefix,
            ]
            for code, without, with_prefix in zip(codes, plain, prefixed)
        ]

    def translate(self, image: Any, text: str, language: str, num_beams: int = 3, max_new_tokens: int = 32) -> str:
        """The English `text` translated into `language`, with the image as context."""
        picture, generation = self._image(image), self._generation(num_beams, max_new_tokens)
        source = self._text(text, "an English sentence to translate")
        language = self._language(language)
        return self._generate(picture, generation, task="translate", language=[language], text=[source])[0]

    @torch.no_grad()
    def candidate_scores(self, image: PIL.Image.Image, sentence: str, language: str, candidates: list[str]):
        """Per-candidate mean token cross-entropy (nats/token, length-normalised) of each translation given the image
        and the English sentence: the collator and `per_sample_ce` of the evaluation's Scenes-CoMMuTE scoring."""
        rows = [
            {"image": image, "task": "translate", "language": language, "source": sentence, "target": candidate}
            for candidate in candidates
        ]
        batch = FlorenzDataCollator(copy.copy(self.processor))(rows)
        return per_sample_ce(self.model(**batch).logits, batch["labels"]).tolist()

    def disambiguate(
        self,
        image: Any,
        sentence: str,
        language: str,
        candidate_a: str,
        candidate_b: str,
        second_image: Any = None,
    ) -> tuple[str, list[list[Any]]]:
        """Which candidate translation the model prefers for the image (lower per-token CE), with the scores; with a
        second image, whether the preference flips between the two pictures."""
        picture = self._image(image)
        sentence = self._text(sentence, "the English sentence")
        language = self._language(language)
        candidates = [self._text(candidate_a, "candidate A"), self._text(candidate_b, "candidate B")]
        if candidates[0] == candidates[1]:
            raise gr.Error("The two candidates are identical; enter two different translations.")
        pictures = [("image 1", picture)]
        if second_image not in (None, ""):
            pictures.append(("image 2", self._image(second_image, "the second image")))
        table, verdicts = [], []
        for label, pic in pictures:
            scores = self.candidate_scores(pic, sentence, language, candidates)
            best = min(range(2), key=scores.__getitem__)
            verdicts.append(best)
            for index, (candidate, score) in enumerate(zip(candidates, scores)):
                table.append([label, "AB"[index], candidate, round(score, 4), round(math.exp(score), 3)])
            table[-2 + best][1] += " ✓"
        lines = [f"With image 1 the model prefers **{'AB'[verdicts[0]]}**: {candidates[verdicts[0]]}"]
        if len(verdicts) == 2:
            if verdicts[0] != verdicts[1]:
                lines.append(
                    f"With image 2 it prefers **{'AB'[verdicts[1]]}**: the two images flip the choice, so the "
                    "model reads the answer from the picture."
                )
            else:
                lines.append("With image 2 it prefers the same candidate: the picture did not change the choice.")
        return "\n\n".join(lines), table


def _image_input(label: str = "Image", elem_id: str | None = None) -> gr.Image:
    """An upload field. Events take its raw payload (`preprocess=False`) so that an unreadable file gets the demo's
    one-line message instead of a failed preprocessing step; uploads still go through gradio's cache checks."""
    return gr.Image(
        label=label, type="filepath", image_mode=None, sources=["upload", "clipboard"], height=256, elem_id=elem_id
    )


def _generation_controls() -> tuple[gr.Slider, gr.Slider]:
    return (
        gr.Slider(1, MAX_BEAMS, value=3, step=1, label="Beams"),
        gr.Slider(1, MAX_NEW_TOKENS, value=32, step=1, label="Max new tokens"),
    )


def examples_folder() -> Path:
    """The Space's shipped `examples/`, else a fresh rendering from Florenz-Scenes (local runs)."""
    shipped = HERE / "examples"
    if (shipped / "examples.json").exists():
        return shipped
    from spaces_demo.examples import write_examples

    return write_examples(tempfile.mkdtemp(prefix="florenz-examples-"))


def build_app(demo: FlorenzDemo | None, examples: Path | None = None, problem: str = "") -> gr.Blocks:
    """The Blocks app around `demo`; with `demo=None` a page that explains how to get a model."""
    with gr.Blocks(title="Florenz") as app:
        gr.Markdown(
            "# Florenz\nA multilingual vision-language model that learned to caption only in some languages and to "
            "translate into the others. Does captioning carry over to the languages it only translated into? "
            "Compare captions with and without the **language prefix**."
        )
        if demo is None:
            gr.Markdown(f"**No model is loaded.** {problem}")
            return app
        spec = json.loads((examples / "examples.json").read_text(encoding="utf-8")) if examples else {}

        def path(name: str) -> str:
            return str(examples / name)

        seen = "not recorded in the model card"
        if demo.caption_languages is not None:
            seen = ", ".join(demo.caption_languages) or "none (untrained weights)"
        gr.Markdown(f"Model: `{demo.source}` · captions seen in training: {seen}")
        with gr.Tab("Caption"):
            with gr.Row():
                with gr.Column():
                    image = _image_input(elem_id="caption-image")
                    task = gr.Radio(TASK_CHOICES, value="caption", label="Task")
                    language = gr.Radio(LANGUAGE_CHOICES, value="en", label="Language", elem_id="caption-language")
                    prefix = gr.Checkbox(value=False, label="Language prefix", elem_id="caption-prefix")
                    beams, tokens = _generation_controls()
                with gr.Column():
                    caption_button = gr.Button("Caption", variant="primary", elem_id="caption-button")
                    caption = gr.Textbox(label="Caption", elem_id="caption-output", interactive=False)
                    all_button = gr.Button("Caption in all six languages", elem_id="caption-all-button")
                    table = gr.Dataframe(
                        headers=["language", "captions seen in training", "without prefix", "with prefix"],
                        label="All languages",
                        interactive=False,
                        wrap=True,
                    )
            if spec.get("caption"):
                gr.Examples([[path(e["image"]), e["language"]] for e in spec["caption"]], inputs=[image, language])
            caption_button.click(
                demo.caption,
                [image, task, language, prefix, beams, tokens],
                caption,
                api_name="caption",
                preprocess=False,
            )
            all_button.click(
                demo.caption_all_languages,
                [image, task, beams, tokens],
                table,
                api_name="caption_all_languages",
                preprocess=False,
            )
        with gr.Tab("Translate"):
            with gr.Row():
                with gr.Column():
                    t_image = _image_input(elem_id="translate-image")
                    text = gr.Textbox(label="English text", elem_id="translate-text")
                    t_language = gr.Radio(
                        LANGUAGE_CHOICES, value="de", label="Target language", elem_id="translate-language"
                    )
                    t_beams, t_tokens = _generation_controls()
                with gr.Column():
                    translate_button = gr.Button("Translate", variant="primary", elem_id="translate-button")
                    translation = gr.Textbox(label="Translation", elem_id="translate-output", interactive=False)
            if spec.get("translate"):
                gr.Examples(
                    [[path(e["image"]), e["text"], e["language"]] for e in spec["translate"]],
                    inputs=[t_image, text, t_language],
                )
            translate_button.click(
                demo.translate,
                [t_image, text, t_language, t_beams, t_tokens],
                translation,
                api_name="translate",
                preprocess=False,
            )
        with gr.Tab("Disambiguate"):
            gr.Markdown(
                "An English sentence such as *It is red.* has a gendered translation that depends on the pictured "
                "object. Each candidate is scored by its mean cross-entropy per token (lower is preferred; "
                "perplexity = exp of it). Add a second image to see whether the choice flips."
            )
            with gr.Row():
                d_image = _image_input("Image 1")
                d_second = _image_input("Image 2 (optional)")
            with gr.Row():
                sentence = gr.Textbox(label="English sentence")
                d_language = gr.Radio(LANGUAGE_CHOICES, value="fr", label="Language of the candidates")
            with gr.Row():
                candidate_a = gr.Textbox(label="Candidate A")
                candidate_b = gr.Textbox(label="Candidate B")
            d_button = gr.Button("Score the candidates", variant="primary")
            verdict = gr.Markdown()
            scores = gr.Dataframe(
                headers=["image", "candidate", "translation", "CE (nats/token)", "perplexity"],
                label="Scores",
                interactive=False,
            )
            if spec.get("disambiguate"):
                gr.Examples(
                    [
                        [path(e["image"]), e["sentence"], e["language"], e["candidate_a"], e["candidate_b"]]
                        + [path(e["second_image"])]
                        for e in spec["disambiguate"]
                    ],
                    inputs=[d_image, sentence, d_language, candidate_a, candidate_b, d_second],
                )
            d_button.click(
                demo.disambiguate,
                [d_image, sentence, d_language, candidate_a, candidate_b, d_second],
                [verdict, scores],
                api_name="disambiguate",
                preprocess=False,
            )
    app.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return app


def create_app(model: str | None = None) -> tuple[gr.Blocks, Path | None]:
    """(app, examples folder) for the first model found; the explanatory page when there is none."""
    try:
        demo = FlorenzDemo.load(model)
    except ModelNotFoundError as err:
        return build_app(None, problem=str(err)), None
    examples = examples_folder()
    return build_app(demo, examples), examples


if __name__ == "__main__":
    app, examples = create_app()
    app.launch(allowed_paths=[str(examples)] if examples else None)
