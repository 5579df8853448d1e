"""Comparison tables: papers as rows, aspects (questions asked of every paper) as columns,
every stated cell cited.  `PaperAssistant.table(...)` makes one (build.make_table)."""

from assistant.tables.build import TableJob, make_table
from assistant.tables.papers import TableError, UnknownPaper
from assistant.tables.types import NOT_STATED, Cell, Row, Table

__all__ = ["Cell", "NOT_STATED", "Row", "Table", "TableError", "TableJob", "UnknownPaper", "make_table"]
