"""Downstream metrics cross-checked against reference computations: sacreBLEU's CLI, pycocoevalcap's Cider on
pre-tokenised text, exact binomial intervals from the beta distribution."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pycocoevalcap.cider.cider import Cider
from scipy.stats import beta

from trainers.benchmark_metrics import cider_d, comet_score, commute_accuracy, sacrebleu_scores, xm3600_tokens

HYPS = ["A man in a red hat looks at the camera.", "Two dogs run across the green grass.", "A child plays."]
REFS = [
    ["A man in a red hat stares at something.", "A man wearing a hat looks ahead."],
    ["Two dogs are running on the grass.", "Dogs run across a lawn."],
    ["A small child is playing in the sand.", "A kid plays on the beach."],
]
ZH_HYPS = ["一只黑狗在草地上奔跑。", "两个孩子在海滩上玩耍。"]
ZH_REFS = [["一只黑色的狗在草地上奔跑。"], ["两个孩子在沙滩上玩。"]]


def _cli(tmp_path, hyps, refs_per_item, metric: str, tokenize: str | None = None) -> dict:
    hyp_file = tmp_path / "hyp.txt"
    hyp_file.write_text("\n".join(hyps) + "\n", encoding="utf-8")
    ref_files = []
    for k in range(len(refs_per_item[0])):
        path = tmp_path / f"ref{k}.txt"
        path.write_text("\n".join(refs[k] for refs in refs_per_item) + "\n", encoding="utf-8")
        ref_files.append(str(path))
    command = [sys.executable, "-m", "sacrebleu", *ref_files, "-i", str(hyp_file), "-m", metric]
    if tokenize:
        command += ["-tok", tokenize]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output)


@pytest.mark.parametrize(
    ("hyps", "refs", "language", "tok"), [(HYPS, REFS, "en", "13a"), (ZH_HYPS, ZH_REFS, "zh", "zh")]
)
def test_bleu_and_chrf_match_the_sacrebleu_cli(tmp_path, hyps, refs, language, tok):
    scores = sacrebleu_scores(hyps, refs, language)
    cli_bleu = _cli(tmp_path, hyps, refs, "bleu", tok)
    cli_chrf = _cli(tmp_path, hyps, refs, "chrf")
    assert scores["bleu"]["score"] == pytest.approx(cli_bleu["score"], abs=0.05)  # the CLI rounds to 0.1
    assert scores["chrf"]["score"] == pytest.approx(cli_chrf["score"], abs=0.05)
    assert scores["bleu"]["signature"] == "BLEU|" + cli_bleu["signature"]
    assert f"tok:{tok}|" in scores["bleu"]["signature"] and f"nrefs:{len(refs[0])}|" in scores["bleu"]["signature"]
    assert scores["chrf"]["signature"].startswith("chrF2|") and "nc:6|nw:0" in scores["chrf"]["signature"]


def test_caption_bleu_uses_reference_streams_not_per_image_lists(tmp_path):
    refs = [r + [r[0]] for r in REFS]  # three references per image
    scores = sacrebleu_scores(HYPS, refs, "en")
    assert scores["bleu"]["score"] == pytest.approx(_cli(tmp_path, HYPS, refs, "bleu", "13a")["score"], abs=0.05)
    import sacrebleu

    bugged = sacrebleu.corpus_bleu(HYPS, refs).score  # per-image lists passed as streams (the paper-code bug)
    assert bugged != pytest.approx(scores["bleu"]["score"], abs=0.5)


def test_variable_reference_counts_are_allowed():
    refs = [REFS[0], REFS[1][:1], REFS[2]]
    assert sacrebleu_scores(HYPS, refs, "en")["bleu"]["score"] > 0


def test_xm3600_tokenisation():
    assert xm3600_tokens("L'homme « regarde » la ﬁle d’attente !", "fr") == [
        "lhomme",
        "regarde",
        "la",
        "file",
        "dattente",
    ]
    assert xm3600_tokens("A DOG, running.", "en") == ["a", "dog", "running"]
    # jieba segments words (characters alone would give 7 tokens); the full stop is removed.
    assert xm3600_tokens("一只黑狗在草地上。", "zh") == ["一只", "黑狗", "在", "草地", "上"]


def test_cider_matches_pycocoevalcap_on_pre_tokenised_text():
    gts = {i: [" ".join(xm3600_tokens(r, "en")) for r in refs] for i, refs in enumerate(REFS)}
    res = {i: [" ".join(xm3600_tokens(h, "en"))] for i, h in enumerate(HYPS)}
    expected, _ = Cider().compute_score(gts, res)
    assert cider_d(HYPS, REFS, "en") == pytest.approx(100 * expected)
    assert 0 < expected < 10
    identical = cider_d([r[0] for r in REFS], [[r[0]] for r in REFS], "en")
    assert identical > 100 * expected


def test_cider_refuses_a_single_image():
    with pytest.raises(ValueError, match="at least 2 images"):
        cider_d(HYPS[:1], REFS[:1], "en")


def test_commute_accuracy_exact_interval():
    correct = [1.0, 2.0, 3.0, 1.5, 4.0, 2.0, 1.0, 1.0]
    incorrect = [2.0, 3.0, 1.0, 2.5, 5.0, 2.0, 0.5, 3.0]  # 5 wins, one tie (a tie is a loss), 2 losses
    result = commute_accuracy(correct, incorrect)
    assert result["k"] == 5 and result["n"] == 8 and result["score"] == pytest.approx(62.5)
    assert result["ci_low"] == pytest.approx(100 * beta.ppf(0.025, 5, 4))
    assert result["ci_high"] == pytest.approx(100 * beta.ppf(0.975, 6, 3))
    with pytest.raises(ValueError, match="8 correct and 7 incorrect"):
        commute_accuracy(correct, incorrect[:7])


def test_comet_needs_a_local_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="COMET checkpoint .* not found"):
        comet_score(["a"], ["b"], ["c"], tmp_path / "missing" / "model.ckpt")
    ckpt = tmp_path / "checkpoints" / "model.ckpt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"")
    try:
        import comet  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="pip install unbabel-comet"):
            comet_score(["a"], ["b"], ["c"], ckpt)
