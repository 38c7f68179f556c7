"""`florenz model …` sub-commands: inspect presets, write ready-to-load checkpoints, convert upstream weights."""

from __future__ import annotations

import argparse
import json


def _info(args: argparse.Namespace) -> int:
    from .parameter_count import count_parameters

    if args.preset in _scenes_presets():
        from trainers.scenes_model import DECODER_VOCAB, ENCODER_VOCAB
        from trainers.scenes_presets import SCENES_PRESETS, scenes_config

        preset = SCENES_PRESETS[args.preset]
        # Scenes tokenizers are trained per corpus: count with their target vocabularies (the Gemma-3 one for nano)
        text_vocab = None if preset["tokenizer"] == "gemma3" else DECODER_VOCAB
        counts = count_parameters(scenes_config(args.preset, ENCODER_VOCAB, text_vocab), preset["freeze_policy"])
    else:
        counts = count_parameters(_known_preset(args.preset))
    if args.json:
        print(json.dumps(counts))
    else:
        for name, value in counts.items():
            print(f"{name}: {value:,} ({value / 1e9:.3f}B)")
    return 0


def _florenz_presets() -> list[str]:
    from modeling_florenz.configuration_florenz import FLORENZ_PRESETS

    return sorted(FLORENZ_PRESETS)


def _scenes_presets() -> list[str]:
    from trainers.scenes_presets import SCENES_PRESETS

    return sorted(SCENES_PRESETS)


def _known_preset(name: str) -> str:
    if name not in _florenz_presets():
        raise ValueError(f"unknown preset {name!r}; allowed: {', '.join(_florenz_presets() + _scenes_presets())}")
    return name


