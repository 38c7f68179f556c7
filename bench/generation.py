"""Generation speed on CPU: the KV cache, Florenz against the library's own decoder, bf16 against fp32, evaluation.

Usage: python bench/generation.py [--sections cache library bf16 eval] [--preset florenz-nano] [--repeats 1]

- cache: tokens/s with use_cache=True/False (64 new tokens, beam 4); target >= 5x from the cache.
- library: Florenz's per-token decoding time against transformers' `Gemma3ForCausalLM` holding the same decoder
  weights (same one-token decoder prompt, greedy and beam 4, batch 1 and 8, `--new-tokens` forced tokens). The
  Florenz encoder runs once before timing (its time is printed apart), so the ratio isolates what Florenz adds per
  token: the cross-attention. Target ratio <= 1.15.
- bf16: the same model in `dtype=torch.bfloat16` against fp32: decoding speed-up (greedy, batch 8) and the share of
  Scenes eval captions whose greedy output is unchanged.
- eval: evaluation throughput (captions/s) for Scenes eval rows through the processor + `generate` with the
  evaluation's settings (beam 4, 32 new tokens, batch 8), in fp32 and bf16.
Every timing is the best of `--repeats` runs after one untimed warm-up run.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from functools import partial

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from PIL import Image
from transformers.modeling_outputs import BaseModelOutput

from model_tools.checkpoint_init import build_model_and_processor

SECTIONS = ("cache", "library", "bf16", "eval")


def best_time(fn, repeats: int, clock=time.perf_counter) -> tuple[float, object]:
    """(best seconds of `clock` over `repeats` timed calls after a short warm-up call, last result).

    `fn` takes keyword overrides for `generate`; the warm-up generates 2 tokens only (it just pays one-off costs).
    """
    with torch.no_grad():
        result = fn(max_new_tokens=2, min_new_tokens=2)
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        with torch.no_grad():
            result = fn()
        best = min(best, clock() - start)
    return best, result


def cache_section(model, processor, args) -> None:
    image = Image.new("RGB", (224, 224), (200, 30, 30))
    inputs = processor(images=image, task="caption", language="fr", return_tensors="pt")
    speeds = {}
    for use_cache in (True, False):
        run = partial(
            model.generate,
            **inputs,
            max_new_tokens=args.new_tokens,
            min_new_tokens=args.new_tokens,
            num_beams=args.beams,
            do_sample=False,
            use_cache=use_cache,
        )

        seconds, out = best_time(run, args.repeats)
        speeds[use_cache] = (out.shape[1] - 1) / seconds
    print(
        f"[cache] {args.preset}: {args.new_tokens} new tokens, beam {args.beams}: cache {speeds[True]:.1f} tok/s, "
        f"no cache {speeds[False]:.1f} tok/s, ratio {speeds[True] / speeds[False]:.2f}x (target >= 5x)"
    )


def library_twin(model):
    """`Gemma3ForCausalLM` (or `Gemma2ForCausalLM`) holding exactly the Florenz decoder's Gemma weights."""
    from transformers import Gemma2ForCausalLM, Gemma3ForCausalLM

    kind = model.config.decoder_kind
    if kind == "bart":
        raise ValueError("the library comparison needs a Gemma decoder (florenz-nano, tiny-gemma2, tiny-gemma3)")
    causal_class = Gemma3ForCausalLM if kind == "gemma3_text" else Gemma2ForCausalLM
    twin = causal_class(model.config.text_config).eval()
    state = {
        key: value
        for key, value in model.get_decoder().state_dict().items()
        if "encoder_attn" not in key and "post_encoder_attention_layernorm" not in key
    }
    twin.model.load_state_dict(state, strict=True)
    twin.tie_weights()
    return twin.to(model.dtype)


def decoder_inputs(model, processor, batch: int):
    image = Image.new("RGB", (224, 224), (30, 120, 200))
    inputs = processor(images=[image] * batch, task=["caption"] * batch, language=["de"] * batch, return_tensors="pt")
    inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
    return inputs


def library_section(model, processor, args) -> None:
    twin = library_twin(model)
    start_id = model.config.decoder_start_token_id
    for beams, batch in args.library_configs:
        inputs = decoder_inputs(model, processor, batch)
        with torch.no_grad():
            start = time.perf_counter()
            encoder_outputs = model.get_encoder()(**inputs)
            encoder_seconds = time.perf_counter() - start
        common = {
            "max_new_tokens": args.new_tokens,
            "min_new_tokens": args.new_tokens,
            "num_beams": beams,
            "do_sample": False,
        }

        prompt = torch.full((batch, 1), start_id)

        def florenz(encoder_outputs=encoder_outputs, mask=inputs["attention_mask"], common=common, **overrides):
            # generate() expands the given encoder outputs for beams in place: hand it a fresh object every call
            fresh = BaseModelOutput(last_hidden_state=encoder_outputs.last_hidden_state)
            return model.generate(encoder_outputs=fresh, attention_mask=mask, **{**common, **overrides})

        library = partial(twin.generate, input_ids=prompt, attention_mask=torch.ones_like(prompt), **common)
        ours, _ = best_time(florenz, args.repeats, args.clock)
        theirs, _ = best_time(library, args.repeats, args.clock)
        ratio = ours / theirs
        print(
            f"[library] {args.preset} vs {type(twin).__name__}: beam {beams}, batch {batch}, "
            f"{args.new_tokens} tokens, {args.clock_name} time: Florenz {1000 * ours / args.new_tokens:.2f} "
            f"ms/token (+ encoder once {1000 * encoder_seconds:.0f} ms wall), library "
            f"{1000 * theirs / args.new_tokens:.2f} ms/token, ratio {ratio:.3f} "
            f"({'meets' if ratio <= 1.15 else 'misses'} target <= 1.15)",
            flush=True,
        )


