"""The CLI tells user errors in one line, and lets programming errors show as what they are."""

from __future__ import annotations

import pytest

from assistant import cli
from assistant.paper_assistant import PaperAssistant


def args(built_index, model_cache, *rest: str) -> list[str]:
    return ["--index-dir", str(built_index), "--set", f"model_cache={model_cache}", "--collection", "", *rest]


@pytest.mark.parametrize("bug", [ValueError("a bug"), KeyError("a bug"), TypeError("a bug")])
def test_a_programming_error_is_not_dressed_as_a_user_error(built_index, model_cache, monkeypatch, capsys, bug):
    def broken(self, *a, **k):
        raise bug

    monkeypatch.setattr(PaperAssistant, "search", broken)
    with pytest.raises(type(bug)):
        cli.main(args(built_index, model_cache, "search", "anything"))
    assert "error:" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "rest,message",
    [
        (["--set", "top_k=0", "search", "x"], "setting top_k: must be greater than or equal to 1"),
        (["--set", "nonsense", "search", "x"], "--set expects KEY=VALUE"),
        (["ask", "x", "--history", "[{"], "--history is not valid JSON"),
        (["ask", "   "], "the question is empty"),
        (["ingest", "/no/such/file.jsonl"], "no such file"),
    ],
)
def test_user_errors_are_one_line_with_what_to_fix(built_index, model_cache, capsys, rest, message):
    assert cli.main(args(built_index, model_cache, *rest)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