class _InfoHelp(argparse.Action):
    """`florenz model info --help` lists the presets; reading them imports transformers, so only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.description = (
            "Total and trainable parameters of a preset, built on the meta device (no memory, no weights). "
            f"Model presets: {', '.join(_florenz_presets())}. Scenes sweep presets (trainable = their freeze "
            f"policy, vocabularies = the Scenes tokenizers' target sizes): {', '.join(_scenes_presets())}."
        )
        parser.print_help()
        parser.exit()


def _init(args: argparse.Namespace) -> int:
    from .checkpoint_init import init_checkpoint

    folder = init_checkpoint(args.preset, args.out, seed=args.seed, image_size=args.image_size)
    print(f"wrote {args.preset} to {folder}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from modeling_florenz.modeling_florenz import verify_checksums

    problems, unlisted = verify_checksums(args.folder)
    for name in unlisted:
        print(f"note: {name} is not covered by the checksums (written after the model was saved)")
    if problems:
        for problem in problems:
            print(f"damaged: {problem}")
        print(f"{args.folder}: {len(problems)} file(s) fail their recorded sha256/size")
        return 1
    print(f"{args.folder}: all recorded files match their sha256")
    return 0


def _convert_florence2(args: argparse.Namespace) -> int:
    from .convert_florence2 import convert_florence2

    folder, unmatched = convert_florence2(
        args.florence2,
        args.gemma_tokenizer,
        args.out,
        layout=args.layout,
        image_size=args.image_size,
        text_vocab_size=args.text_vocab_size,
        seed=args.seed,
    )
    print(f"wrote Florenz (BART decoder) to {folder}; {len(unmatched)} Gemma ids matched no BART piece")
    return 0


def _convert_gemma(args: argparse.Namespace) -> int:
    from .convert_gemma import GEMMA_DECODER_TYPES, convert_gemma_decoder

    gemma = args.gemma2 if args.decoder == "gemma2" else args.gemma3
    folder = convert_gemma_decoder(
        args.florence2, gemma, args.out, args.decoder, layout=args.layout, image_size=args.image_size, seed=args.seed
    )
    print(f"wrote Florenz ({GEMMA_DECODER_TYPES[args.decoder]} decoder) to {folder}")
    return 0


def _convert_caption_via_translation(args: argparse.Namespace) -> int:
    from .convert_caption_via_translation import convert_caption_via_translation

    folder = convert_caption_via_translation(
        args.checkpoint,
        args.out,
        encoder_tokenizer=args.encoder_tokenizer,
        decoder_tokenizer=args.decoder_tokenizer,
        image_size=args.image_size,
        dtype=args.dtype,
        source_name=args.source_name,
    )
    print(f"wrote Florenz to {folder}")
    return 0


def _register_convert(commands: argparse._SubParsersAction) -> None:
    convert = commands.add_parser("convert", help="build Florenz folders from local Florence-2 / Gemma checkpoints")
    sources = convert.add_subparsers(dest="convert_source", metavar="SOURCE", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--florence2", required=True, help="Florence-2 folder (config.json, safetensors, tokenizer)"
        )
        parser.add_argument("--out", required=True, help="output folder (created; must be empty if it exists)")
        parser.add_argument(
            "--layout",
            choices=("auto", "native", "original"),
            default="auto",
            help="Florence-2 key layout: transformers-native or Microsoft's original (default: detect)",
        )
        parser.add_argument("--image-size", type=int, default=768, help="processor image size (default: 768)")
        parser.add_argument("--seed", type=int, default=0, help="seed of the weights that are initialised, not copied")

    florence2 = sources.add_parser("florence2", help="Florence-2 → 0.4B/1.0B (BART decoder, Gemma vocabulary)")
    common(florence2)
    florence2.add_argument("--gemma-tokenizer", required=True, help="folder with the Gemma tokenizer")
    florence2.add_argument(
        "--text-vocab-size",
        type=int,
        default=None,
        help="decoder rows (default: tokenizer size + 1024, i.e. 257024 for Gemma-2)",
    )
    florence2.set_defaults(func=_convert_florence2)

    gemma2 = sources.add_parser("florence-gemma2", help="Florence-2 + Gemma-2 → 3.5B/11.2B (cross-attention)")
    common(gemma2)
    gemma2.add_argument(
        "--gemma2", required=True, help="Gemma-2 causal-LM folder (config.json, safetensors, tokenizer)"
    )
    gemma2.set_defaults(func=_convert_gemma, decoder="gemma2")

    nano = sources.add_parser("nano", help="Florence-2-shaped encoder + Gemma-3 text decoder → nano")
    common(nano)
    nano.add_argument(
        "--gemma3", required=True, help="Gemma-3 folder, .gguf file, or 'bundled' (the packaged 270M GGUF)"
    )
    nano.set_defaults(func=_convert_gemma, decoder="gemma3_text")

    authors = sources.add_parser(
        "caption-via-translation",
        help="the paper authors' released checkpoints (0.4B/1.0B/3.5B/11.2B, base and -ft) → Florenz",
        description=(
            "Convert a checkpoint folder released by the paper's authors (Spravil/caption-via-translation-*, in the "
            "layout of their remote code: config.json with model_type 'florence2' and a text_config that has either "
            "use_encoder_tokenizer (BART decoder) or a gemma_config (Gemma-2 decoder)) into a Hub-native Florenz "
            "folder with weights, config, both tokenizers, processor, generation config and a model card. Weights "
            "may be model.safetensors, sharded safetensors (model.safetensors.index.json), pytorch_model.bin or "
            "sharded .bin files (read with weights_only=True). Missing or unexpected tensors are an error."
        ),
    )
    authors.add_argument("--checkpoint", required=True, help="the authors' checkpoint folder (config.json + weights)")
    authors.add_argument("--out", required=True, help="output folder (created; must be empty if it exists)")
    authors.add_argument(
        "--encoder-tokenizer",
        required=True,
        help="folder with the Florence-2 tokenizer the prompts use (e.g. a local copy of microsoft/Florence-2-large)",
    )
    authors.add_argument(
        "--decoder-tokenizer",
        required=True,
        help="folder with the Gemma-2 tokenizer of the targets (e.g. a local copy of google/gemma-2-2b)",
    )
    authors.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="processor image size (default: the checkpoint's preprocessor_config.json, else 768; the base "
        "checkpoints were trained at 224, the -ft ones at 768)",
    )
    authors.add_argument(
        "--dtype",
        choices=("auto", "float32", "bfloat16", "float16"),
        default="auto",
        help="dtype of the written weights (default auto: the source's)",
    )
    authors.add_argument("--source-name", default=None, help="source named in the model card (default: folder name)")
    authors.set_defaults(func=_convert_caption_via_translation)


def register(subparsers: argparse._SubParsersAction) -> None:
    model = subparsers.add_parser("model", help="inspect, initialise and convert Florenz models")
    commands = model.add_subparsers(dest="model_command", metavar="MODEL_COMMAND", required=True)

    info = commands.add_parser("info", help="parameter counts of a preset (built on the meta device)", add_help=False)
    info.add_argument("-h", "--help", action=_InfoHelp, help="list the presets and exit")
    info.add_argument("preset", help="a model or Scenes preset (listed above)")
    info.add_argument("--json", action="store_true", help="print {total_params, trainable_params} as JSON")
    info.set_defaults(func=_info)

    init = commands.add_parser("init", help="write a complete model + processor folder for a preset")
    init.add_argument("preset")
    init.add_argument("--out", required=True, help="output folder (created; must be empty if it exists)")
    init.add_argument("--seed", type=int, default=0, help="seed of the random initialisation")
    init.add_argument("--image-size", type=int, default=None, help="processor image size (default: preset's)")
    init.set_defaults(func=_init)

    verify = commands.add_parser(
        "verify", help="check a saved model folder's files against the sha256 recorded at save time"
    )
    verify.add_argument("folder", help="folder written by `florenz model init/convert` or `save_pretrained`")
    verify.set_defaults(func=_verify)

    _register_convert(commands)
