"""`florenz release`: the model, dataset and Space repos as folders laid out exactly as they go to the Hub, and the push.

Each repo folder is assembled next to its destination and swapped in, so a re-run rewrites it whole. The push creates
each repo (`exist_ok`, so re-running is harmless) and uploads its folder, model → dataset → Space; the Hub skips
files whose content it already has. Cards are rebuilt with the Hub repo ids, so the model card's usage snippet, its
`datasets:` and the Space's `models:`/`datasets:` point at each other.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
from huggingface_hub import DatasetCard, HfApi, SpaceCard, get_token

from dataset_builder.atomic import atomic_folder
from model_tools.model_card import card_metadata, rebuild_model_card, write_model_card

from .examples import write_examples

DEFAULT_NAMESPACE = "florenz"
DEFAULT_DATASET_REPO = "florenz-scenes"
DEFAULT_SPACE_REPO = "florenz-demo"
ROOT = Path(__file__).resolve().parent.parent
MODEL_REQUIRED = (
    "config.json",
    "model.safetensors",
    "generation_config.json",
    "processor_config.json",
    "configuration_florenz.py",
    "modeling_florenz.py",
    "processing_florenz.py",
)
MODEL_IGNORED = ("checkpoint-*", "training_args.bin", "runs", ".*")
DATASET_CARD_KEYS = ("configs", "language", "license", "task_categories", "size_categories", "pretty_name")
# What the Space's app.py imports besides the libraries: the model's constants and the evaluation's CE scoring.
SPACE_CODE = (
    "modeling_florenz/__init__.py",
    "modeling_florenz/configuration_florenz.py",
    "modeling_florenz/modeling_florenz.py",
    "modeling_florenz/processing_florenz.py",
    "trainers/__init__.py",
    "trainers/collator.py",
    "trainers/metrics.py",
)


@dataclass(frozen=True)
class RepoFolder:
    repo_type: str  # "model", "dataset" or "space"
    repo_id: str
    folder: Path


def _assemble(destination: Path, fill: Callable[[Path], None]) -> Path:
    """Build a folder with `fill(staging)` next to `destination`, then swap it in (the old one is removed)."""
    with atomic_folder(destination) as staging:
        fill(staging)
    return destination


def _size_category(rows: int) -> str:
    """The Hub's `size_categories` bucket for a row count."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return name
    return "1M<n<10M" if rows < 10_000_000 else "n>10M"


def _check_model(model: Path) -> None:
    missing = [name for name in MODEL_REQUIRED if not (model / name).exists()]
    if missing:
        raise FileNotFoundError(f"model folder {model} lacks {missing}; pass a folder written by save_pretrained")


def _check_dataset(dataset: Path) -> DatasetCard:
    if not (dataset / "README.md").exists() or not (dataset / "data").is_dir():
        raise FileNotFoundError(
            f"dataset folder {dataset} lacks README.md or data/; pass a `florenz data build` output"
        )
    from dataset_builder.release import check_release

    check_release(dataset)  # an unfinished or damaged release is never published
    return DatasetCard.load(dataset / "README.md")


def prepare_release(
    model: str | os.PathLike,
    dataset: str | os.PathLike,
    out: str | os.PathLike,
    namespace: str | None = None,
    space: bool = False,
    model_repo: str | None = None,
    dataset_repo: str | None = None,
    space_repo: str | None = None,
) -> list[RepoFolder]:
    """Write `out/model`, `out/dataset` (and `out/space`) as the repos `namespace/<name>` will hold them."""
    model, dataset, out = Path(model), Path(dataset), Path(out)
    _check_model(model)
    dataset_card = _check_dataset(dataset)
    namespace = namespace or DEFAULT_NAMESPACE
    preset = card_metadata(model).get("preset")
    model_id = f"{namespace}/{model_repo or (f'florenz-{preset}' if preset else model.name)}"
    dataset_id = f"{namespace}/{dataset_repo or DEFAULT_DATASET_REPO}"
    space_id = f"{namespace}/{space_repo or DEFAULT_SPACE_REPO}"
    card = rebuild_model_card(model, model_id, datasets=[dataset_id])

    def fill_model(staging: Path) -> None:
        shutil.copytree(model, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*MODEL_IGNORED))
        write_model_card(staging, card)

    def fill_dataset(staging: Path) -> None:
        shutil.copytree(dataset, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*"))
        if not dataset_card.data.size_categories:  # older releases: derive it from the parquet row counts
            rows = sum(pq.ParquetFile(path).metadata.num_rows for path in (staging / "data").rglob("*.parquet"))
            dataset_card.data.size_categories = [_size_category(rows)]
            dataset_card.save(staging / "README.md")
        data = DatasetCard.load(staging / "README.md").data
        missing = [key for key in DATASET_CARD_KEYS if not getattr(data, key, None)]
        if missing:
            raise ValueError(f"the dataset card of {dataset} lacks {missing} in its YAML; rebuild the release")

    def fill_space(staging: Path) -> None:
        shutil.copy2(ROOT / "spaces_demo" / "app.py", staging / "app.py")
        shutil.copy2(ROOT / "spaces_demo" / "requirements.txt", staging / "requirements.txt")
        for relative in SPACE_CODE:
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / relative, staging / relative)
        write_examples(staging / "examples")
        card = SpaceCard.load(ROOT / "spaces_demo" / "README.md")
        card.data.models = [model_id]
        card.data.datasets = [dataset_id]
        card.save(staging / "README.md")

    repos = [
        RepoFolder("model", model_id, _assemble(out / "model", fill_model)),
        RepoFolder("dataset", dataset_id, _assemble(out / "dataset", fill_dataset)),
    ]
    if space:
        repos.append(RepoFolder("space", space_id, _assemble(out / "space", fill_space)))
    return repos


def repo_files(folder: Path) -> list[tuple[str, int]]:
    """(path in the repo, size in bytes) of every file, sorted — what `upload_folder` sends."""
    return sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file())


def print_listing(repos: list[RepoFolder]) -> None:
    for repo in repos:
        files = repo_files(repo.folder)
        total = sum(size for _, size in files)
        print(f"{repo.repo_type} repo {repo.repo_id} ({repo.folder}): {len(files)} files, {total:,} bytes")
        for path, size in files:
            print(f"  {size:>12,}  {path}")


def check_hub_access(api: HfApi | None = None) -> str:
    """The Hub user name of the saved token; a clear error without a token or without network, before any work."""
    if not get_token():
        raise ValueError("no Hugging Face token: run `hf auth login` or set HF_TOKEN (nothing was written or pushed)")
    try:
        return (api or HfApi()).whoami()["name"]
    except Exception as err:
        message = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(f"cannot reach the Hugging Face Hub with this token ({message}); nothing was pushed") from err


def push_release(repos: list[RepoFolder], private: bool = False, api: HfApi | None = None) -> list[str]:
    """Create each repo (kept if it exists) and upload its folder, in the given order; returns the repo URLs."""
    api = api or HfApi()
    urls = []
    for repo in repos:
        url = api.create_repo(
            repo.repo_id,
            repo_type=repo.repo_type,
            private=private,
            exist_ok=True,
            space_sdk="gradio" if repo.repo_type == "space" else None,
        )
        api.upload_folder(
            repo_id=repo.repo_id,
            repo_type=repo.repo_type,
            folder_path=repo.folder,
            commit_message=f"florenz release: {repo.repo_type} files",
        )
        urls.append(str(url))
    return urls
