"""The transformers entry points on a saved tiny Florenz: `pipeline("image-text-to-text")` and "image-to-text" with
and without text, chat messages, free-text instructions in `processor(images, text)`; each test checks the prompt the
model saw and compares the pipeline's text with a direct processor → generate → decode of the same request."""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from transformers import AutoProcessor, pipeline

from model_tools.checkpoint_init import build_model_and_processor
from model_tools.model_card import build_model_card
from model_tools.model_folder import save_model_and_processor
from modeling_florenz.processing_florenz import LANGUAGE_PREFIXES, build_prompt, parse_instruction

GENERATE = {"max_new_tokens": 6, "min_new_tokens": 3, "num_beams": 1}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    torch.manual_seed(0)
    model, processor = build_model_and_processor("tiny-bart", seed=3)
    card = build_model_card(model_id="tiny", summary="tiny-bart for pipeline tests", preset="tiny-bart")
    return save_model_and_processor(model, processor, tmp_path_factory.mktemp("pipe") / "tiny", card)


@pytest.fixture(scope="module")
def pipe(folder):
    return pipeline("image-text-to-text", model=str(folder), trust_remote_code=True)


@pytest.fixture
def seen(pipe, monkeypatch):
    """Records the encoder prompt (decoded) and the forced decoder ids of every generate call the pipeline makes."""
    calls: list[dict] = []
    generate = pipe.model.generate

    def spy(**inputs):
        prompts = pipe.processor.encoder_tokenizer.batch_decode(inputs["input_ids"], skip_special_tokens=True)
        calls.append({"prompts": prompts, "decoder_input_ids": inputs.get("decoder_input_ids")})
        return generate(**inputs)

    monkeypatch.setattr(pipe.model, "generate", spy)
    return calls


@pytest.fixture(scope="module")
def image():
    return Image.new("RGB", (40, 30), (200, 30, 30))


def _direct(pipe, image, **processor_kwargs) -> str:
    """What the model generates for the same request without the pipeline (decoder text after any forced start)."""
    inputs = pipe.processor(images=image, return_tensors="pt", **processor_kwargs)
    ids = pipe.model.generate(**inputs, **GENERATE)
    (text,) = pipe.processor.post_process_image_text_to_text(ids)
    assert pipe.processor.post_process_image_text_to_text(ids[0]) == [text]  # a single 1-D sequence
    return text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Caption this image in French.", ("caption", "fr", None, None)),
        ("caption the picture", ("caption", None, None, None)),
        ("Describe this image in detail in German.", ("detailed_caption", "de", None, None)),
        ("Describe this image in a paragraph in Russian", ("more_detailed_caption", "ru", None, None)),
        ("Translate to German: A red circle.", ("translate", "de", "A red circle.", None)),
        ("Translate the following text into Chinese: Two stars.", ("translate", "zh", "Two stars.", None)),
        ("translate to es: Hola?", ("translate", "es", "Hola?", None)),
        ("<DETAILED_CAPTION>", ("detailed_caption", None, None, None)),
        ("", ("caption", None, None, None)),
        (build_prompt("translate", "ru", "A dog."), ("translate", "ru", "A dog.", None)),
        (build_prompt("more_detailed_caption", "zh"), ("more_detailed_caption", "zh", None, None)),
        ("Caption this image in Spanish.\nAnswer: La imagen muestra", ("caption", "es", None, "La imagen muestra")),
    ],
)
def test_parse_instruction(text, expected):
    assert parse_instruction(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("What is the colour of the square?", r"cannot read the instruction .*allowed: 'Caption this image in French"),
        ("Translate to German:", r"cannot read the instruction .*allowed: 'Caption this image in French"),
        ("Caption this image in Italian.", r"unknown language 'italian' .*allowed: en, de, fr, es, ru, zh"),
    ],
)
def test_parse_instruction_rejects_unknown_forms(text, message):
    with pytest.raises(ValueError, match=message):
        parse_instruction(text)


def test_processor_text_without_task_matches_the_explicit_call(folder, image):
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    free = processor(images=[image, image], text=["Caption this image in French.", "Translate to German: A cat."])
    explicit = processor(
        images=[image, image], task=["caption", "translate"], language=["fr", "de"], text=[None, "A cat."]
    )
    assert set(free) == set(explicit)
    for key in explicit:
        assert torch.equal(free[key], explicit[key]), key
    with pytest.raises(ValueError, match="asks for language 'fr' but language='de'"):
        processor(images=image, text="Caption this image in French.", language="de")
    with pytest.raises(ValueError, match="exactly one image per sample"):
        processor(images=[[image, image]], text="Caption this image.")


def test_chat_template_renders_the_florenz_prompt(folder, image):
    processor = AutoProcessor.from_pretrained(folder, trust_remote_code=True)
    assert (folder / "chat_template.jinja").is_file()
    structured = [
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "task", "task": "translate", "language": "zh", "source": "A cat."}],
        }
    ]
    rendered = processor.apply_chat_template(structured, tokenize=False, add_generation_prompt=True)
    assert rendered == build_prompt("translate", "zh", "A cat.")
    prefilled = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Caption this image in French."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "La photo montre"}]},
    ]
    rendered = processor.apply_chat_template(prefilled, tokenize=False, continue_final_message=True)
    assert rendered == "Caption this image in French.\nAnswer: La photo montre"
    with pytest.raises(Exception, match="user and assistant turns only"):
        processor.apply_chat_template([{"role": "system", "content": "Be brief."}, *prefilled], tokenize=False)


