"""`florenz evaluate`: the paper's downstream protocol (Table 4) on Multi30K, CoMMuTE, XM3600 and COCO Karpathy.

One pass writes, under `--out`: `predictions.jsonl` (one line per generated text or per CoMMuTE item's perplexities,
appended batch by batch, so a killed run resumes from it), `results.json` (every number with its metric signature,
split, language, n) and `results.md` (the Table 4 layout, `downstream_table`).

Decoding follows the paper (beam 4, 128 new tokens, no sampling) with the KV cache on. XM3600 is decoded without and,
unless `prefix=False`, with the language prefix forced into the decoder: the zero-shot protocol for languages whose
captions were never trained (fr, es, ru, zh in the paper); the scored caption excludes the prefix words.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from dataset_builder.atomic import write_text_atomic
from dataset_builder.balancing import PRETRAIN_CAPTION_LANGUAGES
from dataset_builder.benchmarks import BENCHMARKS, coco_karpathy, commute, multi30k, xm3600
from modeling_florenz.processing_florenz import LANGUAGES

from .benchmark_metrics import (
    cider_d,
    cider_signature,
    comet_score,
    commute_accuracy,
    sacrebleu_scores,
)

PREDICTIONS = "predictions.jsonl"
SETTINGS = "eval_settings.json"
TABLE_SPLITS = {
    "test_2016_flickr": "2016",
    "test_2017_flickr": "2017",
    "test_2018_flickr": "2018",
    "test_2017_mscoco": "COCO",
}
MULTI30K_MEAN_SPLITS = ("test_2016_flickr", "test_2017_flickr", "test_2017_mscoco")  # 2018 is not in the paper's mean
SEEN_CAPTION_LANGUAGES = PRETRAIN_CAPTION_LANGUAGES
UNSEEN_CAPTION_LANGUAGES = tuple(lang for lang in LANGUAGES if lang not in SEEN_CAPTION_LANGUAGES)
DEFAULT_LANGUAGES = {
    "multi30k-translation": ("de", "fr"),
    "multi30k-caption": ("en", "de"),
    "commute": ("de", "fr", "ru", "zh"),
    "xm3600": tuple(LANGUAGES),
    "coco-karpathy": ("en",),
}


@dataclass(frozen=True)
class EvalTask:
    """One scored unit: a benchmark split in one language, decoded one way."""

    benchmark: str
    kind: str  # translation | caption | ambiguity
    split: str
    language: str
    prefix: bool = False

    @property
    def name(self) -> str:
        return f"{self.benchmark}/{self.kind}/{self.split}/{self.language}" + ("/prefix" if self.prefix else "")


def plan_tasks(
    data_root: str | Path,
    benchmarks: Sequence[str],
    splits: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    prefix: bool = True,
    copies: Mapping[str, str] | None = None,
) -> tuple[list[tuple[EvalTask, Callable[[], Any]]], list[str]]:
    """(task, dataset loader) pairs for what exists under `data_root`, and notes on what was left out and why.

    Without `splits`, every official test split whose files exist is planned; a named split must exist. Languages
    default to the paper's per benchmark. `copies` maps a benchmark to a parquet copy (local folder or cached Hub
    repo) with the loaders' columns, which replaces its files under `data_root`.
    """
    root = Path(data_root)
    unknown = [b for b in [*benchmarks, *(copies or {})] if b not in BENCHMARKS]
    if unknown:
        raise ValueError(f"unknown benchmark(s) {unknown}; allowed: {', '.join(BENCHMARKS)} or all")
    copy_tasks = [
        task for b in benchmarks if b in (copies or {}) for task in _copy_tasks(b, copies[b], splits, languages, prefix)
    ]
    benchmarks = [b for b in benchmarks if b not in (copies or {})]
    known_splits = set(multi30k.TASK1_TEST_SPLITS) | {"test_2016"} | set(coco_karpathy.SPLITS) | {"test"}
    bad = [s for s in splits or () if s not in known_splits]
    if bad:
        raise ValueError(f"unknown split(s) {bad}; allowed: {', '.join(sorted(known_splits))}")

    def langs(key: str) -> list[str]:
        defaults = DEFAULT_LANGUAGES[key]
        return [lang for lang in defaults if languages is None or lang in languages]

    tasks: list[tuple[EvalTask, Callable[[], Any]]] = []
    notes: list[str] = []
    if "multi30k" in benchmarks:
        present = multi30k.task1_available(root)
        chosen = [s for s in (splits or multi30k.TASK1_TEST_SPLITS) if s in multi30k.TASK1_TEST_SPLITS]
        for split in chosen:
            if split not in present:
                if splits:
                    raise ValueError(f"split {split!r} requested but {root}/multi30k/data/task1/image_splits lacks it")
                notes.append(f"multi30k task 1 {split}: no image list under {root}/multi30k, skipped")
                continue
            for lang in langs("multi30k-translation"):
                task = EvalTask("multi30k", "translation", split, lang)
                tasks.append((task, lambda s=split, lg=lang: multi30k.load_task1(root, s, lg)))
        if not splits or "test_2016" in splits:
            if "test_2016" in multi30k.task2_available(root):
                for lang in langs("multi30k-caption"):
                    task = EvalTask("multi30k", "caption", "test_2016", lang)
                    tasks.append((task, lambda lg=lang: multi30k.load_task2(root, "test_2016", lg)))
            else:
                notes.append(f"multi30k task 2 test_2016: no image list under {root}/multi30k, skipped")
    if "commute" in benchmarks:
        present = commute.available(root)
        if not present:
            raise ValueError(f"CoMMuTE requested but {root}/CoMMuTE/CoMMuTE has no en-<lang> folder")
        for lang in langs("commute"):
            if lang not in present:
                notes.append(f"commute en-{lang}: folder missing, skipped")
                continue
            for kind in ("translation", "ambiguity"):
                tasks.append((EvalTask("commute", kind, "test", lang), lambda lg=lang: commute.load_commute(root, lg)))
    if "xm3600" in benchmarks:
        present = xm3600.available(root)
        if not present:
            raise ValueError(f"XM3600 requested but {root}/xm3600/captions.jsonl is missing or empty")
        for lang in langs("xm3600"):
            if lang not in present:
                if languages:
                    raise ValueError(f"XM3600 language {lang!r} requested but captions.jsonl has only {present}")
                notes.append(f"xm3600 {lang}: no captions in captions.jsonl, skipped")
                continue
            for use_prefix in (False, True) if prefix else (False,):
                task = EvalTask("xm3600", "caption", "test", lang, prefix=use_prefix)
                tasks.append((task, lambda lg=lang: xm3600.load_xm3600(root, lg)))
    if "coco-karpathy" in benchmarks:
        for split in [s for s in (splits or ("test",)) if s in coco_karpathy.SPLITS]:
            tasks.append(
                (
                    EvalTask("coco-karpathy", "caption", split, "en"),
                    lambda s=split: coco_karpathy.load_coco_karpathy(root, s),
                )
            )
    tasks = copy_tasks + tasks
    if not tasks:
        raise ValueError(
            f"nothing to evaluate under {root} for {list(benchmarks)} (splits {splits}, languages {languages})"
        )
    return tasks, notes


def _copy_tasks(
    benchmark: str, source: str, splits: Sequence[str] | None, languages: Sequence[str] | None, prefix: bool
) -> list[tuple[EvalTask, Callable[[], Any]]]:
    """Tasks of a parquet copy: one per (task, split, language) it holds, CoMMuTE ambiguity where it has the pairs."""
    from dataset_builder.benchmarks.layout import load_parquet_copy

    required = ["id", "image", "task", "language", "split", "source", "references"]
    if benchmark == "commute":
        required += ["correct", "incorrect"]
    data = load_parquet_copy(source, required)
    combos = sorted(set(zip(data["task"], data["split"], data["language"])))
    tasks = []
    for task_name, split, language in combos:
        if (splits and split not in splits) or (languages and language not in languages):
            continue
        kind = "translation" if task_name == "translate" else "caption"
        load = lambda t=task_name, s=split, lg=language: data.filter(
            lambda a, b, c: (a, b, c) == (t, s, lg), input_columns=["task", "split", "language"]
        )
        kinds = [kind, "ambiguity"] if benchmark == "commute" else [kind]
        prefixes = (False, True) if benchmark == "xm3600" and prefix else (False,)
        tasks += [(EvalTask(benchmark, k, split, language, p), load) for k in kinds for p in prefixes]
    if not tasks:
        raise ValueError(f"parquet copy {source!r} has no rows for splits {splits} and languages {languages}")
    return tasks


def read_predictions(path: Path) -> dict[tuple[str, str], dict]:
    """{(task, id): record}; a half-written last line (a killed run) is ignored and later overwritten."""
    records: dict[tuple[str, str], dict] = {}
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        records[(record["task"], record["id"])] = record
    return records


class PredictionLog:
    """Append-only predictions file; truncates a torn final line before appending."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records = read_predictions(path)
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            valid = [line for line in lines if line.endswith("\n") and _is_json(line)]
            if len(valid) != len(lines):
                write_text_atomic(path, "".join(valid))

    def add(self, records: Iterable[dict]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                self.records[(record["task"], record["id"])] = record
            handle.flush()
            os.fsync(handle.fileno())


def _is_json(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


class BenchmarkRunner:
    """The model + processor, batched generation and perplexity scoring."""

    def __init__(self, model_dir: str | Path, batch_size: int, num_beams: int, max_new_tokens: int) -> None:
        from modeling_florenz.modeling_florenz import FlorenzForConditionalGeneration
        from modeling_florenz.processing_florenz import FlorenzProcessor

        model_dir = Path(model_dir)
        if not (model_dir / "config.json").is_file():
            raise ValueError(f"--model {model_dir} is not a saved Florenz model folder (no config.json)")
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = (
            FlorenzForConditionalGeneration.from_pretrained(model_dir, trust_remote_code=True).to(self.device).eval()
        )
        self.processor = FlorenzProcessor.from_pretrained(model_dir, trust_remote_code=True)
        self.batch_size = batch_size
        self.gen_kwargs = {"num_beams": num_beams, "max_new_tokens": max_new_tokens, "do_sample": False}

    @torch.no_grad()
    def generate(self, rows: dict[str, list], prefix: bool) -> list[str]:
        inputs = self.processor(
            images=rows["image"],
            task=rows["task"],
            language=rows["language"],
            text=[source or None for source in rows["source"]],
            prefix=prefix,
            return_tensors="pt",
        ).to(self.device)
        ids = self.model.generate(**inputs, **self.gen_kwargs, use_cache=True)
        return [text.strip() for text in self.processor.batch_decode(ids, skip_special_tokens=True)]

    @torch.no_grad()
    def perplexities(self, images: list, rows: dict[str, list], targets: list[str]) -> list[float]:
        """exp(mean token CE) of each target (incl. `<bos>`/`<eos>`) given its image and translation prompt."""
        from .metrics import per_sample_ce

        batch = self.processor(
            images=images,
            task="translate",
            language=rows["language"],
            text=rows["source"],
            text_target=targets,
            return_tensors="pt",
        ).to(self.device)
        logits = self.model(**batch).logits
        return torch.exp(per_sample_ce(logits.float(), batch["labels"])).tolist()


def _limit(dataset, limit: int | None):
    return dataset.select(range(min(limit, len(dataset)))) if limit else dataset


def _run_task(task: EvalTask, dataset, runner: BenchmarkRunner, log: PredictionLog) -> None:
    """Fill the predictions of `task` that the log does not have yet, batch by batch."""
    from tqdm.auto import tqdm

    ids = list(dataset["id"])
    todo = [i for i, item_id in enumerate(ids) if (task.name, item_id) not in log.records]
    if not todo:
        return
    n = len(dataset)
    shift = n // 2  # control images: another item's, never the item's own or its CoMMuTE pair partner's (n ≥ 4)
    with tqdm(total=n, initial=n - len(todo), desc=task.name, unit="item") as bar:
        for start in range(0, len(todo), runner.batch_size):
            positions = todo[start : start + runner.batch_size]
            rows = dataset.select(positions)[:]
            if task.kind == "ambiguity":
                scores = {
                    "ppl_correct": runner.perplexities(rows["image"], rows, rows["correct"]),
                    "ppl_incorrect": runner.perplexities(rows["image"], rows, rows["incorrect"]),
                }
                if n >= 4:
                    control = dataset.select([(p + shift) % n for p in positions])[:]["image"]
                    scores["ppl_correct_shuffled"] = runner.perplexities(control, rows, rows["correct"])
                    scores["ppl_incorrect_shuffled"] = runner.perplexities(control, rows, rows["incorrect"])
                records = [
                    {"task": task.name, "id": rows["id"][k], **{name: values[k] for name, values in scores.items()}}
                    for k in range(len(positions))
                ]
            else:
                texts = runner.generate(rows, prefix=task.prefix)
                records = [{"task": task.name, "id": item_id, "prediction": t} for item_id, t in zip(rows["id"], texts)]
            log.add(records)
            bar.update(len(positions))


def _score_task(task: EvalTask, dataset, log: PredictionLog, comet_checkpoint: str | None) -> list[dict]:
    """Result entries of one task from its logged predictions."""
    records = [log.records[(task.name, item_id)] for item_id in list(dataset["id"])]
    base = {**asdict(task), "task": task.name, "n": len(records)}
    if task.kind == "ambiguity":
        accuracy = commute_accuracy([r["ppl_correct"] for r in records], [r["ppl_incorrect"] for r in records])
        entries = [{**base, "metric": "accuracy", "value": accuracy.pop("score"), **accuracy}]
        if "ppl_correct_shuffled" in records[0]:
            control = commute_accuracy(
                [r["ppl_correct_shuffled"] for r in records], [r["ppl_incorrect_shuffled"] for r in records]
            )
            signature = control.pop("signature") + "|images:shifted-by-n/2"
            entries.append(
                {
                    **base,
                    "metric": "accuracy_shuffled",
                    "value": control.pop("score"),
                    **control,
                    "signature": signature,
                }
            )
        return entries
    hyps = [r["prediction"] for r in records]
    refs = list(dataset["references"])
    scores = sacrebleu_scores(hyps, refs, task.language)
    entries = [{**base, "metric": "bleu", "value": scores["bleu"]["score"], "signature": scores["bleu"]["signature"]}]
    if task.kind == "translation":
        entries.append(
            {**base, "metric": "chrf", "value": scores["chrf"]["score"], "signature": scores["chrf"]["signature"]}
        )
        if comet_checkpoint:
            comet = comet_score(list(dataset["source"]), hyps, [r[0] for r in refs], comet_checkpoint)
            entries.append({**base, "metric": "comet", "value": comet["score"], "signature": comet["signature"]})
    else:
        try:
            value = cider_d(hyps, refs, task.language)
        except ValueError as err:
            entries.append({**base, "metric": "cider", "value": None, "note": str(err)})
        else:
            entries.append({**base, "metric": "cider", "value": value, "signature": cider_signature(task.language)})
    return entries


def evaluate_benchmarks(
    model_dir: str | Path,
    data_root: str | Path,
    out: str | Path,
    benchmarks: Sequence[str] = BENCHMARKS,
    splits: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    prefix: bool = True,
    batch_size: int = 8,
    num_beams: int = 4,
    max_new_tokens: int = 128,
    limit: int | None = None,
    comet_checkpoint: str | None = None,
    copies: Mapping[str, str] | None = None,
) -> dict:
    """Evaluate (or resume evaluating) `model_dir` and write predictions.jsonl, results.json and results.md."""
    for name, value in (("batch_size", batch_size), ("num_beams", num_beams), ("max_new_tokens", max_new_tokens)):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    started = time.perf_counter()
    tasks, notes = plan_tasks(data_root, benchmarks, splits, languages, prefix, copies)
    # Every folder is validated (files, counts, images) before the model loads, not hours into the run.
    loaded = [(task, _limit(load(), limit)) for task, load in tasks]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {
        "model": str(Path(model_dir).resolve()),
        "num_beams": num_beams,
        "max_new_tokens": max_new_tokens,
        "limit": limit,
    }
    settings_path = out / SETTINGS
    if settings_path.exists():
        previous = json.loads(settings_path.read_text(encoding="utf-8"))
        if previous != settings:
            raise ValueError(
                f"{out} holds predictions made with other settings ({previous}); use a new --out or the same settings"
            )
    else:
        write_text_atomic(settings_path, json.dumps(settings, indent=2))
    if comet_checkpoint is None:
        notes.append("COMET not computed: pass --comet-checkpoint PATH/checkpoints/model.ckpt (e.g. wmt22-comet-da)")
    runner = BenchmarkRunner(model_dir, batch_size, num_beams, max_new_tokens)
    log = PredictionLog(out / PREDICTIONS)
    results: list[dict] = []
    for task, dataset in loaded:
        _run_task(task, dataset, runner, log)
        results.extend(_score_task(task, dataset, log, comet_checkpoint))
    if limit:
        notes.append(
            f"--limit {limit}: first {limit} items per task; CIDEr IDF and BLEU are not comparable to full sets"
        )
    payload = {
        "settings": {**settings, "batch_size": batch_size, "prefix": prefix, "device": str(runner.device)},
        "results": results,
        "notes": notes,
        "wall_seconds": time.perf_counter() - started,
    }
    write_text_atomic(out / "results.json", json.dumps(payload, indent=2, ensure_ascii=False))
    write_text_atomic(out / "results.md", downstream_table(payload))
    return payload


DOWNSTREAM = "downstream"  # the experiment's folder: benchmarks/ (the Scenes exports) and eval/ (florenz evaluate)


def evaluate_downstream(model_dir: str | Path, release: str | Path, out: str | Path, **kwargs: Any) -> dict:
    """The experiment's downstream stage: export `release`'s eval splits (once) into `out/benchmarks` and evaluate
    `model_dir` on all four benchmarks into `out/eval` (resumable); returns the results.json payload."""
    from dataset_builder.benchmarks.export import export_benchmarks

    out = Path(out)
    data_root = out / "benchmarks"
    if not (data_root / "export.json").is_file():
        export_benchmarks(release, data_root)
    return evaluate_benchmarks(model_dir, data_root, out / "eval", **kwargs)


# --- Table 4 ---------------------------------------------------------------------------------------------------------


def _lookup(results: Sequence[dict]) -> dict[tuple, dict]:
    return {(r["benchmark"], r["kind"], r["split"], r["language"], r["prefix"], r["metric"]): r for r in results}


def _fmt(entry: dict | None) -> str:
    if entry is None or entry.get("value") is None:
        return "—"
    return f"{entry['value']:.1f}"


def _mean(entries: Sequence[dict | None]) -> tuple[float | None, int]:
    values = [e["value"] for e in entries if e is not None and e.get("value") is not None]
    return (sum(values) / len(values), len(values)) if values else (None, 0)


def _mean_cell(entries: Sequence[dict | None]) -> str:
    value, count = _mean(entries)
    if value is None:
        return "—"
    return f"{value:.1f}" if count == len(entries) else f"{value:.1f}†"


def downstream_table(results: dict | Sequence[dict]) -> str:
    """Markdown tables in the paper's Table 4 layout from `results.json` (the dict or its `results` list).

    Missing numbers show as —; a mean marked † is over the sets present only. The experiment report can embed this.
    """
    entries = results["results"] if isinstance(results, dict) else list(results)
    get = _lookup(entries).get
    lines = ["# Downstream evaluation (paper Table 4 layout)", ""]
    m30k = [e for e in entries if e["benchmark"] == "multi30k" and e["kind"] == "translation"]
    if m30k:
        langs = [lang for lang in ("de", "fr", "cs") if any(e["language"] == lang for e in m30k)]
        lines += ["## Multi30K translation (en→X): sacreBLEU / chrF / COMET", ""]
        header = [TABLE_SPLITS[s] for s in TABLE_SPLITS] + ["mean 2016/2017/COCO"]
        lines += ["| metric | lang | " + " | ".join(header) + " |", "|---|---|" + "---|" * len(header)]
        for metric in ("bleu", "chrf", "comet"):
            for lang in langs:
                cells = [get(("multi30k", "translation", s, lang, False, metric)) for s in TABLE_SPLITS]
                if not any(cells):
                    continue
                mean = _mean_cell(
                    [get(("multi30k", "translation", s, lang, False, metric)) for s in MULTI30K_MEAN_SPLITS]
                )
                lines.append(f"| {metric} | {lang} | " + " | ".join(_fmt(c) for c in cells) + f" | {mean} |")
        lines.append("")
    com = [e for e in entries if e["benchmark"] == "commute"]
    if com:
        langs = [lang for lang in commute.LANGUAGES if any(e["language"] == lang for e in com)]
        lines += ["## CoMMuTE: translation and lexical disambiguation", ""]
        lines += [
            "| lang | BLEU | chrF | COMET | accuracy [95% CI] | shuffled-image accuracy | n |",
            "|---|---|---|---|---|---|---|",
        ]
        for lang in langs:
            acc = get(("commute", "ambiguity", "test", lang, False, "accuracy"))
            shuffled = get(("commute", "ambiguity", "test", lang, False, "accuracy_shuffled"))
            ci = f"{acc['value']:.1f} [{acc['ci_low']:.1f}, {acc['ci_high']:.1f}]" if acc else "—"
            cells = [get(("commute", "translation", "test", lang, False, m)) for m in ("bleu", "chrf", "comet")]
            n = acc["n"] if acc else (cells[0]["n"] if cells[0] else "—")
            lines.append(f"| {lang} | " + " | ".join(_fmt(c) for c in cells) + f" | {ci} | {_fmt(shuffled)} | {n} |")
        means = [
            _mean_cell([get(("commute", "translation", "test", lang, False, m)) for lang in langs])
            for m in ("bleu", "chrf", "comet")
        ]
        acc_mean = _mean_cell([get(("commute", "ambiguity", "test", lang, False, "accuracy")) for lang in langs])
        shuf_mean = _mean_cell(
            [get(("commute", "ambiguity", "test", lang, False, "accuracy_shuffled")) for lang in langs]
        )
        lines += ["| mean | " + " | ".join(means) + f" | {acc_mean} | {shuf_mean} | |", ""]
    caps = [
        (label, bench, split, lang)
        for label, bench, split, lang in (
            ("Multi30K test_2016 en", "multi30k", "test_2016", "en"),
            ("Multi30K test_2016 de", "multi30k", "test_2016", "de"),
            ("COCO Karpathy test en", "coco-karpathy", "test", "en"),
        )
        if get((bench, "caption", split, lang, False, "bleu"))
    ]
    if caps:
        lines += [
            "## Captioning: sacreBLEU (all references) / CIDEr-D",
            "",
            "| set | BLEU | CIDEr | n |",
            "|---|---|---|---|",
        ]
        for label, bench, split, lang in caps:
            bleu_entry = get((bench, "caption", split, lang, False, "bleu"))
            cider_entry = get((bench, "caption", split, lang, False, "cider"))
            lines.append(f"| {label} | {_fmt(bleu_entry)} | {_fmt(cider_entry)} | {bleu_entry['n']} |")
        lines.append("")
    xm = [e for e in entries if e["benchmark"] == "xm3600"]
    if xm:
        langs = [
            lang
            for lang in (*SEEN_CAPTION_LANGUAGES, *UNSEEN_CAPTION_LANGUAGES)
            if any(e["language"] == lang for e in xm)
        ]
        unseen = [lang for lang in UNSEEN_CAPTION_LANGUAGES if lang in langs]
        lines += [
            "## XM3600 CIDEr-D (supervised: en, de; zero-shot: fr, es, ru, zh)",
            "",
            "| decoding | " + " | ".join(langs) + " | zero-shot mean (fr, es, ru, zh) |",
            "|---|" + "---|" * (len(langs) + 1),
        ]
        for use_prefix in (False, True):
            cells = [get(("xm3600", "caption", "test", lang, use_prefix, "cider")) for lang in langs]
            if any(cells):
                mean = _mean_cell([get(("xm3600", "caption", "test", lang, use_prefix, "cider")) for lang in unseen])
                label = "with language prefix" if use_prefix else "no prefix"
                lines.append(f"| {label} | " + " | ".join(_fmt(c) for c in cells) + f" | {mean} |")
        lines.append("")
    signatures = sorted({e["signature"] for e in entries if e.get("signature")})
    if signatures:
        lines += ["Signatures:", ""] + [f"- `{s}`" for s in signatures] + [""]
    lines.append("— = not evaluated or not computable; † = mean over the sets present only.")
    if isinstance(results, dict):
        lines += [f"- {note}" for note in results.get("notes", [])]
    return "\n".join(lines) + "\n"
