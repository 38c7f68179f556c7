"""Generation speed with and without the KV cache (64 new tokens, beam 4, CPU): target ≥ 5× from the cache.

Usage: python bench/generation.py [--presets tiny-gemma2 florenz-nano] [--new-tokens 64] [--beams 4] [--repeats 2]
Prints tokens/s for use_cache=True/False and their ratio per preset. Generation runs with min_new_tokens so that
both variants produce exactly the same number of tokens.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from PIL import Image

from model_tools.checkpoint_init import build_model_and_processor


def tokens_per_second(model, inputs, new_tokens: int, beams: int, use_cache: bool, repeats: int) -> float:
    best = float("inf")
    for attempt in range(repeats + 1):  # the first call warms up and is not timed
        start = time.perf_counter()
        with torch.no_grad():
            out = model.generate(
                **inputs,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                num_beams=beams,
                do_sample=False,
                use_cache=use_cache,
            )
        if attempt:
            best = min(best, time.perf_counter() - start)
    generated = out.shape[1] - 1  # minus the decoder start token
    return generated * inputs["pixel_values"].shape[0] / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["tiny-gemma2", "florenz-nano"])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--beams", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    image = Image.new("RGB", (224, 224), (200, 30, 30))
    for preset in args.presets:
        model, processor = build_model_and_processor(preset)
        model.eval()
        inputs = processor(images=image, task="caption", language="fr", return_tensors="pt")
        cached = tokens_per_second(model, inputs, args.new_tokens, args.beams, True, args.repeats)
        uncached = tokens_per_second(model, inputs, args.new_tokens, args.beams, False, args.repeats)
        print(
            f"{preset}: {args.new_tokens} new tokens, beam {args.beams}: "
            f"cache {cached:.1f} tok/s, no cache {uncached:.1f} tok/s, ratio {cached / uncached:.2f}x (target >= 5x)"
        )


if __name__ == "__main__":
    main()
