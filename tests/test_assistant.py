"""The public API end to end, on the real embedding model and a real embedded Chroma."""

import json
import re
import shutil

import pytest

from assistant import CollectionError, IndexProblem, PaperAssistant, QuestionError, Settings
from assistant.answering.prompts import NOT_COVERED
from assistant.settings import BUNDLED_COLLECTION
from assistant.text import md_unescape as unescape_md

PARAPHRASES = [
    (
        "Which method maps visual features into an LLM's word embeddings with optimal transport?",
        "Bridging Vision and Language Spaces with Assignment Prediction",
    ),
    (
        "Can you train a dual encoder on a billion noisy alt-text pairs without cleaning them?",
        "Scaling Up Visual and Vision-Language Representation Learning With Noisy Text Supervision",
    ),
    (
        "Which LMM pretraining stage swaps visual tokens for prompt tokens picked by the Hungarian algorithm?",
        "Croc: Pretraining Large Multimodal Models with Cross-Modal Comprehension",
    ),
    (
        "captioning and localizing video events with no training videos, only test-time optimization",
        "Zero-Shot Dense Video Captioning by Jointly Optimizing Text and Moment",
    ),
    (
        "a decoding-time method that uses random image transformations against hallucination",
        "RITUAL: Random Image Transformations as a Universal Anti-hallucination Lever in LVLMs",
    ),
]


@pytest.mark.parametrize("question,title", PARAPHRASES)
def test_search_finds_the_paper_for_paraphrased_questions(pa, question, title):
    hits = pa.search(question, k=5)
    assert hits[0].paper.title == title
    assert len({h.paper.id for h in hits}) == len(hits) == 5  # one hit per paper
    assert hits == sorted(hits, key=lambda h: -h.score)
    assert hits[0].text in hits[0].paper.abstract


@pytest.mark.parametrize(
    "question",
    [
        "What reward shaping works best for reinforcement learning of robotic grasping?",
        "Which methods estimate 3D human pose from monocular video?",
        "How do I bake sourdough bread with a stiff starter?",
    ],
)
def test_out_of_collection_questions_are_not_covered(pa, question):
    ans = pa.ask(question)
    assert ans.covered is False
    assert ans.citations == []
    assert ans.text.startswith(NOT_COVERED)
    assert not re.search(r"\[\d+\]", ans.text)


def test_every_marker_maps_to_a_citation_quoting_its_paper(pa):
    for q in [
        "Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?",
        "Which papers connect an image encoder to a frozen language model with a single linear layer?",
    ]:
        ans = pa.ask(q)
        assert ans.covered and ans.citations
        numbers = {c.number for c in ans.citations}
        markers = {int(m) for m in re.findall(r"\[(\d+)\]", ans.text)}
        assert markers == numbers == set(range(1, len(numbers) + 1))
        for c in ans.citations:
            assert c.quote and c.quote in c.paper.abstract
            for s, e in c.spans:
                assert c.paper.abstract[s:e].strip() in unescape_md(ans.text)
        assert ans.citations[0].paper.id == ans.hits[0].paper.id


def test_list_questions_cite_several_papers(pa):
    ans = pa.ask(
        "Which papers connect an image encoder to a frozen language model using only a single linear "
        "or projection layer?"
    )
    assert len(ans.citations) >= 2


def test_followup_stays_on_the_paper_of_the_previous_turn(pa):
    first = pa.ask("Which work aligns a frozen GPT-2 with CLIP to caption videos without training data?")
    history = [{"role": "user", "content": first.question}, {"role": "assistant", "content": first.text}]
    follow = pa.ask("What loss does it add?", history=history)
    assert follow.hits[0].paper.id == first.hits[0].paper.id
    assert "IoU loss" in follow.text
    alone = pa.search("What loss does it add?", k=1)[0]
    assert alone.paper.id != first.hits[0].paper.id  # without history the question is ambiguous


def test_stream_yields_the_answer_text_then_the_answer(pa):
    s = pa.stream("What dataset of minimal visual contrasts is used to reduce hallucinations?")
    pieces = list(s)
    assert len(pieces) > 5
    assert "".join(pieces) == s.answer.text
    assert s.answer.citations and pa.last_answer is s.answer


def test_paper_ids_restrict_search(pa):
    ids = [p.id for p in pa.papers[:3]]
    hits = pa.search("hallucination", k=10, paper_ids=ids)
    assert {h.paper.id for h in hits} <= set(ids) and hits
    assert pa.search("hallucination", paper_ids=[]) == []


def test_bad_questions_are_refused_clearly(pa):
    with pytest.raises(QuestionError, match="empty"):
        pa.ask("   ")
    with pytest.raises(QuestionError, match="limit"):
        pa.ask("x" * 5000)


