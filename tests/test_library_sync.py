"""`pa.sync(...)`: the collection mirrors folders, bibliography files and Zotero databases
(real PDFs, the real embedding model, an embedded Chroma)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time

import pytest
from library_samples import paper_pdf

from assistant import CollectionError, PaperAssistant, Settings
from fixtures.zotero import build_zotero_db


@pytest.fixture
def lib(model_cache, tmp_path) -> PaperAssistant:
    pa = PaperAssistant(Settings.load(env={}, index_dir=str(tmp_path / "index"), model_cache=str(model_cache)))
    yield pa
    pa.store.close()


def bib_entry(key: str, title: str, abstract: str, file: str = "") -> str:
    field = f"  file = {{{file}}},\n" if file else ""
    return (
        f"@article{{{key},\n  title = {{{title}}},\n  author = {{Hopper, Grace}},\n  year = {{2021}},\n"
        f"  journal = {{Journal of Tests}},\n  abstract = {{{abstract}}},\n{field}}}\n"
    )


def touch_later(path) -> None:
    """Give a rewritten file a modification time the last sync cannot have seen (coarse clocks)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def ids(pa: PaperAssistant) -> set[str]:
    return {p.id for p in pa.papers}


def test_a_folder_is_mirrored_and_nothing_else_is_touched(lib, tmp_path, small_papers):
    folder = tmp_path / "papers"
    folder.mkdir()
    paper_pdf(folder / "kelp.pdf", "Kelp Forest Recovery after Marine Heatwaves", "kelp forest recovery")
    paper_pdf(folder / "bees.pdf", "Bumblebee Foraging in Urban Gardens", "bumblebee foraging")
    paper_pdf(folder / "attached.pdf", "Glacier Melt Rates in the Alps", "glacier melt")
    refs = folder / "refs.bib"
    refs.write_text(
        bib_entry("hopper2021", "Compilers for Everyone", "We make compilers easy to write for everyone.")
        + bib_entry("melt2021", "Alpine Glacier Melt", "Glaciers in the Alps melt faster.", "attached.pdf"),
        encoding="utf-8",
    )
    upload = lib.add_papers(small_papers)  # not from any source: a sync never removes these
    first = lib.sync(folder)[0]
    assert sorted(first.added) == ["hopper2021", "melt2021", "pdf:bees", "pdf:kelp"]
    assert lib.paper("melt2021").full_text and lib.paper("melt2021").venue == "Journal of Tests"
    assert "pdf:attached" not in ids(lib)  # the entry's PDF is not a paper of its own

    again = lib.sync()[0]  # no argument: every source the index remembers
    assert (again.added, again.updated, again.removed, again.files_read) == ([], [], [], 0)
    assert again.unchanged == 4
    [source] = lib.sources()
    assert source.path == str(folder.resolve()) and source.kind == "folder" and source.papers == 4
    assert lib.info()["sources"][0]["papers"] == 4

    # an edited abstract updates its entry; a deleted PDF and a deleted entry remove their papers
    refs.write_text(
        bib_entry("hopper2021", "Compilers for Everyone", "We make compilers easy to write, for everyone, in a day."),
        encoding="utf-8",
    )
    touch_later(refs)
    (folder / "bees.pdf").unlink()
    changed = lib.sync(folder)[0]
    assert changed.updated == ["hopper2021"] and "a day" in lib.paper("hopper2021").abstract
    assert sorted(changed.removed) == ["melt2021", "pdf:bees"]
    assert changed.added == ["pdf:attached"]  # no entry has that PDF now: it is a paper of its own
    assert set(upload.added) <= ids(lib)

    # a moved and renamed PDF is the same paper: nothing embedded, nothing removed
    (folder / "sub").mkdir()
    (folder / "kelp.pdf").rename(folder / "sub" / "kelp-2023.pdf")
    moved = lib.sync(folder)[0]
    assert moved.renamed == [("sub/kelp-2023.pdf", "pdf:kelp")]
    assert (moved.added, moved.removed, moved.passages_embedded) == ([], [], 0)
    assert "pdf:kelp" in ids(lib)


def test_a_pdf_that_appears_beside_the_entry_naming_it_becomes_that_entrys_full_text(lib, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "refs.bib").write_text(bib_entry("owls2020", "Owls at Dusk", "Owls hunt at dusk.", "later.pdf"))
    first = lib.sync(folder)[0]
    assert first.added == ["owls2020"] and not lib.paper("owls2020").full_text
    paper_pdf(folder / "later.pdf", "Barn Owl Hunting at Dusk", "barn owl hunting")
    report = lib.sync(folder)[0]
    assert report.updated == ["owls2020"] and report.added == [] and "pdf:later" not in ids(lib)
    owls = lib.paper("owls2020")
    assert owls.full_text and owls.title == "Owls at Dusk" and owls.year == 2021  # the entry's metadata


