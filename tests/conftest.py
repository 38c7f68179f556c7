"""Test environment: offline Hub, private module/Gradio caches, deterministic single-thread torch."""

from __future__ import annotations

import os
import tempfile

_TMP = tempfile.mkdtemp(prefix="florenz-tests-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("HF_MODULES_CACHE", os.path.join(_TMP, "hf_modules"))
os.environ.setdefault("HF_DATASETS_CACHE", os.path.join(_TMP, "hf_datasets"))
os.environ.setdefault("GRADIO_TEMP_DIR", os.path.join(_TMP, "gradio"))
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pytest_sessionfinish(session, exitstatus) -> None:  # noqa: ARG001 - pytest hook signature
    import shutil

    shutil.rmtree(_TMP, ignore_errors=True)