def scenes_rows(count: int, image_size: int) -> list[dict]:
    """Scenes test-split caption rows, cycling over the caption languages."""
    from dataset_builder.corpus import ScenesConfig, eval_keys, make_row

    config = ScenesConfig(image_size=image_size)
    keys = [key for key in eval_keys(config, "test") if key.startswith("caption-")]
    return [make_row(config, "test", keys[i % len(keys)], i) for i in range(count)]


def caption_batches(model, processor, rows, batch: int, **generate_kwargs) -> list[str]:
    texts = []
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        inputs = processor(
            images=[row["image"] for row in chunk],
            task=[row["task"] for row in chunk],
            language=[row["language"] for row in chunk],
            return_tensors="pt",
        )
        inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
        with torch.no_grad():
            ids = model.generate(**inputs, do_sample=False, **generate_kwargs)
        texts.extend(processor.batch_decode(ids, skip_special_tokens=True))
    return texts


def bf16_section(model, processor, args) -> None:
    half = copy.deepcopy(model).to(torch.bfloat16)
    speeds = {}
    for name, candidate in (("fp32", model), ("bf16", half)):
        inputs = decoder_inputs(candidate, processor, 8)

        run = partial(
            candidate.generate,
            **inputs,
            max_new_tokens=args.new_tokens,
            min_new_tokens=args.new_tokens,
            num_beams=1,
            do_sample=False,
        )
        speeds[name], _ = best_time(run, args.repeats, args.clock)
    rows = scenes_rows(args.eval_rows, model.config.image_size or 224)
    fp32 = caption_batches(model, processor, rows, 8, num_beams=1, max_new_tokens=32)
    bf16 = caption_batches(half, processor, rows, 8, num_beams=1, max_new_tokens=32)
    same = sum(a == b for a, b in zip(fp32, bf16))
    print(
        f"[bf16] {args.preset}: greedy batch 8, {args.new_tokens} tokens, {args.clock_name} time: fp32 "
        f"{speeds['fp32']:.2f} s, bf16 "
        f"{speeds['bf16']:.2f} s, speed-up {speeds['fp32'] / speeds['bf16']:.2f}x; greedy Scenes eval captions "
        f"unchanged in bf16: {same}/{len(rows)} ({same / len(rows):.1%})"
    )
    return half


def eval_section(model, processor, args, half=None) -> None:
    rows = scenes_rows(args.eval_rows, model.config.image_size or 224)
    candidates = [("fp32", model)]
    if half is not None:
        candidates.append(("bf16", half))
    for name, candidate in candidates:
        caption_batches(candidate, processor, rows[:1], 8, num_beams=4, max_new_tokens=2)  # warm-up
        start = time.perf_counter()
        caption_batches(candidate, processor, rows, 8, num_beams=4, max_new_tokens=32)
        seconds = time.perf_counter() - start
        print(
            f"[eval] {args.preset} {name}: {len(rows)} Scenes eval captions (beam 4, 32 new tokens, batch 8) in "
            f"{seconds:.1f} s: {len(rows) / seconds:.2f} captions/s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--preset", default="florenz-nano")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--beams", type=int, default=4, help="beams of the cache section")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--eval-rows", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--library-configs",
        nargs="+",
        default=["1x1", "1x8", "4x1", "4x8"],
        help="BEAMSxBATCH pairs of the library section",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu = this process's CPU time (steadier than wall time on a shared machine; use with --threads 1)",
    )
    args = parser.parse_args()
    args.library_configs = [tuple(int(v) for v in pair.split("x")) for pair in args.library_configs]
    args.clock_name, args.clock = args.clock, (time.process_time if args.clock == "cpu" else time.perf_counter)
    torch.set_num_threads(args.threads)
    print(f"torch threads {torch.get_num_threads()}, os.cpu_count() {os.cpu_count()}")
    model, processor = build_model_and_processor(args.preset)
    model.eval()
    if "cache" in args.sections:
        cache_section(model, processor, args)
    if "library" in args.sections:
        library_section(model, processor, args)
    half = bf16_section(model, processor, args) if "bf16" in args.sections else None
    if "eval" in args.sections:
        eval_section(model, processor, args, half)


if __name__ == "__main__":
    main()
