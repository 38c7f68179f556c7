"""`florenz release`: repo folders as the Hub will hold them, cards checked with huggingface_hub's parsers, and the
push against a mocked `HfApi` (exact calls and file lists, no network)."""

from __future__ import annotations

import ast
import re
import shutil
from unittest import mock

import gradio
import pytest
from huggingface_hub import CommitInfo, DatasetCard, HfApi, ModelCard, RepoUrl, metadata_load

import florenz_cli

PROJECT_PACKAGES = {"modeling_florenz", "trainers", "spaces_demo", "dataset_builder", "model_tools"}


@pytest.fixture(scope="module")
def scenes_release(tmp_path_factory):
    from dataset_builder.corpus import ScenesConfig
    from dataset_builder.release import build_scenes_release

    out = tmp_path_factory.mktemp("release-data") / "scenes"
    build_scenes_release(out, ScenesConfig(image_size=32), num_train=22, num_eval=2)
    return out


def _release(tiny_model_dir, scenes_release, out, *extra):
    argv = ["release", "--model", str(tiny_model_dir), "--dataset", str(scenes_release), "--out", str(out), *extra]
    return florenz_cli.main(argv)


def test_dry_run_writes_and_lists_three_repos(tiny_model_dir, scenes_release, tmp_path, capsys):
    from spaces_demo.hub_release import repo_files

    assert _release(tiny_model_dir, scenes_release, tmp_path / "hub", "--space", "--dry-run") == 0
    printed = capsys.readouterr().out
    for repo_type, repo_id in (("model", "florenz/florenz-tiny-bart"), ("dataset", "florenz/florenz-scenes"),
                               ("space", "florenz/florenz-demo")):  # fmt: skip
        folder = tmp_path / "hub" / repo_type
        files = repo_files(folder)
        assert (
            f"{repo_type} repo {repo_id} ({folder}): {len(files)} files, {sum(s for _, s in files):,} bytes" in printed
        )
        for path, size in files:
            assert f"  {size:>12,}  {path}\n" in printed
    model_files = {path for path, _ in repo_files(tmp_path / "hub" / "model")}
    assert {"README.md", "config.json", "model.safetensors", "generation_config.json", "processor_config.json",
            "configuration_florenz.py", "modeling_florenz.py", "processing_florenz.py", "pipeline_florenz.py",
            "tokenizer.json"} <= model_files  # fmt: skip
    dataset_files = {path for path, _ in repo_files(tmp_path / "hub" / "dataset")}
    assert dataset_files == {p.relative_to(scenes_release).as_posix() for p in scenes_release.rglob("*") if p.is_file()}
    space_files = {path for path, _ in repo_files(tmp_path / "hub" / "space")}
    assert {"app.py", "README.md", "requirements.txt", "examples/examples.json", "trainers/metrics.py",
            "trainers/collator.py", "modeling_florenz/processing_florenz.py"} <= space_files  # fmt: skip


def test_cards_parse_and_point_at_each_other(tiny_model_dir, scenes_release, tmp_path):
    assert _release(tiny_model_dir, scenes_release, tmp_path, "--space", "--namespace", "acme") == 0
    card = ModelCard.load(tmp_path / "model" / "README.md")
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "image-text-to-text"
    assert set(card.data.language) == {"en", "de", "fr", "es", "ru", "zh"} and card.data.license == "mit"
    assert card.data.datasets == ["acme/florenz-scenes"]
    assert "model_id = 'acme/florenz-tiny-bart'" in card.text
    data = DatasetCard.load(tmp_path / "dataset" / "README.md").data
    for key in ("configs", "language", "license", "task_categories", "size_categories", "pretty_name"):
        assert getattr(data, key), key
    space = metadata_load(tmp_path / "space" / "README.md")
    assert space["sdk"] == "gradio" and space["sdk_version"] == gradio.__version__ and space["app_file"] == "app.py"
    assert space["models"] == ["acme/florenz-tiny-bart"] and space["datasets"] == ["acme/florenz-scenes"]
    for key in ("title", "emoji", "license", "short_description"):
        assert space[key], key


