"""What bench/fusion_weights.py and bench/gate.py share: the question sets in examples/,
and opening the assistant on the index they are scored against."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant import PaperAssistant, Settings
from assistant.evaluation.questions import load_questions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SETS = ["examples/dev_questions.jsonl", "examples/extra_questions.jsonl",
        "examples/paraphrased_questions.jsonl", "examples/vague_questions.jsonl"]


def setup(description: str, out_name: str) -> tuple[argparse.Namespace, PaperAssistant, dict[str, list[dict]]]:
    """Parse the common options; returns (args, assistant, {set name: questions})."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=[str(ROOT / s) for s in SETS])
    ap.add_argument("--index-dir", default=None, help="index of the bundled collection (default: the project's)")
    ap.add_argument("--out", default=str(HERE / "results" / out_name))
    args = ap.parse_args()
    pa = PaperAssistant(Settings.load(**({"index_dir": args.index_dir} if args.index_dir else {})))
    sets = {Path(s).stem.replace("_questions", ""): load_questions(s) for s in args.sets}
    return args, pa, sets
