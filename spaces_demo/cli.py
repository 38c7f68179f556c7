"""`florenz demo` (the Gradio app on a model folder) and `florenz release` (model, dataset and Space repos for the Hub)."""

from __future__ import annotations

import argparse


def _demo(args: argparse.Namespace) -> int:
    from .app import FlorenzDemo, build_app, examples_folder

    demo = FlorenzDemo.load(args.model)
    examples = examples_folder()
    app = build_app(demo, examples)
    print(f"[demo] serving {demo.source} on http://{args.host}:{args.port}", flush=True)
    app.launch(server_name=args.host, server_port=args.port, allowed_paths=[str(examples)], share=False)
    return 0


def _release(args: argparse.Namespace) -> int:
    from .hub_release import check_hub_access, prepare_release, print_listing, push_release

    if args.push and args.dry_run:
        raise ValueError("--push and --dry-run exclude each other; a dry run never touches the network")
    if args.push and not args.namespace:
        raise ValueError("--push needs --namespace ORG (the user or organisation that owns the repos)")
    if args.push:
        check_hub_access()
    repos = prepare_release(
        args.model,
        args.dataset,
        args.out,
        namespace=args.namespace,
        space=args.space,
        model_repo=args.model_repo,
        dataset_repo=args.dataset_repo,
        space_repo=args.space_repo,
    )
    print_listing(repos)
    if args.push:
        for url in push_release(repos, private=args.private):
            print(f"[release] pushed {url}", flush=True)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="serve the Gradio demo (caption, translate, disambiguate) on a model")
    demo.add_argument(
        "--model",
        default=None,
        help="model folder or Hub repo id (default: $FLORENZ_MODEL, else runs/quick/best-model)",
    )
    demo.add_argument("--port", type=int, default=7860, help="port to serve on (default: 7860)")
    demo.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1; 0.0.0.0 for all)")
    demo.set_defaults(func=_demo)

    release = subparsers.add_parser("release", help="write (and optionally push) the model, dataset and Space repos")
    release.add_argument("--model", required=True, help="Florenz model folder (e.g. runs/quick/best-model)")
    release.add_argument("--dataset", required=True, help="dataset release folder (e.g. runs/quick/scenes)")
    release.add_argument("--space", action="store_true", help="also write the Gradio Space repo")
    release.add_argument("--out", required=True, help="folder that receives model/, dataset/ (and space/)")
    release.add_argument(
        "--namespace", default=None, help="Hub user or organisation owning the repos (default in the files: florenz)"
    )
    release.add_argument("--model-repo", default=None, help="model repo name (default: florenz-<preset>)")
    release.add_argument("--dataset-repo", default=None, help="dataset repo name (default: florenz-scenes)")
    release.add_argument("--space-repo", default=None, help="Space repo name (default: florenz-demo)")
    release.add_argument("--push", action="store_true", help="create the repos and upload the folders")
    release.add_argument("--private", action="store_true", help="create the repos as private (with --push)")
    release.add_argument(
        "--dry-run", action="store_true", help="write the folders and list every file and size; no network"
    )
    release.set_defaults(func=_release)
