from assistant.ingest.chunking import chunk_paper
from assistant.ingest.records import load_papers
from assistant.settings import BUNDLED_COLLECTION
from assistant.text import sentence_spans
from assistant.types import Paper


def test_abbreviations_do_not_split_sentences():
    text = (
        "We align a frozen model (i.e., GPT-2) with CLIP, e.g. for captions. Results improve by 4.9% "
        "over Su et al. in most cases. Findings. A third sentence follows here."
    )
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "We align a frozen model (i.e., GPT-2) with CLIP, e.g. for captions.",
        "Results improve by 4.9% over Su et al. in most cases.",
        "Findings. A third sentence follows here.",  # a one-word 'sentence' joins the next one
    ]


def test_spans_point_into_the_text():
    text = 'First sentence is here. "Quoted second one." Third (with brackets) one!'
    for s, e in sentence_spans(text):
        assert text[s:e] == text[s:e].strip() and text[s:e]


def test_passages_cover_each_abstract_in_order_without_overlap():
    for paper in load_papers(BUNDLED_COLLECTION).papers:
        passages = chunk_paper(paper, 100)
        assert [p.index for p in passages] == list(range(len(passages)))
        for a, b in zip(passages, passages[1:]):
            assert a.end <= b.start
        joined = " ".join(p.text for p in passages)
        assert " ".join(joined.split()) == " ".join(paper.abstract.split())
        for p in passages:
            assert paper.abstract[p.start : p.end] == p.text
            # a passage only exceeds the budget when a single sentence does
            assert len(p.text.split()) <= 100 or len(sentence_spans(p.text)) == 1


def test_small_budget_gives_one_sentence_per_passage():
    p = Paper("x", "T", "One two three four. Five six seven eight. Nine ten eleven twelve.")
    assert [c.text for c in chunk_paper(p, 5)] == [
        "One two three four.",
        "Five six seven eight.",
        "Nine ten eleven twelve.",
    ]
