"""What one run carries between its pieces: where its scan started, and its counts so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import AItError
from ..pagination import Cursor
from ..storage.sync_state import RunCounts

__all__ = ["PageMappingError", "RunCounters", "ScanStart"]

_MAX_WARNINGS = 20


@dataclass(frozen=True)
class ScanStart:
    """The state a run starts from (read and updated in its first transaction)."""

    state_id: str
    generation: int
    completed_generation: int | None
    cursor: Cursor
    watermark: Any
    pending_watermark: Any
    pages_in_scan: int
    # Deletions can only be inferred from a scan that asked for everything (no watermark).
    full_scan: bool


@dataclass
class RunCounters:
    """The run's counts as committed (updated only after each page transaction commits)."""

    pages: int = 0
    pages_skipped: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    scan_completed: bool = False
    warnings: list[str] = field(default_factory=list)
    #: The first and last changes-feed positions this run's commits appended (``None``: none).
    positions: tuple[int, int] | None = None

    def warn(self, message: str) -> None:
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(message)

    def totals(self) -> RunCounts:
        return RunCounts(self.pages, self.added, self.updated, self.unchanged, self.deleted)

    def plus(self, pages: int, counts: RunCounts, deleted: int) -> RunCounts:
        """The totals once a transaction with these writes commits."""
        return RunCounts(
            self.pages + pages,
            self.added + counts.added,
            self.updated + counts.updated,
            self.unchanged + counts.unchanged,
            self.deleted + deleted,
        )

    def apply(self, totals: RunCounts) -> None:
        self.pages, self.added, self.updated = totals.pages, totals.added, totals.updated
        self.unchanged, self.deleted = totals.unchanged, totals.deleted


class PageMappingError(AItError):
    def __init__(self, message: str) -> None:
        super().__init__("SYNC_MAPPING_ERROR", message)
