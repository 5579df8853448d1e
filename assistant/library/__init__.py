"""The library's sources: sync (the collection mirrors folders, Zotero databases and
bibliography files), what the index remembers of each source, and watching them."""

from assistant.library.registry import FileState, Registry, SourceInfo
from assistant.library.sync import SyncOptions, SyncReport, source_key, sync

__all__ = ["FileState", "Registry", "SourceInfo", "SyncOptions", "SyncReport", "source_key", "sync"]
