"""Florenz model package. Classes are re-exported lazily so that `florenz` CLI start-up stays cheap."""

from __future__ import annotations

import importlib

_EXPORTS = {
    "FLORENZ_PRESETS": "configuration_florenz",
    "FlorenzConfig": "configuration_florenz",
    "FlorenzForConditionalGeneration": "modeling_florenz",
    "FlorenzModel": "modeling_florenz",
    "FlorenzPreTrainedModel": "modeling_florenz",
}

__all__ = [
    "FLORENZ_PRESETS",
    "FlorenzConfig",
    "FlorenzForConditionalGeneration",
    "FlorenzModel",
    "FlorenzPreTrainedModel",
]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