def test_space_code_imports_only_libraries_and_its_own_files(tiny_model_dir, scenes_release, tmp_path):
    """Every project module the Space imports at module level is shipped in the Space repo."""
    assert _release(tiny_model_dir, scenes_release, tmp_path, "--space") == 0
    space = tmp_path / "space"
    for source in space.rglob("*.py"):
        for node in ast.parse(source.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module.split(".")[0] in PROJECT_PACKAGES:
                module = space / (node.module.replace(".", "/") + ".py")
                assert module.exists(), f"{source.relative_to(space)} imports {node.module}, not in the Space"
    requirements = (space / "requirements.txt").read_text()
    assert re.findall(r"^([a-z]+)", requirements, re.MULTILINE) == ["torch", "transformers", "numpy", "pillow"]


def test_push_calls_the_hub_in_order_and_is_idempotent(tiny_model_dir, scenes_release, tmp_path, capsys):
    from spaces_demo.hub_release import repo_files

    calls = []

    def fake_create_repo(self, repo_id, **kwargs):
        calls.append(("create_repo", repo_id, kwargs))
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def fake_create_commit(self, repo_id, operations, **kwargs):
        calls.append(("commit", repo_id, kwargs["repo_type"], sorted(op.path_in_repo for op in operations)))
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_id}/commit/0", commit_message="", commit_description="",
            oid="0" * 40,
        )  # fmt: skip

    validated = []

    def fake_validate_yaml(self, content, *, repo_type=None, token=None):  # the Hub checks README.md YAML first
        validated.append((repo_type, content))

    with (
        mock.patch.object(HfApi, "_validate_yaml", fake_validate_yaml),
        mock.patch("spaces_demo.hub_release.get_token", return_value="hf_test"),
        mock.patch.object(HfApi, "whoami", return_value={"name": "acme"}),
        mock.patch.object(HfApi, "create_repo", fake_create_repo),
        mock.patch.object(HfApi, "create_commit", fake_create_commit),
        mock.patch("huggingface_hub.hf_api.is_xet_available", return_value=False),
    ):
        for _ in range(2):
            argv = ("--space", "--push", "--namespace", "acme", "--private")
            assert _release(tiny_model_dir, scenes_release, tmp_path, *argv) == 0
    expected = []
    for repo_type, name in (("model", "florenz-tiny-bart"), ("dataset", "florenz-scenes"), ("space", "florenz-demo")):
        options = {"repo_type": repo_type, "private": True, "exist_ok": True}
        options["space_sdk"] = "gradio" if repo_type == "space" else None
        files = sorted(path for path, _ in repo_files(tmp_path / repo_type))
        expected += [("create_repo", f"acme/{name}", options), ("commit", f"acme/{name}", repo_type, files)]
    assert calls == expected * 2
    readmes = [
        (kind, (tmp_path / kind / "README.md").read_text(encoding="utf-8")) for kind in ("model", "dataset", "space")
    ]
    assert validated == readmes * 2
    printed = capsys.readouterr().out
    assert printed.count("pushed https://huggingface.co/acme/florenz-demo") == 2


def test_push_without_token_or_network_fails_before_any_work(tiny_model_dir, scenes_release, tmp_path, capsys):
    argv = ("--push", "--namespace", "acme")
    with mock.patch("spaces_demo.hub_release.get_token", return_value=None):
        assert _release(tiny_model_dir, scenes_release, tmp_path / "a", *argv) == 2
    assert "no Hugging Face token: run `hf auth login` or set HF_TOKEN" in capsys.readouterr().err
    with mock.patch("spaces_demo.hub_release.get_token", return_value="hf_test"):  # HF_HUB_OFFLINE=1 in tests
        assert _release(tiny_model_dir, scenes_release, tmp_path / "b", *argv) == 2
    assert "cannot reach the Hugging Face Hub" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_bad_release_arguments(tiny_model_dir, scenes_release, tmp_path, capsys):
    assert _release(tiny_model_dir, scenes_release, tmp_path, "--push") == 2
    assert "--push needs --namespace ORG" in capsys.readouterr().err
    assert _release(tiny_model_dir, scenes_release, tmp_path, "--push", "--dry-run", "--namespace", "a") == 2
    assert "exclude each other" in capsys.readouterr().err
    assert _release(scenes_release, scenes_release, tmp_path) == 2
    assert "lacks ['config.json', 'model.safetensors'" in capsys.readouterr().err
    damaged = tmp_path / "damaged-release"
    shutil.copytree(scenes_release, damaged)
    shard = next(damaged.glob("data/caption-en/train-*.parquet"))
    shard.unlink()
    assert _release(tiny_model_dir, damaged, tmp_path) == 2
    assert f"{shard.relative_to(damaged).as_posix()} is missing" in capsys.readouterr().err
