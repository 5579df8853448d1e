"""The question commands: `search` (the passages for a query), `ask` (a cited answer, streamed)
and `chat` (questions with follow-ups)."""

from __future__ import annotations

import sys

import assistant as pa_lib
from assistant.cli.arguments import assistant_for, history_from, scope
from assistant.cli.output import print_answer, print_json, print_stream
from assistant.types import where_in_pdf


def cmd_search(args) -> int:
    pa = assistant_for(args)
    hits = pa.search(args.query, k=args.k, paper_ids=scope(pa, args))
    if args.json:
        print_json([h.to_dict() for h in hits])
        return 0
    for i, h in enumerate(hits, 1):
        print(f"{i:2d}. {h.score:6.2f}  {h.paper.title}{where_in_pdf(h.page, h.section)}")
        if args.passages:
            print(f"      {h.text[:300]}")
    return 0


def cmd_ask(args) -> int:
    pa = assistant_for(args)
    history = history_from(args.history)
    ids = scope(pa, args)
    if args.json or args.cite:
        ans = pa.ask(args.question, history=history, paper_ids=ids)
        if args.json:
            print_json(ans.to_dict())
        else:
            print(ans.text_with_citations(args.cite))
            print_answer(ans, streamed=True)
    else:
        stream = pa.stream(args.question, history=history, paper_ids=ids)
        print_stream(stream)
        ans = stream.answer
        print_answer(ans, streamed=True)
    _write_references(ans, args)
    return 0


def _write_references(ans, args) -> None:
    for path, text in (
        (args.bib, ans.references_bibtex),
        (args.csl, ans.references_csl),
        (args.ris, ans.references_ris),
    ):
        if path:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text())
            print(f"references: {path}", file=sys.stderr)


def cmd_chat(args) -> int:
    """Interactive questions with follow-ups; an empty line or Ctrl-D ends it."""
    pa = assistant_for(args)
    info = pa.info()
    print(
        f"paper-assistant: {info['papers']} papers, answers by {info['backend']}"
        f"{' (' + info['model'] + ')' if info['model'] else ''}. Ask a question; empty line to quit."
    )
    history: list[dict[str, str]] = []
    while True:
        try:
            question = input("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        try:
            stream = pa.stream(question, history=history)
            print_stream(stream)
            print_answer(stream.answer, streamed=True)
        except pa_lib.QuestionError as e:
            print(f"error: {e}")
            continue
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": stream.answer.text}]
        history = history[-8:]
