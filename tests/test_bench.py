"""The bench/ scripts run end to end, as `python -m bench.NAME` from the repository root, and
write consistent figures: bench.bench as a smoke run (not a timed test: no figure here is
compared with a speed target), bench.gate, bench.gate_lists and bench.fusion_weights on the
bundled index, bench.fidelity judging earlier answers.  The tests import nothing from bench/."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.server  # runs the bench scripts as processes: left out of `make check`

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"


def bench(name: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """`python -m bench.NAME ARGS` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


@pytest.mark.slow
def test_bench_quick_run_writes_figures_and_plot(built_index, model_cache, tmp_path):
    p = bench(
        "bench",
        "--quick",
        "--rss-questions",
        "10",
        "--out",
        str(tmp_path),
        "--model-cache",
        str(model_cache),
    )
    assert p.returncode == 0, p.stderr[-3000:]
    data = json.loads((tmp_path / "bench.json").read_text())
    figs = {f["name"].split(" (")[0]: f for f in data["figures"]}
    for name in (
        "search latency p50",
        "extractive answer latency p50",
        "cold start to first answer, existing index",
        "cold start to first answer, no index",
        "ingest from scratch",
        "re-ingest unchanged papers",
        "peak RSS, open index + answer 50 questions",
    ):
        assert name in figs, name
    for f in data["figures"]:
        assert f["value"] > 0 and f["reference_value"] > 0, f
        assert f["ratio"] == pytest.approx(f["value"] / f["reference_value"], rel=0.01), f
        assert f["name"] in p.stdout
    assert data["ingest"]["papers"] == 80 and data["ingest"]["reingest_calls"] == [0]  # re-ingest embeds nothing
    for run in data["cold_start"]["existing"] + data["cold_start"]["no_index"]:
        assert run["covered"] and run["papers"] == 80 and run["wall_s"] >= run["t"]
    for mem in data["peak_rss_mb"].values():  # the launcher's ru_maxrss is the child's own peak
        assert mem["ru_maxrss"] == pytest.approx(mem["VmHWM"], rel=0.05)
    stages = data["latency"]["stages_ms"]
    assert set(stages) == {"embed", "dense", "keyword", "fusion", "gate", "answer"}
    assert stages["embed"]["p50"] > 0 and stages["dense"]["p50"] > 0
    assert (tmp_path / "stages.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def index_copy(built_index, model_cache, tmp_path, monkeypatch):
    """A copy of the bundled index for a script's own process (an embedded Chroma is not
    shared between processes), using the session's exported model."""
    d = tmp_path / "index"
    shutil.copytree(built_index, d)
    monkeypatch.setenv("ASSISTANT_MODEL_CACHE", str(model_cache))
    return d


def run_script(name: str, *args: str) -> subprocess.CompletedProcess:
    p = bench(name, *args)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def test_gate_bench_compares_the_two_weightings_on_a_question_set(index_copy, tmp_path):
    out = tmp_path / "gate.json"
    p = run_script(
        "gate",
        "--sets",
        str(EXAMPLES / "dev_questions.jsonl"),
        str(EXAMPLES / "vague_questions.jsonl"),
        "--index-dir",
        str(index_copy),
        "--out",
        str(out),
    )
    data = json.loads(out.read_text())
    assert data["questions"] == {"dev": 60, "vague": 60}
    shipped, plain = data["gates"]["shipped (IDF x specificity)"], data["gates"]["plain IDF"]
    for gate in (shipped, plain):
        for row in gate["rates"].values():  # refusal / false refusal, per set and pooled, as shares
            assert all(v is None or 0 <= v <= 1 for pair in row.values() for v in pair)
        lowest, highest = gate["rates"]["0.7"]["all"], gate["rates"]["1.1"]["all"]
        assert lowest[0] <= highest[0] and lowest[1] <= highest[1]  # a higher threshold refuses more of both
        assert set(gate["leave_one_set_out"]) == {"dev", "vague"}
    assert shipped["auc"]["all"] > plain["auc"]["all"]  # what the specificity weighting is for
    assert f"{data['shipped_threshold']:.2f}" in p.stdout and "<- shipped" in p.stdout


def test_gate_bench_on_a_mixed_collection_compares_the_full_text_gates(index_copy, tmp_path):
    """bench.gate --pdfs: the bundled abstracts and the LaTeX PDFs, the full-text questions about
    them with a set of abstract questions; the full-text gates are scored beside the shipped
    one, and the margin can only lower a score: it refuses at least as much of both kinds."""
    latex = sorted((ROOT / "tests" / "data" / "pdfs" / "latex").glob("*.pdf"))
    names = {p.name for p in latex}
    questions = tmp_path / "fulltext_questions.jsonl"
    questions.write_text(
        "".join(
            line
            for line in (EXAMPLES / "fulltext_questions.jsonl").open()
            if json.loads(line).get("pdf") in names or '"type": "none"' in line
        )
    )
    out = tmp_path / "gate.json"
    p = run_script(
        "gate",
        "--index-dir",
        str(index_copy),
        "--pdfs",
        *map(str, latex),
        "--sets",
        str(questions),
        str(EXAMPLES / "extra_questions.jsonl"),
        "--out",
        str(out),
    )
    data = json.loads(out.read_text())
    assert data["papers"] == 80 + len(latex) and data["full_text_papers"] == len(latex)
    assert set(data["questions"]) == {"fulltext", "extra"}
    gates = data["gates"]
    shipped, before = gates["shipped (IDF x specificity)"], gates["full text: best passage, no margin (before)"]
    no_margin = gates["full text: best 3 passages, no margin"]
    for t, row in shipped["rates"].items():
        for mine, other in zip(row["fulltext"], no_margin["rates"][t]["fulltext"]):
            assert mine >= other, t
    assert before["auc"]["fulltext"] > 0.5 and "full text: best passage, no margin (before)" in p.stdout


def test_fusion_bench_scores_every_setting_and_marks_the_shipped_one(index_copy, tmp_path):
    out = tmp_path / "fusion.json"
    p = run_script(
        "fusion_weights",
        "--sets",
        str(EXAMPLES / "dev_questions.jsonl"),
        "--index-dir",
        str(index_copy),
        "--out",
        str(out),
    )
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 2 * 3 * 4 and sum(r["shipped"] for r in rows) == 1
    shipped = next(r for r in rows if r["shipped"])["scores"]["dev"]
    assert shipped["r1"] >= 0.95 and shipped["multi_r10"] >= 0.95  # the dev targets, as in test_quality
    assert len({json.dumps(r["scores"]) for r in rows}) > 1  # the settings change the rankings
    assert "<- shipped" in p.stdout


def test_fidelity_bench_judges_earlier_answers_again_without_a_model(tmp_path):
    shown = {
        "id": "d-single-001",
        "type": "single",
        "covered": True,
        "shown": True,
        "backend": "local",
        "fallback": "",
        "seconds": 2.0,
        "streamed_is_final": True,
        "cited": ["p1"],
        "cited_relevant": 1,
        "text": "It aligns GPT-2 with CLIP [1]. It aligns iGPT-2 with CLIP [1]. Extra uncited CLIP-4.",
        "citations": [
            {
                "number": 1,
                "id": "p1",
                "title": "Captioning",
                "quote": "We align GPT-2 with CLIP.",
                "abstract": "Intro. We align GPT-2 with CLIP.",
            }
        ],
    }
    fallen = {
        "id": "d-single-002",
        "type": "single",
        "covered": True,
        "shown": False,
        "backend": "extractive",
        "fallback": "the local answer ...",
        "seconds": 1.0,
        "streamed_is_final": True,
        "text": "...",
    }
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps({"model": "m", "load_average_before": [0, 0, 0], "rows": [shown, fallen]}))
    out = tmp_path / "again.json"
    p = bench("fidelity", "--rejudge", str(earlier), "--out", str(out), timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    s = json.loads(out.read_text())["summary"]["all"]
    assert (s["answered"], s["shown"], s["shown_sentences"], s["shown_sentences_with_missing_detail"]) == (2, 1, 3, 2)
    assert s["uncited_shown_sentences"] == 1 and s["citation_precision"] == 1.0
    assert "['iGPT-2']" in p.stdout and "['CLIP-4']" in p.stdout


def test_gate_lists_bench_scores_list_questions_at_lower_bars(index_copy, tmp_path):
    out = tmp_path / "gate_lists.json"
    p = run_script(
        "gate_lists",
        "--sets",
        str(EXAMPLES / "dev_questions.jsonl"),
        str(EXAMPLES / "list_none_questions.jsonl"),
        "--index-dir",
        str(index_copy),
        "--out",
        str(out),
    )
    data = json.loads(out.read_text())
    assert data["list_questions"]["dev"] >= 8 and data["list_questions"]["list_none"] >= 15
    margins = sorted(data["list_rates"], key=float)
    assert data["chosen_on_calibration_sets"] in map(float, margins)
    for lower, higher in zip(margins, margins[1:]):  # a lower bar refuses less of both kinds
        for name in ("dev", "list_none"):
            a, b = data["list_rates"][lower][name], data["list_rates"][higher][name]
            assert all(x is None or y is None or y <= x for x, y in zip(a, b))
    assert data["list_rates"]["0.0"]["list_none"][1] is None  # the set has no answerable question
    assert "<- shipped" in p.stdout and "other questions at" in p.stdout
