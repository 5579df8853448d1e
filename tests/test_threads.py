"""What the web app's worker threads share: the tokenizer, the assistant, the local model."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from assistant.text import tokenize

WORDS = (
    "hallucinations generalization contrastive captioning segmentation reasoning benchmarks multilingual "
    "optimization visualizations retrieval-augmented transformers annotations embeddings"
).split()


def test_tokenize_gives_the_same_terms_from_many_threads():
    import assistant.text as text

    texts = [" ".join(WORDS[i:] + WORDS[:i]) + f" word{i}x" for i in range(len(WORDS))] * 40
    text._normal.clear()  # every word goes through the stemmer, from several threads at once
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(tokenize, texts))
    text._normal.clear()
    assert parallel == [tokenize(t) for t in texts]


def test_last_answer_is_per_thread(pa):
    asked: dict[str, str] = {}
    barrier = threading.Barrier(4)

    def ask(q: str) -> None:
        barrier.wait()
        pa.ask(q)
        asked[q] = pa.last_answer.question

    qs = [
        "Which work aligns a frozen GPT-2 with CLIP?",
        "How can CLIP be taught to count objects?",
        "Which benchmark tests vision-language models in many languages?",
        "How is hallucination reduced?",
    ]
    threads = [threading.Thread(target=ask, args=(q,)) for q in qs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert asked == {q: q for q in qs}


@pytest.mark.server
def test_an_abandoned_local_stream_does_not_hold_the_model(pa):
    """A reader that stops reading (a closed browser tab) must not keep the local model from
    the next answer: the generation stops at its next token."""
    pytest.importorskip("llama_cpp")
    view = pa.using(backend="local", cite_grammar="off", max_tokens=200, timeout=120)
    first = view.stream("Which work aligns a frozen GPT-2 with CLIP to caption videos?")
    pieces = iter(first)
    next(pieces)  # the model is generating this answer ...
    del pieces  # ... and its reader goes away without finishing
    second = view.ask("How can CLIP be taught to count objects?")
    assert second.backend in ("local", "extractive") and "busy" not in second.fallback
