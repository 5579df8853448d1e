"""The CLI, run as a user would (a subprocess), over a copy of the bundled index."""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DEV

pytestmark = pytest.mark.server  # starts processes: left out of `make check`


@pytest.fixture
def cli(built_index, model_cache, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(built_index, index)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(ASSISTANT_INDEX_DIR=str(index), ASSISTANT_MODEL_CACHE=str(model_cache))

    def run(*args, ok=True):
        p = subprocess.run(
            [sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True, env=env, timeout=120
        )
        if ok:
            assert p.returncode == 0, p.stderr
        return p

    return run


def test_search_and_ask(cli):
    hits = json.loads(cli("search", "pairwise temporal IoU loss for moment masks", "-k", "3", "--json").stdout)
    assert len(hits) == 3 and hits[0]["paper"]["title"].startswith("Zero-Shot Dense Video Captioning")
    out = cli("ask", "Which work aligns a frozen GPT-2 with CLIP to caption videos?").stdout
    assert "[1]" in out and "References" in out
    assert "  [1] Zero-Shot Dense Video Captioning" in out
    ans = json.loads(
        cli(
            "ask",
            "What loss does it add?",
            "--json",
            "--history",
            json.dumps(
                [
                    {"role": "user", "content": "Which work aligns a frozen GPT-2 with CLIP to caption videos?"},
                    {
                        "role": "assistant",
                        "content": "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment [1]",
                    },
                ]
            ),
        ).stdout
    )
    assert ans["covered"] and ans["citations"][0]["paper"]["title"].startswith("Zero-Shot Dense Video")


def test_ingest_reports_and_bad_files_fail_cleanly(cli, tmp_path, small_papers):
    f = tmp_path / "mine.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in small_papers) + "\n{oops\n")
    report = json.loads(cli("ingest", str(f), "--json").stdout)
    assert len(report["added"]) == 3 and report["rejected"][0]["record"] == "line 4"
    again = json.loads(cli("ingest", str(f), "--json").stdout)
    assert len(again["unchanged"]) == 3 and again["passages_embedded"] == 0
    (tmp_path / "bin.csv").write_bytes(b"\x00\x01\x02")
    p = cli("ingest", str(tmp_path / "bin.csv"), ok=False)
    assert p.returncode == 2 and "binary" in p.stderr and "Traceback" not in p.stderr
    assert "Graph Transformers for Molecular" in cli("papers").stdout


def test_chat_keeps_the_conversation(cli, built_index, model_cache, tmp_path):
    index = tmp_path / "chat-index"  # its own copy: the tests' process may have the bundled index open
    shutil.copytree(built_index, index)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSISTANT_", "OPENAI_"))}
    env.update(ASSISTANT_INDEX_DIR=str(index), ASSISTANT_MODEL_CACHE=str(model_cache))
    p = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "chat"],
        input=("Which work aligns a frozen GPT-2 with CLIP to caption videos?\nWhat loss does it add?\n\n"),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    second = p.stdout.split("> ")[2]
    assert "IoU loss" in second and "Zero-Shot Dense Video Captioning" in second


def test_settings_lists_every_setting_without_secrets(cli):
    out = cli("settings").stdout
    assert "min_relevance" in out and "OPENAI_API_KEY" in out


def test_eval_prints_the_table_and_writes_json(cli, tmp_path):
    dev = [json.loads(line) for line in open(DEV)]
    qs = tmp_path / "qs.jsonl"
    qs.write_text("\n".join(json.dumps(q) for q in dev if q["id"] in ("d-single-001", "d-multi-002", "d-none-002")))
    out = tmp_path / "results.json"
    p = cli("eval", str(qs), "--compare", "baseline", "--json", str(out))
    lines = p.stdout.splitlines()
    assert lines[0].startswith("qs.jsonl: 3 questions") and lines[2].split() == ["paper-assistant", "starter", "BM25"]
    assert "answer-point coverage skipped: no LLM configured" in p.stdout
    data = json.loads(out.read_text())
    assert [s["name"] for s in data["systems"]] == ["paper-assistant", "starter", "BM25"]
    assert {r["id"] for r in data["systems"][1]["results"]} == {"d-single-001", "d-multi-002", "d-none-002"}


def test_eval_refuses_a_malformed_question_file(cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "type": "single", "question": "q?", "relevant": []}\n{oops\n')
    p = cli("eval", str(bad), ok=False)
    assert p.returncode == 2 and "line 2 is not valid JSON" in p.stderr and "Traceback" not in p.stderr


def test_llm_options_and_an_unreachable_server(cli):
    from servers import free_port

    info = json.loads(cli("--backend", "local", "info").stdout)
    assert info["backend"] == "local" and info["model"] == "SmolLM2-135M-Instruct.Q4_1"
    url = f"http://127.0.0.1:{free_port()}/v1"
    out = cli(
        "--base-url", url, "--model", "m", "ask", "Which work aligns a frozen GPT-2 with CLIP to caption videos?"
    ).stdout
    assert f"(Extractive answer: the openai backend failed: cannot reach the LLM server at {url}" in out
    assert "  [1] Zero-Shot Dense Video Captioning" in out and out.count("cannot reach") == 1


def test_table_prints_json_markdown_and_csv(cli, tmp_path):
    papers = json.loads(cli("papers", "--json").stdout)
    ritual = next(p for p in papers if p["title"].startswith("RITUAL"))
    agla = next(p for p in papers if p["title"].startswith("AGLA"))
    args = ["table", "--aspect", "Is the code released?", "--aspect", "Does it need training?"]
    got = json.loads(cli(*args, "--paper", agla["title"].lower(), "--paper", ritual["id"], "--json").stdout)
    assert got["aspects"] == ["Is the code released?", "Does it need training?"]
    assert [r["paper"]["id"] for r in got["rows"]] == [agla["id"], ritual["id"]]  # in the order named
    assert {"id", "key", "title"} <= set(got["rows"][0]["paper"])
    code = got["rows"][0]["cells"][0]
    assert code["stated"] and "github.com/Lackel/AGLA" in code["citations"][0]["quote"]
    assert set(code["citations"][0]) == {"quote", "page", "section"}
    assert got["rows"][1]["cells"][0] == {
        "aspect": "Is the code released?",
        "text": "not stated",
        "stated": False,
        "citations": [],
        "source": "extractive",
    }
    md = cli(*args, "--paper", agla["id"]).stdout
    assert md.startswith("| Paper | Is the code released? | Does it need training? |")
    out = tmp_path / "t.csv"
    cli(*args, "--paper", agla["id"], "--paper", ritual["id"], "-o", str(out), "--bib", str(tmp_path / "t.bib"))
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert [r[0] for r in rows[1:]] == [agla["id"], ritual["id"]] and (tmp_path / "t.bib").read_text().count("@") == 2
    top = json.loads(cli("table", "--aspect", "What benchmarks?", "hallucination decoding", "-k", "3", "--json").stdout)
    assert len(top["rows"]) == 3


def test_table_errors_are_one_clear_line(cli):
    bad = cli("table", "--aspect", "What data?", "--paper", "No Such Paper Title", ok=False)
    assert bad.returncode == 2 and "error: no paper with id, citation key or title 'No Such Paper Title'" in bad.stderr
    assert "Traceback" not in bad.stderr
    none = cli("table", "--aspect", "What data?", ok=False)
    assert none.returncode == 2 and "name the papers (--paper" in none.stderr
    missing = cli("table", "--paper", "x", ok=False)
    assert missing.returncode == 2 and "--aspect" in missing.stderr


def test_eval_scores_a_table_set(cli, tmp_path):
    sets = Path(__file__).parent.parent / "examples" / "tables"
    lines = [ln for ln in (sets / "tables_dev.jsonl").read_text().splitlines() if '"corpus": "bundled"' in ln]
    one = tmp_path / "bundled.jsonl"
    one.write_text("\n".join(lines) + "\n")
    out = cli("eval", str(one), "--json", str(tmp_path / "t.json")).stdout
    assert "bundled.jsonl: 3 tables" in out and "cells right" in out and "nearest passage" in out
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["systems"]["assistant"]["scores"]["cells"] == 48
