"""A bounded load test: 20 concurrent gradio_client sessions ask the 60 dev-set questions
(3 each, follow-ups with their history) against one `python app.py`.

Every answer under load must be exactly the answer one user gets alone, with no errors;
the dev-set labels then say which of those answers are correct.  Latency percentiles are
printed (run with -s to see them); they are figures, not assertions.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import DEV
from gradio_client import Client

from assistant.answering.prompts import NOT_COVERED

pytestmark = pytest.mark.server  # starts processes: left out of `make check`

SESSIONS = 20


def cited_titles(markdown: str) -> list[str]:
    if "**References**" not in markdown:
        return []
    refs = markdown.split("**References**", 1)[1]
    return [line.split("**")[1] for line in refs.strip().splitlines() if line[:1].isdigit()]


def correct(q: dict, markdown: str) -> bool:
    titles = cited_titles(markdown)
    if q["type"] == "none":
        return markdown.startswith(NOT_COVERED) and not titles
    if q["type"] == "multi":
        return bool(set(titles) & set(q["relevant"]))
    return bool(titles) and titles[0] in q["relevant"]


@pytest.mark.slow
def test_twenty_concurrent_sessions_get_the_single_user_answers(server, pa):
    questions = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(questions) == 60
    expected = {q["id"]: pa.ask(q["question"], history=q["history"] or None).to_markdown() for q in questions}
    right = {qid for qid, md in expected.items() if correct(next(q for q in questions if q["id"] == qid), md)}
    assert len(right) >= 54, f"the library itself answers only {len(right)} of 60 dev questions correctly"

    start = threading.Barrier(SESSIONS)
    latencies: list[float] = []
    got: dict[str, str] = {}
    errors: list[str] = []

    def session(i: int) -> None:
        client = Client(server.url, verbose=False)
        start.wait(timeout=120)  # every session connected: the questions start together
        for q in questions[i::SESSIONS]:
            t0 = time.perf_counter()
            try:
                got[q["id"]] = client.submit(q["question"], q["history"] or None, api_name="/ask").result(timeout=120)
            except Exception as e:  # noqa: BLE001 - any failure counts, with its message
                errors.append(f"{q['id']}: {type(e).__name__}: {e}")
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(SESSIONS) as pool:
        for f in [pool.submit(session, i) for i in range(SESSIONS)]:
            f.result(timeout=600)
    wall = time.perf_counter() - t0

    lat = sorted(latencies)
    p50, p95 = statistics.median(lat), lat[max(0, int(round(0.95 * len(lat))) - 1)]
    print(
        f"\n{SESSIONS} sessions, {len(lat)} asks in {wall:.1f} s ({len(lat) / wall:.1f}/s): "
        f"latency p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms; "
        f"{len(right)}/60 correct by the dev labels"
    )
    assert errors == []
    assert len(got) == 60
    differing = [qid for qid in expected if got[qid] != expected[qid]]
    assert differing == [], f"answers under load differ from single-user answers: {differing}"
    assert all(correct(q, got[q["id"]]) for q in questions if q["id"] in right)
