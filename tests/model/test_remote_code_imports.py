"""The Hub payload (the files copied into every model folder) imports only what a `trust_remote_code` user has:
the standard library, torch, transformers, numpy, PIL, and its sibling payload files."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PAYLOAD = Path(__file__).resolve().parents[2] / "modeling_florenz"
REMOTE_CODE_FILES = (
    "configuration_florenz.py",
    "modeling_florenz.py",
    "processing_florenz.py",
    "pipeline_florenz.py",
    "__init__.py",
)
ALLOWED_TOP_LEVEL = {"torch", "transformers", "numpy", "PIL"}


def _foreign_imports(source: str) -> list[str]:
    """Absolute imports whose top-level package is neither stdlib nor allowed (relative imports are fine)."""
    foreign = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top not in ALLOWED_TOP_LEVEL and top not in sys.stdlib_module_names:
                foreign.append(name)
    return foreign


def test_payload_folder_holds_only_the_remote_code_files():
    assert sorted(p.name for p in PAYLOAD.glob("*.py")) == sorted(REMOTE_CODE_FILES)


@pytest.mark.parametrize("name", REMOTE_CODE_FILES)
def test_remote_code_imports_only_stdlib_torch_transformers_numpy_pil(name):
    assert _foreign_imports((PAYLOAD / name).read_text(encoding="utf-8")) == []


def test_the_check_catches_a_foreign_import():
    source = (
        "import os\nfrom . import x\nimport torch.nn\nfrom dataset_builder.atomic import atomic_path\nimport scipy\n"
    )
    assert _foreign_imports(source) == ["dataset_builder.atomic", "scipy"]
    assert _foreign_imports("from __future__ import annotations\nfrom PIL import Image\n") == []
