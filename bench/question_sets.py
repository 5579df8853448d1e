"""What bench.fusion_weights, bench.gate and bench.gate_lists share: the question sets in
examples/, and opening the assistant on the index they are scored against."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant import PaperAssistant, Settings
from assistant.evaluation.questions import load_questions
from bench.harness import RESULTS, ROOT

SETS = [
    "examples/dev_questions.jsonl",
    "examples/extra_questions.jsonl",
    "examples/paraphrased_questions.jsonl",
    "examples/vague_questions.jsonl",
]
FULL_TEXT_SET = "examples/fulltext_questions.jsonl"


def setup(
    description: str, out_name: str, pdfs: bool = False
) -> tuple[argparse.Namespace, PaperAssistant, dict[str, list[dict]]]:
    """Parse the common options; returns (args, assistant, {set name: questions}).

    With `pdfs`, `--pdfs DIR...` adds PDFs to the collection first (a mixed collection: the
    bundled abstracts and full-text papers; it needs its own --index-dir, so the project's
    index is never changed) and the full-text question set joins the default sets."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--sets",
        nargs="+",
        default=None,
        help="question sets (default: the four abstract sets, and the full-text set with --pdfs)",
    )
    ap.add_argument("--index-dir", default=None, help="index of the bundled collection (default: the project's)")
    ap.add_argument("--out", default=str(RESULTS / out_name))
    if pdfs:
        ap.add_argument(
            "--pdfs",
            nargs="*",
            default=None,
            metavar="PATH",
            help="add these PDFs or folders first (none given: the 12 readable PDFs of the full-text "
            "set, tests/data/pdfs; python -m fixtures.debian_pdfs fetches them); needs --index-dir",
        )
    args = ap.parse_args()
    folders = getattr(args, "pdfs", None)
    if folders is not None and not args.index_dir:
        ap.error("--pdfs adds papers to the index: give it its own --index-dir")
    pa = PaperAssistant(
        Settings.load(collection="bundled", **({"index_dir": args.index_dir} if args.index_dir else {}))
    )
    if folders is not None:
        if not folders:
            from bench.fulltext_ingest import corpus

            folders = corpus()
        for folder in folders:
            print(f"{folder}: {pa.add_papers(folder).summary()}", flush=True)
    names = args.sets or [str(ROOT / s) for s in SETS + ([FULL_TEXT_SET] if folders is not None else [])]
    sets = {Path(s).stem.replace("_questions", ""): load_questions(s) for s in names}
    return args, pa, sets
