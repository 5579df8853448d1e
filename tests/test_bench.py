"""bench/bench.py runs end to end and writes consistent figures (a smoke run, not a timed
test: no figure here is compared with a speed target)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "bench" / "bench.py"


@pytest.mark.slow
def test_bench_quick_run_writes_figures_and_plot(built_index, model_cache, tmp_path):
    p = subprocess.run([sys.executable, str(BENCH), "--quick", "--rss-questions", "10", "--out", str(tmp_path),
                        "--model-cache", str(model_cache)], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-3000:]
    data = json.loads((tmp_path / "bench.json").read_text())
    figs = {f["name"].split(" (")[0]: f for f in data["figures"]}
    for name in ("search latency p50", "extractive answer latency p50", "cold start to first answer, existing index",
                 "cold start to first answer, no index", "ingest from scratch", "re-ingest unchanged papers",
                 "peak RSS, open index + answer 50 questions"):
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
