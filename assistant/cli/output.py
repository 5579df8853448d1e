"""What the commands print: JSON, an answer (streamed, with its references), and progress on stderr."""

from __future__ import annotations

import json
import shutil
import sys
from typing import Any

import assistant as pa_lib
from assistant.answering.prompts import FALLBACK_NOTE
from assistant.types import reference_line


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def print_answer(ans: pa_lib.Answer, streamed: bool = False) -> None:
    if not streamed:
        print(ans.text)
    if ans.fallback:
        print("\n" + FALLBACK_NOTE.format(reason=ans.fallback))
    elif ans.verification and ans.verification.dropped:
        print(f"\n({ans.verification.summary()}.)")
    if ans.citations:
        print("\nReferences")
        for c in ans.citations:
            print("  " + reference_line(c))


def progress_bar(unit: str = "papers"):
    """A progress callback (done, total) drawing a tqdm bar on stderr; call it with done == total to finish."""
    from tqdm import tqdm

    bar = None

    def show(done: int, total: int) -> None:
        nonlocal bar
        if total <= 0:
            return
        if bar is None:  # a terminal that reports no size (a bare pty) gets 80 x 24: tqdm draws nothing in 0 rows
            size = shutil.get_terminal_size((80, 24))
            bar = tqdm(
                total=total,
                initial=done,
                unit=unit,
                file=sys.stderr,
                ncols=size.columns or 80,
                nrows=size.lines or 24,
                leave=True,
            )
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return show


def passages_bar():
    """A progress callback for an ingest: a tqdm bar on stderr of the passages embedded, with
    their rate and the time left (its `passages` attribute, index/ingest.py); papers written
    show beside it.  Each write of a long ingest reports its own total: they add up."""
    from tqdm import tqdm

    state = {"bar": None, "base": 0, "last": (0, 0)}

    def passages(done: int, total: int) -> None:
        last_done, last_total = state["last"]
        if done < last_done:  # the next write of the same ingest
            state["base"] += last_total
        state["last"] = (done, total)
        bar = state["bar"]
        if bar is None:
            size = shutil.get_terminal_size((80, 24))
            bar = state["bar"] = tqdm(
                total=total, unit="passages", file=sys.stderr, ncols=size.columns or 80, nrows=size.lines or 24
            )
        bar.total = state["base"] + total
        bar.update(state["base"] + done - bar.n)
        bar.refresh()

    def papers(done: int, total: int) -> None:
        if state["bar"] is not None:  # (files read, for a folder: its passages come after)
            state["bar"].set_postfix_str(f"{done}/{total} written")

    papers.passages = passages
    return papers


def file_lines():
    """An on_file callback printing "  lmer.pdf: 51 pages, 170 passages" per file, on stderr."""

    def show(name: str, outcome: str) -> None:
        print(f"  {name}: {outcome}", file=sys.stderr, flush=True)

    return show


def print_stream(stream) -> None:
    """An answer's text as it comes; on a terminal, while the LLM's text is held back for its
    citation check, what it is doing on a line of its own (stderr), cleared once text shows."""
    status_shown, line_start = False, True  # the status line never overwrites text of the answer
    live = sys.stderr.isatty()
    for piece in stream:
        if live and not piece and line_start and stream.status:
            print(f"\r\033[K({stream.status})", end="", file=sys.stderr, flush=True)
            status_shown = True
            continue
        if status_shown:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
            status_shown = False
        print(piece, end="", flush=True)
        line_start = piece.endswith("\n") if piece else line_start
    if status_shown:
        print("\r\033[K", end="", file=sys.stderr, flush=True)
    print()
