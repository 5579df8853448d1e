"""assistant.formats.pdf_worker: the worker that parses a PDF under its budget, whoever calls it.

Real PDFs (tests/data/pdfs, the Debian papers fetched by fixtures/debian_pdfs.py), real worker
processes, real signals; a script without a main guard run as a user would run it.  The
budgets themselves (memory, CPU) are tested with bomb PDFs in test_hostile.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from assistant.formats import pdf, pdf_worker
from assistant.formats.pdf import PdfError
from assistant.formats.pdf_worker import Budget, read_within
from fixtures import bombs

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ROOT / "tests" / "data" / "pdfs" / "latex" / "layout.pdf"


@pytest.fixture(scope="module")
def lmer_pdf() -> Path:
    from fixtures.debian_pdfs import FetchError, fetch

    try:
        return fetch()["lmer.pdf"]
    except FetchError as e:
        pytest.fail(f"the published-paper PDFs could not be fetched: {e}", pytrace=False)


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def wait_for(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def gone(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_script_without_a_main_guard_adds_a_pdf(tmp_path, lmer_pdf, model_cache):
    """The README's quickstart as a user runs it: no `if __name__ == "__main__":`, run by path.
    The worker must not run it again (it did: multiprocessing's fork server re-ran it)."""
    runs = tmp_path / "runs.txt"
    script = tmp_path / "add.py"
    script.write_text(
        textwrap.dedent(f"""\
        from pathlib import Path
        from assistant import PaperAssistant, Settings
        with open({str(runs)!r}, "a") as f:
            f.write("ran\\n")
        pa = PaperAssistant(Settings.load(index_dir={str(tmp_path / "index")!r}, collection="",
                                          model_cache={str(model_cache)!r}))
        pa.add_papers(Path({str(lmer_pdf)!r}))
        print(len(pa.papers))
        """)
    )
    p = run([sys.executable, str(script)], tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split()[-1] == "1" and "budget" not in p.stderr
    assert runs.read_text() == "ran\n"  # the script ran once: in no worker


@pytest.mark.parametrize("how", ["module", "command"])
def test_no_caller_main_module_runs_in_a_worker(tmp_path, how):
    """`python -m` and `python -c`, unguarded: each reads two PDFs, and its code runs once."""
    runs = tmp_path / "runs.txt"
    code = textwrap.dedent(f"""\
        from assistant.formats.pdf_worker import read_within
        with open({str(runs)!r}, "a") as f:
            f.write("ran\\n")
        for _ in range(2):
            pages, doc = read_within({str(LAYOUT)!r}, 300)
        print(pages, "white space" in doc.text)
        """)
    if how == "module":
        (tmp_path / "user_module.py").write_text(code)
        p = run([sys.executable, "-m", "user_module"], tmp_path)
    else:
        p = run([sys.executable, "-c", code], tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["1", "True"]
    assert runs.read_text() == "ran\n"


def test_the_worker_reads_what_the_reader_reads_in_process_from_several_threads():
    expected = (pdf.page_count(LAYOUT), pdf.read_pdf(LAYOUT, max_pages=300))
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(read_within(LAYOUT, 300))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert got == [expected] * 3
    assert read_within(LAYOUT, 0) == (1, None)  # over max_pages: counted, not read


def _killed_while_parsing(bomb: Path, kill) -> PdfError:
    """Read `bomb` (slow to parse, within a large budget) and call kill(server_pid, worker_pid)
    while its worker is parsing it; the error read_within raised."""
    read_within(LAYOUT, 300)  # the server is running
    server = pdf_worker._server.proc.pid
    failure: list[PdfError] = []

    def read() -> None:
        try:
            read_within(bomb, 300, Budget(memory_mb=4000, seconds=300))
        except PdfError as e:
            failure.append(e)

    reader = threading.Thread(target=read)
    reader.start()
    worker = wait_for(lambda: children(server), "the worker process")[0]
    kill(server, worker)
    reader.join(120)
    assert not reader.is_alive() and failure, "read_within did not raise"
    return failure[0]


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGKILL, signal.SIGTERM])
def test_a_worker_that_dies_of_a_signal_is_not_reported_as_over_its_budget(tmp_path, sig):
    bomb = bombs.pdf_bomb(tmp_path, mb=200, name="slow.pdf")
    error = _killed_while_parsing(bomb, lambda server, worker: os.kill(worker, sig))
    assert str(error) == f"slow.pdf: the PDF reader's worker stopped unexpectedly (signal {sig.name})"
    pages, doc = read_within(LAYOUT, 300)  # and the next PDF is read
    assert pages == 1 and "white space" in doc.text


def test_a_server_that_dies_is_reported_and_started_again(tmp_path):
    bomb = bombs.pdf_bomb(tmp_path, mb=200, name="slow.pdf")
    first = []
    error = _killed_while_parsing(bomb, lambda server, worker: first.append(server) or os.kill(server, signal.SIGKILL))
    assert str(error) == "slow.pdf: the PDF reader's worker stopped unexpectedly (its server ended, signal SIGKILL)"
    pages, doc = read_within(LAYOUT, 300)
    assert pages == 1 and "white space" in doc.text
    assert pdf_worker._server.proc.pid != first[0]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_the_server_and_its_worker_end_with_the_process_that_started_them(tmp_path, sig):
    """kill -9 (no clean-up of its own) or Ctrl-C (KeyboardInterrupt) of a process reading a PDF."""
    bomb = bombs.pdf_bomb(tmp_path, mb=200, name="slow.pdf")
    code = textwrap.dedent(f"""\
        from assistant.formats import pdf_worker
        pdf_worker.read_within({str(LAYOUT)!r}, 300)
        print(pdf_worker._server.proc.pid, flush=True)
        pdf_worker.read_within({str(bomb)!r}, 300, pdf_worker.Budget(memory_mb=4000, seconds=300))
        """)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    asker = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        server = int(asker.stdout.readline())
        worker = wait_for(lambda: children(server), "the worker process")[0]
        asker.send_signal(sig)
        asker.wait(60)
        wait_for(lambda: gone(server) and gone(worker), "the server and its worker to end")
        if sig == signal.SIGINT:
            assert "KeyboardInterrupt" in asker.stderr.read()
    finally:
        asker.kill()
        asker.stdout.close()
        asker.stderr.close()


def test_the_worker_bench_writes_its_figures(tmp_path, lmer_pdf):  # lmer_pdf: the test PDFs are fetched
    out = tmp_path / "pdf_worker.json"
    p = run([sys.executable, "-m", "bench.pdf_worker", "--pdfs", "2", "--repeats", "1", "--out", str(out)], ROOT)
    assert p.returncode == 0, p.stderr
    run_ = json.loads(out.read_text())["current"]
    assert len(run_["runs"]) == 1 and len(run_["runs"][0]["worker_s"]) == 2 and run_["first_pdf_s"][0] > 0


def test_a_server_that_cannot_start_is_told_as_such(tmp_path):
    code = textwrap.dedent(f"""\
        import sys
        from assistant.formats.pdf_worker import read_within
        sys.executable = "/bin/false"  # an interpreter that exits at once
        try:
            read_within({str(LAYOUT)!r}, 300)
        except ValueError as e:
            print(e)
        """)
    p = run([sys.executable, "-c", code], tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "layout.pdf: the PDF reader's worker could not start (exit status 1)"
