"""Keeping a process's view of an index in step with Chroma, the source of truth.

Several processes may share one collection on a Chroma server; each keeps its own view
(a Snapshot: paper records and the keyword index, also saved in its local files).  The
protocol, in full:

* A batch is written as: a note in `<name>-writes` listing its papers, a new state token,
  delete the papers' old records and passages, add the new passages, add the paper
  records, drop the note, another new state token.  So a paper with a record is complete.
* A full-text paper's body passages (text, pages, section) are in its passage documents
  and metadata: a process that syncs a paper another wrote reads them from there into its
  local files, as it reads the paper record.
* A writer that dies leaves its note behind.  The passages of the papers it lists that have
  no record are removed by the next writer -- at once in embedded mode (only one process
  has an embedded index open, so every leftover note is a dead writer's), after
  STALE_WRITE seconds on a server (where another live process may own the note).
* The state token lives in the papers collection's metadata.  A view whose token differs
  from Chroma's is brought up to date incrementally: the records written since its last
  read (with a margin for clocks), and an id listing when the counts still disagree
  (removals).  A writer re-reads after its own writes on a server, so changes that raced
  with it are never lost from its view.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from assistant.index.chroma import Chroma
from assistant.index.errors import IndexProblem
from assistant.index.local import LocalIndex, Snapshot
from assistant.types import Paper, Passage

log = logging.getLogger(__name__)

STALE_WRITE = 600.0  # s: a batch note this old belongs to a writer that died
CLOCK_MARGIN = 60.0  # s: re-read records written this long before the last read


class VectorStoreEmpty(IndexProblem):
    """The local files list papers but Chroma has none of them (its files were lost, or this
    is a new, empty server)."""

    def __init__(self, message: str, papers: int):
        super().__init__(message)
        self.papers = papers


def open_view(chroma: Chroma, local: LocalIndex, where: str) -> Snapshot:
    """The view of the index at start-up: the local files when they match Chroma, else
    brought up to date from it."""
    on_disk = local.fingerprint_on_disk()
    if on_disk and on_disk != local.fingerprint:
        raise IndexProblem(
            f"the index in {where} was built with other settings ({on_disk}); delete that directory to rebuild it"
        )
    saved = local.load()
    count = chroma.count()
    if saved and saved.papers and count == 0:
        raise VectorStoreEmpty(
            f"the local index in {where} lists {len(saved.papers)} papers but the vector store is empty "
            "(Chroma files deleted). Run `paper-assistant reindex` to re-embed the stored papers, or delete "
            "the directory to start over.",
            len(saved.papers),
        )
    if saved and saved.state and saved.state == chroma.state() and len(saved.papers) == count:
        return saved
    if saved is None and count:
        log.info("reading %d papers from Chroma into %s", count, where)
    return synced(chroma, local, saved or Snapshot())


def synced(chroma: Chroma, local: LocalIndex, base: Snapshot) -> Snapshot:
    """`base` brought up to date with Chroma, saved locally."""
    state, now = chroma.state(), chroma.clock()  # read before the records: a change after this is seen next time
    if base.papers:
        records = chroma.records(where={"written": {"$gte": base.synced_at - CLOCK_MARGIN}})
    else:
        records = chroma.records(ids=chroma.all_ids())
    changed = {p.id: (p, h) for p, h in records if base.hashes.get(p.id) != h}
    known = set(base.papers) | set(changed)
    removed: list[str] = []
    if len(known) != chroma.count():  # removals, or records written by older code
        ids = set(chroma.all_ids())
        removed = [pid for pid in base.papers if pid not in ids]
        changed.update({p.id: (p, h) for p, h in chroma.records(ids=[i for i in ids if i not in known])})
    if not changed and not removed:
        return save(local, replace(base, state=state, synced_at=now))
    papers = {k: v for k, v in base.papers.items() if k not in removed}
    hashes = {k: v for k, v in base.hashes.items() if k not in removed}
    for pid, (p, h) in changed.items():
        papers[pid], hashes[pid] = p, h
    upserted = [p for p, _ in changed.values()]
    bodies = chroma.body_passages([p.id for p in upserted if p.full_text])
    keyword = base.keyword.updated(keyword_docs(upserted, bodies), remove=removed)
    snap = Snapshot(papers, hashes, keyword, state, now, base.version)
    return save(local, snap, upserted, removed, bodies)


def keyword_docs(papers: Iterable[Paper], bodies: Mapping[str, list[Passage]]) -> dict[str, tuple]:
    """What the keyword index holds of each paper: title, abstract and body."""
    return {p.id: (p.title, p.abstract, [ps.text for ps in bodies.get(p.id, ())]) for p in papers}


def save(
    local: LocalIndex,
    snap: Snapshot,
    upserted: Iterable[Paper] = (),
    removed: Iterable[str] = (),
    bodies: Mapping[str, list[Passage]] | None = None,
) -> Snapshot:
    version = local.save(snap, upserted, removed, bodies)
    # -1: the files missed a change, so the next save writes the whole view
    return replace(snap, version=version if version is not None else -1)


def clean_interrupted(chroma: Chroma) -> None:
    """Remove the passages of papers whose batch was cut off (the writer died mid-batch)."""
    got = chroma.writes.get(include=["metadatas"])
    if not got["ids"]:
        return
    now = chroma.clock()
    notes = [
        (wid, json.loads(m.get("papers", "[]")), m.get("started", 0.0)) for wid, m in zip(got["ids"], got["metadatas"])
    ]
    dead = {wid for wid, _, started in notes if not chroma.server or now - started > STALE_WRITE}
    busy = {pid for wid, ids, _ in notes if wid not in dead for pid in ids}  # a live writer's papers
    for wid, ids, _ in notes:
        if wid not in dead:
            continue
        ids = [i for i in ids if i not in busy]
        have = chroma.existing(ids)
        orphans = [i for i in ids if i not in have]
        if orphans:
            log.warning("removing passages of %d paper(s) from an interrupted ingest", len(orphans))
            chroma.delete_passages_of(orphans)
        chroma.writes.delete(ids=[wid])


@dataclass(frozen=True)
class Change:
    """One write's papers: `upserted` replace their earlier records (`bodies`: the body passages
    of the full-text ones), `removed` are deleted."""

    upserted: Sequence[Paper] = ()
    removed: Sequence[str] = ()
    bodies: Mapping[str, list[Passage]] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        """Every paper whose records the write replaces or deletes."""
        return [p.id for p in self.upserted] + list(self.removed)


def write_batch(
    chroma: Chroma, local: LocalIndex, old: Snapshot, change: Change, write: Callable[[float], None]
) -> Snapshot:
    """Replace (or delete) the papers of `change` in Chroma -- `write(stamp)` adds the new
    records -- then commit the change to the view; returns the new view."""
    ids, upserted, removed, bodies = change.ids, change.upserted, change.removed, change.bodies or {}
    note = uuid.uuid4().hex
    chroma.writes.add(
        ids=[note], embeddings=[[1.0]], metadatas=[{"papers": json.dumps(ids), "started": chroma.clock()}]
    )
    chroma.set_state(uuid.uuid4().hex)  # other processes: something is in flight
    chroma.delete(ids)
    stamp = chroma.clock()
    write(stamp)
    chroma.writes.delete(ids=[note])
    state = uuid.uuid4().hex
    chroma.set_state(state)
    papers = {k: v for k, v in old.papers.items() if k not in removed}
    hashes = {k: v for k, v in old.hashes.items() if k not in removed}
    for p in upserted:
        papers[p.id], hashes[p.id] = p, p.content_hash()
    keyword = old.keyword.updated(keyword_docs(upserted, bodies), remove=removed)
    # Embedded, this process is the only writer: Chroma holds nothing this view lacks.  On a
    # server others may have written meanwhile: the view keeps its last read time, and the
    # re-read at the end of the write goes back to it.
    synced_at = max(old.synced_at, stamp) if not chroma.server else old.synced_at
    return save(local, Snapshot(papers, hashes, keyword, state, synced_at, old.version), upserted, removed, bodies)
