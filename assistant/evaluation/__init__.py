"""Evaluation on a question set: `evaluate(pa, questions, compare=True) -> EvalReport`.

Kept out of `import assistant` (it is loaded on first use of `assistant.evaluate`):
questions.py reads question sets, metrics.py scores rankings and answers, run.py runs one
system, baselines.py builds the LlamaIndex starter recipe and BM25 to compare with, and
report.py runs the comparison and renders the table and JSON.
"""

from assistant.evaluation.report import EvalReport, SystemEval, evaluate

__all__ = ["EvalReport", "SystemEval", "evaluate"]