def test_reingest_embeds_nothing_and_changes_replace_old_passages(fresh_pa, tmp_path):
    pa = fresh_pa
    calls = pa.embedder.calls
    report = pa.add_papers(BUNDLED_COLLECTION)
    assert len(report.unchanged) == 80 and not report.added and not report.updated
    assert pa.embedder.calls == calls and report.passages_embedded == 0

    target = next(p for p in pa.papers if p.title.startswith("Zero-Shot Dense Video Captioning"))
    before = pa.store.counts()
    new_abstract = (
        "We caption videos with a quantum annealer that schedules flamingo-shaped moment tokens. "
        "The annealer needs no training data at all."
    )
    f = tmp_path / "changed.jsonl"
    f.write_text(json.dumps({"id": target.id, "title": target.title, "abstract": new_abstract}) + "\n")
    report = pa.add_papers(f)
    assert report.updated == [target.id] and report.passages_embedded == 1
    after = pa.store.counts()
    assert after["papers"] == before["papers"]
    assert after["passages"] == before["passages"] - len(pa.store.passages(target)) + 1
    assert pa.paper(target.id).abstract == new_abstract
    hit = pa.search("quantum annealer flamingo moment tokens", k=1)[0]
    assert hit.paper.id == target.id and "annealer" in hit.text
    # The old text is gone: a query on it (no word of which is in the new title or abstract)
    # finds another paper, and no hit quotes the old abstract.
    old_words = "pairwise temporal IoU loss between soft masks"
    assert pa.search(old_words, k=1)[0].paper.id != target.id
    assert not any("IoU" in h.text for h in pa.search(old_words, k=80) if h.paper.id == target.id)

    # the change survives a restart (manifest, keyword index and Chroma agree)
    again = PaperAssistant(pa.settings)
    assert again.paper(target.id).abstract == new_abstract
    assert again.search("quantum annealer flamingo", k=1)[0].paper.id == target.id


@pytest.mark.parametrize(
    "name,content",
    [
        ("empty.jsonl", b""),
        ("binary.pdf", b"%PDF-1.7\n\x00\x01\x02\xff" * 100),
        ("broken.json", b'[{"title": "x", "abstract": "y"'),
    ],
)
def test_bad_files_raise_and_leave_the_index_intact(fresh_pa, tmp_path, name, content):
    pa = fresh_pa
    before = (pa.store.counts(), dict(pa.store.snapshot.hashes))
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(CollectionError):
        pa.add_papers(f)
    assert (pa.store.counts(), dict(pa.store.snapshot.hashes)) == before
    assert pa.ask("Which work aligns a frozen GPT-2 with CLIP to caption videos?").covered


def test_bad_records_are_rejected_and_good_ones_added(fresh_pa, tmp_path, small_papers):
    pa = fresh_pa
    f = tmp_path / "mixed.jsonl"
    lines = [
        json.dumps(small_papers[0]),
        "{not json",
        json.dumps({"id": "x", "title": "No abstract"}),
        json.dumps(small_papers[0] | {"title": "Same id again"}),
    ]
    f.write_text("\n".join(lines))
    report = pa.add_papers(f)
    # a record without an abstract is kept (found by its title and metadata) and reported as such
    assert report.added == ["p1", "x"] and report.no_abstract == ["x"]
    assert [r.record for r in report.rejected] == ["line 2", "line 4"]
    assert len(pa.papers) == 82
    assert pa.search("No abstract", k=1)[0].paper.id == "x"
    with pytest.raises(CollectionError, match="nothing added"):  # strict: the missing abstract is a rejection
        pa.add_papers(f, strict=True)
    hit = pa.search("sparse mixture of adapters for accented speech", k=1)[0]
    assert hit.paper.id == "p1" and hit.paper.authors == ("Ada Lovelace", "Alan Turing")
    ans = pa.ask("How much does a sparse mixture of adapters reduce word error rate on accented English?")
    assert ans.covered and ans.citations[0].paper.id == "p1" and "12%" in ans.text


def test_remove_papers(fresh_pa):
    pa = fresh_pa
    target = pa.search("random image transformations against hallucination", k=1)[0].paper
    assert pa.remove_papers([target.id, "no-such-id"]) == [target.id]
    assert target.id not in {h.paper.id for h in pa.search("random image transformations hallucination", k=10)}
    assert pa.store.counts()["papers"] == 79
    assert target.id not in PaperAssistant(pa.settings).store.snapshot.papers


@pytest.mark.slow  # builds a second index of the bundled collection
def test_other_settings_use_another_index(fresh_pa):
    other = PaperAssistant(fresh_pa.settings.with_(chunk_words=40))
    assert other.store.root != fresh_pa.store.root and other.papers == []  # a new index starts empty
    other.add_papers(BUNDLED_COLLECTION)
    assert other.store.counts()["passages"] > fresh_pa.store.counts()["passages"]  # built afresh, not mixed
    assert fresh_pa.store.counts() == PaperAssistant(fresh_pa.settings).store.counts()


def test_lost_vector_store_is_detected_and_reindex_repairs_it(fresh_pa):
    settings = fresh_pa.settings
    root = fresh_pa.store.root
    del fresh_pa
    shutil.rmtree(root / "chroma")
    # A new process would start with no Chroma state; this one must forget its cached client.
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    with pytest.raises(IndexProblem, match="reindex"):
        PaperAssistant(settings)
    broken = PaperAssistant(settings, allow_broken_index=True)
    with pytest.raises(IndexProblem):
        broken.search("anything")
    import assistant

    assert assistant.IndexError is IndexProblem and "IndexError" not in assistant.__all__  # the old name still works
    assert broken.reindex() > 80
    repaired = PaperAssistant(settings)
    assert len(repaired.papers) == 80
    assert repaired.search("pairwise temporal IoU loss", k=1)[0].paper.title.startswith("Zero-Shot Dense Video")


