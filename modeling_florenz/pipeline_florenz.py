"""The image-text-to-text pipeline of Florenz, registered in every saved config's `custom_pipelines`.

transformers' own pipeline fits chat LLMs, whose answer continues the prompt: for a plain-string prompt it returns
"prompt + answer" by default and it refuses an image without text. A Florenz answer is a caption or a translation, not a
continuation of the instruction, so this subclass returns only the model's text by default (a chat still comes back
as the conversation plus the assistant turn) and captions an image given without text.
"""

from __future__ import annotations

from typing import Any

from transformers.image_utils import is_valid_image
from transformers.pipelines.image_text_to_text import ImageTextToTextPipeline, ReturnType
from transformers.utils.chat_template_utils import Chat

# "image-to-text" is also registered, because transformers would otherwise alias it to its own image-text-to-text
# pipeline, which rejects image-only calls.
PIPELINE_TASKS = ("image-text-to-text", "image-to-text")


def custom_pipelines() -> dict[str, dict[str, Any]]:
    """The `custom_pipelines` entry of config.json: each task → this module's pipeline on the Auto class of the model."""
    entry = {
        "impl": f"{__name__.split('.')[-1]}.{FlorenzImageTextToTextPipeline.__name__}",
        "pt": ["AutoModelForImageTextToText"],
        "type": "multimodal",
    }
    return {task: dict(entry) for task in PIPELINE_TASKS}


def _is_image(value: Any) -> bool:
    """One image as the pipeline loads it: a PIL image, a path or URL, or an array/tensor image."""
    return isinstance(value, str) or is_valid_image(value)


class FlorenzImageTextToTextPipeline(ImageTextToTextPipeline):
    """`pipeline("image-text-to-text" | "image-to-text", model=…, trust_remote_code=True)` for Florenz.

    - `pipe(image)` / `pipe([image, …])` without text caption in English (the processor reads no instruction as a
      caption).
    - A plain-string instruction returns only the generated text unless `return_full_text=True` is passed (then the
      pipeline's usual "instruction + answer"). Chats keep the pipeline's default: the messages plus the answer turn.
    """

    def __call__(self, images: Any = None, text: Any = None, **kwargs: Any) -> Any:
        if text is None and images is not None:
            if _is_image(images):
                text = ""
            elif isinstance(images, (list, tuple)) and images and all(_is_image(image) for image in images):
                text = [""] * len(images)
        return super().__call__(images, text, **kwargs)

    def postprocess(self, model_outputs: dict[str, Any], return_type: ReturnType | None = None, **kwargs: Any):
        if return_type is None:
            chat = isinstance(model_outputs["prompt_text"], Chat)
            return_type = ReturnType.FULL_TEXT if chat else ReturnType.NEW_TEXT
        return super().postprocess(model_outputs, return_type=return_type, **kwargs)


__all__ = ["PIPELINE_TASKS", "FlorenzImageTextToTextPipeline", "custom_pipelines"]
