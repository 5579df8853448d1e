"""paper-assistant: ask questions about research papers; every claim is cited.

The whole public API::

    from assistant import PaperAssistant
    pa = PaperAssistant()
    pa.search("...", k=10)          -> list[Hit]
    pa.ask("...", history=[...])    -> Answer
    pa.stream("...")                -> iterable of text pieces; .answer at the end
    pa.add_papers("papers.jsonl")   -> IngestReport
    pa.sync("~/papers", "refs.bib") -> list[SyncReport]: the collection mirrors its sources
    pa.table(["What data?"], papers=[...]) -> Table (papers as rows, aspects as columns, cells cited)
    evaluate(pa, "questions.jsonl", compare=True) -> EvalReport (print it, or .to_dict())

`evaluate` and `EvalReport` live in the `assistant.evaluation` subpackage, loaded on first use.
"""

from typing import Any

from assistant.answering.answerer import AnswerStream
from assistant.index import IndexProblem, IngestInterrupted, StoreUnavailable
from assistant.ingest.records import CollectionError, load_papers
from assistant.paper_assistant import PaperAssistant, PaperNotFound, QuestionError
from assistant.retrieval.search import Retrieval
from assistant.settings import Settings
from assistant.tables import Cell, Row, Table, TableError
from assistant.types import Answer, Citation, Hit, IngestReport, Paper, Passage, Rejection

__all__ = [
    "PaperAssistant",
    "Settings",
    "Answer",
    "AnswerStream",
    "Citation",
    "Hit",
    "IngestReport",
    "Paper",
    "Passage",
    "Rejection",
    "Retrieval",
    "Table",
    "Row",
    "Cell",
    "TableError",
    "CollectionError",
    "QuestionError",
    "PaperNotFound",
    "IndexProblem",
    "IngestInterrupted",
    "StoreUnavailable",
    "load_papers",
    "evaluate",
    "EvalReport",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "IndexError":  # the old name of IndexProblem; not in __all__, so `import *` cannot shadow the built-in
        return IndexProblem
    if name in ("evaluate", "EvalReport"):
        from assistant import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