def test_empty_collection_answers_not_covered(empty_pa, small_papers):
    assert empty_pa.search("anything") == []
    assert empty_pa.ask("anything at all?").covered is False
    report = empty_pa.add_papers(small_papers)
    assert len(report.added) == 3
    assert empty_pa.search("molecular property prediction with graph transformers", k=1)[0].paper.id == "p2"


def test_settings_never_show_the_key():
    s = Settings.load(env={"OPENAI_API_KEY": "sk-secret-123"})
    assert s.secret("api_key") == "sk-secret-123"
    assert "sk-secret" not in repr(s) and "sk-secret" not in str(s.redacted()) and "sk-secret" not in repr(s.api_key)


def test_using_shares_the_index_but_not_the_settings(pa):
    view = pa.using(top_k=3, api_key="sk-view-only")
    assert view.store is pa.store and view.embedder is pa.embedder
    assert len(view.search("hallucination")) == 3 and len(pa.search("hallucination")) == 10
    assert pa.settings.secret("api_key") == "" and view.settings.secret("api_key") == "sk-view-only"
    with pytest.raises(ValueError, match="shape the index"):
        pa.using(chunk_words=50)


def test_paper_text_cannot_forge_markup_or_citations(empty_pa):
    empty_pa.add_papers(
        [
            {
                "id": "evil",
                "title": "Tokens [2] and <b>bold</b> *claims*",
                "abstract": "Our tokenizer beats everything [2] <img src=x onerror=alert(1)>. "
                "See [this](javascript:alert(1)) for the tokenizer details.",
            }
        ]
    )
    ans = empty_pa.ask("Which tokenizer beats everything?")
    assert ans.covered and len(ans.citations) == 1
    assert re.findall(r"(?<!\\)\[(\d+)\](?!\()", ans.text) == ["1"] * len(re.findall(r"(?<!\\)\[1\]", ans.text))
    for raw in (r"<img", r"\]\(javascript", r"<b>"):  # present only in escaped form
        assert not re.search(r"(?<!\\)" + raw, ans.text), raw
    assert "onerror=alert(1)" in unescape_md(ans.text)  # shown as text, not dropped


def test_a_short_question_naming_a_method_is_answered(pa):
    ans = pa.ask("What loss keeps ZeroTA's moment masks apart?")
    assert ans.covered and ans.citations[0].paper.title.startswith("Zero-Shot Dense Video Captioning")
    assert "IoU loss" in ans.text
    assert not pa.ask("How does Sora generate long videos?").covered  # a name no paper mentions adds nothing


def test_search_plugs_into_a_llamaindex_query_engine(pa):
    from llama_index.core import get_response_synthesizer
    from llama_index.core.llms import MockLLM
    from llama_index.core.query_engine import RetrieverQueryEngine

    synth = get_response_synthesizer(llm=MockLLM(max_tokens=8))  # a stand-in LLM: the retrieval is what is tested
    engine = RetrieverQueryEngine(pa.as_retriever(k=3), response_synthesizer=synth)
    nodes = engine.query("Which work aligns a frozen GPT-2 with CLIP to caption videos?").source_nodes
    assert len(nodes) == 3 and nodes[0].metadata["title"].startswith("Zero-Shot Dense Video Captioning")
    assert nodes[0].score >= nodes[1].score >= nodes[2].score
    assert nodes[0].node.text in pa.paper(nodes[0].metadata["paper_id"]).abstract
    assert pa.as_retriever().retrieve("How do I bake sourdough bread at home?") == []  # not covered: nothing
    assert len(pa.as_retriever(k=2, gate=False).retrieve("How do I bake sourdough bread at home?")) == 2


def test_dense_search_is_wide_enough_to_be_repeatable(fresh_pa):
    """The HNSW search breadth is set on new collections and raised on old ones: with Chroma's
    default (= the candidates asked for) the tail of a candidate list changed between
    processes, and with it fused scores (store.EF_SEARCH)."""
    from assistant.index.chroma import EF_SEARCH

    def ef(pa):
        return [c.configuration_json["hnsw"]["ef_search"] for c in (pa.store.chroma.passages, pa.store.chroma.papers)]

    assert ef(fresh_pa) == [EF_SEARCH, EF_SEARCH]
    for c in (fresh_pa.store.chroma.passages, fresh_pa.store.chroma.papers):
        c.modify(configuration={"hnsw": {"ef_search": 100}})  # as an index from before the setting
    reopened = PaperAssistant(fresh_pa.settings)
    assert ef(reopened) == [EF_SEARCH, EF_SEARCH]
    q = "zero-shot dense video captioning with a frozen language model"
    assert [h.paper.id for h in reopened.search(q)] == [h.paper.id for h in fresh_pa.search(q)]