def test_pipeline_captions(pipe, seen, image):
    out = pipe(image, text="Caption this image in French.", return_full_text=False, generate_kwargs=GENERATE)
    assert seen[-1]["prompts"] == [build_prompt("caption", "fr")]
    assert seen[-1]["decoder_input_ids"] is None
    caption = out[0]["generated_text"]
    assert caption and caption == _direct(pipe, image, task="caption", language="fr")
    # the default returns the caption alone; return_full_text=True is the pipeline's "your text + the answer"
    default = pipe(image, text="Caption this image in French.", generate_kwargs=GENERATE)
    assert default == [{"input_text": "Caption this image in French.", "generated_text": caption}]
    full = pipe(image, text="Caption this image in French.", return_full_text=True, generate_kwargs=GENERATE)
    assert full[0]["generated_text"] == "Caption this image in French." + caption


def test_saved_config_registers_the_florenz_pipeline(folder, pipe):
    custom = json.loads((folder / "config.json").read_text())["custom_pipelines"]
    assert sorted(custom) == ["image-text-to-text", "image-to-text"]
    assert {entry["impl"] for entry in custom.values()} == {"pipeline_florenz.FlorenzImageTextToTextPipeline"}
    assert (folder / "pipeline_florenz.py").is_file()
    assert type(pipe).__name__ == "FlorenzImageTextToTextPipeline"


def test_pipeline_captions_an_image_without_text(pipe, seen, image):
    english = _direct(pipe, image, task="caption", language="en")
    out = pipe(image, generate_kwargs=GENERATE)
    assert seen[-1]["prompts"] == [build_prompt("caption", "en")]
    assert out == [{"input_text": "", "generated_text": english}]
    batch = pipe([image, image], generate_kwargs=GENERATE)
    assert seen[-1]["prompts"] == [build_prompt("caption", "en")] * 2
    assert [item["generated_text"] for item in batch] == [english, english]


def test_image_to_text_task_captions_an_image(folder, image):
    legacy = pipeline("image-to-text", model=str(folder), trust_remote_code=True)
    assert type(legacy).__name__ == "FlorenzImageTextToTextPipeline"
    english = _direct(legacy, image, task="caption", language="en")
    assert legacy(image, generate_kwargs=GENERATE)[0]["generated_text"] == english
    out = legacy(image, text="<CAPTION>", generate_kwargs=GENERATE)
    assert out[0]["generated_text"] == english


def test_pipeline_caption_with_prefix(pipe, seen, image):
    messages = [
        {"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "Caption in French"}]},
        {"role": "assistant", "content": LANGUAGE_PREFIXES["fr"]},
    ]
    out = pipe(text=messages, generate_kwargs=GENERATE)
    assert seen[-1]["prompts"] == [build_prompt("caption", "fr")]
    forced = seen[-1]["decoder_input_ids"][0].tolist()
    tokenizer = pipe.processor.tokenizer
    words = tokenizer(LANGUAGE_PREFIXES["fr"], add_special_tokens=False)["input_ids"]
    assert forced == [tokenizer.eos_token_id, tokenizer.bos_token_id, *words]
    answer = out[0]["generated_text"][-1]
    assert answer["role"] == "assistant"
    continuation = _direct(pipe, image, text=f"Caption in French\nAnswer: {LANGUAGE_PREFIXES['fr']}")
    assert continuation and answer["content"] == LANGUAGE_PREFIXES["fr"] + continuation
    # the keyword form: the language prefix of the named language
    out = pipe(
        image, text="Caption this image in French.", prefix=True, return_full_text=False, generate_kwargs=GENERATE
    )
    assert seen[-1]["decoder_input_ids"][0].tolist() == forced
    assert out[0]["generated_text"] == continuation


def test_pipeline_translates_without_echo(pipe, seen, image):
    source = "A red circle."
    direct = _direct(pipe, image, task="translate", language="de", text=source)
    out = pipe(image, text=f"Translate to German: {source}", generate_kwargs=GENERATE)  # default return_full_text
    assert seen[-1]["prompts"] == [build_prompt("translate", "de", source)]
    assert out[0]["generated_text"] == direct
    assert source not in out[0]["generated_text"]
    full = pipe(image, text=f"Translate to German: {source}", return_full_text=True, generate_kwargs=GENERATE)
    assert full[0]["generated_text"] == f"Translate to German: {source}" + direct
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "image", "image": image},
                {"type": "task", "task": "translate", "language": "de", "source": source},
            ],
        }
    ]
    chat = pipe(text=messages, generate_kwargs=GENERATE)
    assert seen[-1]["prompts"] == [build_prompt("translate", "de", source)]
    answer = chat[0]["generated_text"][-1]
    assert answer == {"role": "assistant", "content": direct}
    assert source not in answer["content"]