def test_a_dry_run_lists_the_changes_and_makes_none(lib, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    paper_pdf(folder / "kelp.pdf", "Kelp Forest Recovery after Marine Heatwaves", "kelp forest recovery")
    lib.sync(folder)
    paper_pdf(folder / "owls.pdf", "Barn Owl Hunting at Dusk", "barn owl hunting")
    (folder / "kelp.pdf").unlink()
    before = ids(lib)
    preview = lib.sync(folder, dry_run=True)[0]
    assert preview.dry_run and preview.added == ["pdf:owls"] and preview.removed == ["pdf:kelp"]
    assert "would be added" in preview.summary()
    assert ids(lib) == before  # nothing changed, and the registry neither: the real sync does it all
    real = lib.sync(folder)[0]
    assert real.added == ["pdf:owls"] and real.removed == ["pdf:kelp"]


def test_papers_of_other_sources_are_never_removed(lib, tmp_path):
    a, b = tmp_path / "a.bib", tmp_path / "b.bib"
    a.write_text(bib_entry("shared2020", "Shared Entry", "Both files list it.") + bib_entry("onlya", "A", "Only a."))
    b.write_text(bib_entry("shared2020", "Shared Entry", "Both files list it."))
    lib.sync(a, b)
    a.write_text(bib_entry("onlya", "A", "Only a."))
    touch_later(a)
    report = lib.sync(a)[0]
    assert report.removed == [] and {"shared2020", "onlya"} <= ids(lib)  # b still has it
    b.write_text(bib_entry("other", "Other", "Something else."))
    touch_later(b)
    assert lib.sync(b)[0].removed == ["shared2020"]


def test_a_half_written_pdf_is_not_read_until_it_is_whole_and_never_stops_the_others(lib, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    whole = paper_pdf(tmp_path / "owls.pdf", "Barn Owl Hunting at Dusk", "barn owl hunting")
    paper_pdf(folder / "kelp.pdf", "Kelp Forest Recovery after Marine Heatwaves", "kelp forest recovery")
    data = whole.read_bytes()
    partial = folder / "owls.pdf"
    partial.write_bytes(data[: len(data) // 2])
    # while it is being written (modified within `settle` seconds) it is left for the next sync
    waiting = lib.sync(folder, settle=3600)[0]
    assert waiting.waiting == ["kelp.pdf", "owls.pdf"] and waiting.added == []
    # read at once, the broken file is reported, and the other file is added
    report = lib.sync(folder)[0]
    assert report.added == ["pdf:kelp"] and [f for f, _ in report.failures] == ["owls.pdf"]
    again = lib.sync(folder)[0]  # not read again while it is unchanged, still reported
    assert again.files_read == 0 and [f for f, _ in again.failures] == ["owls.pdf"]
    partial.write_bytes(data)  # the writer finished
    touch_later(partial)
    done = lib.sync(folder)[0]
    assert done.added == ["pdf:owls"] and done.failures == []


def test_a_zotero_database_held_locked_by_zotero_is_synced(lib, tmp_path):
    db = build_zotero_db(tmp_path / "Zotero")
    first = lib.sync(db)[0]
    assert "zotero:IJKL0123" in first.added and first.kind == "zotero"
    zotero = sqlite3.connect(db, isolation_level=None)  # Zotero holds its database in exclusive mode
    zotero.execute("PRAGMA locking_mode=EXCLUSIVE")
    zotero.execute("BEGIN EXCLUSIVE")
    zotero.execute("DELETE FROM items WHERE key='IJKL0123'")
    zotero.execute("COMMIT")  # the lock stays: exclusive mode keeps it after the commit
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite3.connect(db, timeout=0).execute("SELECT count(*) FROM items").fetchone()
    touch_later(db)
    report = lib.sync(db)[0]
    zotero.close()
    assert report.removed == ["zotero:IJKL0123"] and report.failures == []
    assert set(first.added) - {"zotero:IJKL0123"} <= ids(lib)


def test_two_syncs_at_once_lose_and_duplicate_nothing(lib, tmp_path):
    folder = tmp_path / "papers"
    folder.mkdir()
    topics = ["kelp forest recovery", "barn owl hunting", "glacier melt", "bumblebee foraging"]
    for i, topic in enumerate(topics):
        paper_pdf(folder / f"p{i}.pdf", f"A Study of {topic.title()}", topic)
    reports, errors = [], []

    def run():
        try:
            reports.extend(lib.sync(folder))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    added = sorted(pid for r in reports for pid in r.added)
    assert added == [f"pdf:p{i}" for i in range(4)]  # each added once, by one of them
    assert ids(lib) == set(added) and lib.store.counts()["papers"] == 4
    assert lib.sources()[0].papers == 4


def test_a_source_that_does_not_exist_is_refused(lib, tmp_path):
    with pytest.raises(CollectionError, match="no such file or folder"):
        lib.sync(tmp_path / "nowhere")
    folder = tmp_path / "papers"
    folder.mkdir()
    paper_pdf(folder / "kelp.pdf", "Kelp Forest Recovery after Marine Heatwaves", "kelp forest recovery")
    lib.sync(folder)
    shutil.rmtree(folder)  # an unmounted drive: its papers are kept, the sync says why
    [gone] = lib.sync()
    assert gone.failures and "gone" in gone.failures[0][1] and "pdf:kelp" in ids(lib)


def test_a_watcher_syncs_a_dropped_pdf_once_it_stops_changing(lib, tmp_path):
    from assistant.library.watch import Watcher

    folder = tmp_path / "papers"
    folder.mkdir()
    gone = tmp_path / "gone.bib"
    gone.write_text(bib_entry("gone2020", "Gone", "A file that will be deleted."))
    seen = []
    watcher = Watcher(lib, [gone, folder], interval=0.2, settle=1.0, on_report=seen.append).start()
    try:
        gone.unlink()  # a source that fails at every look never stops the others
        paper_pdf(folder / "owls.pdf", "Barn Owl Hunting at Dusk", "barn owl hunting")
        deadline = time.monotonic() + 60
        while "pdf:owls" not in ids(lib) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        watcher.stop()
    assert "pdf:owls" in ids(lib) and any("pdf:owls" in r.added for r in seen)
    status = watcher.status[str(folder.resolve())]
    assert status.totals["added"] == 1 and status.error == ""
    assert "no such file" in watcher.status[str(gone.resolve())].error
