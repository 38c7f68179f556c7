"""A tiny model folder, the demo loaded on it, rendered examples and one running app, shared by the Space tests."""

from __future__ import annotations

import socket

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from model_tools.checkpoint_init import init_checkpoint

    return init_checkpoint("tiny-bart", tmp_path_factory.mktemp("space-model") / "tiny-bart", image_size=32)


@pytest.fixture(scope="session")
def demo(tiny_model_dir):
    from spaces_demo.app import FlorenzDemo

    return FlorenzDemo.load(str(tiny_model_dir))


@pytest.fixture(scope="session")
def examples(tmp_path_factory):
    from spaces_demo.examples import write_examples

    return write_examples(tmp_path_factory.mktemp("space-examples"))


@pytest.fixture(scope="session")
def app_url(demo, examples):
    """The app on a free loopback port for the whole session; closed at the end."""
    from spaces_demo.app import build_app

    app = build_app(demo, examples)
    app.launch(
        server_name="127.0.0.1",
        server_port=free_port(),
        prevent_thread_lock=True,
        quiet=True,
        share=False,
        allowed_paths=[str(examples)],
    )
    try:
        yield app.local_url
    finally:
        app.close()
