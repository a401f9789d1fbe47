"""What one knowledge base may hold and take in, so that one tenant of a server can neither fill its disk nor keep
the one learning worker from everyone else: every character added is learned, minutes of training per KB on a CPU.

The server checks them as documents come in (``dualbrain serve --kb-max-chars/--kb-chars-per-hour``); a file that
would pass one is reported, not added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dualbrain.errors import OverQuota
from dualbrain.store.records import DocumentRecord

_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Quotas:
    """Limits per knowledge base; None: none."""

    max_chars: int | None = 10_000_000  # characters its documents hold together
    chars_per_hour: int | None = 1_000_000  # characters added within any hour

    def __post_init__(self) -> None:
        if any(limit is not None and limit < 1 for limit in (self.max_chars, self.chars_per_hour)):
            raise ValueError(f"quotas are at least 1 character (None: no limit): {self}")

    def check(self, held: list[DocumentRecord], chars: int, source: str, now: datetime | None = None) -> None:
        """Raise :class:`OverQuota` where adding ``source`` (``chars`` characters) to a knowledge base holding
        ``held`` would pass a quota; a rate's error says when the document would fit."""
        if self.max_chars is not None and (total := sum(doc.chars for doc in held)) + chars > self.max_chars:
            raise OverQuota(source, f"the knowledge base holds {total:,} characters; {chars:,} more would pass its "
                                    f"quota of {self.max_chars:,}")
        if self.chars_per_hour is None:
            return
        now = now or datetime.now(timezone.utc)
        recent = sorted((datetime.fromisoformat(doc.added_at), doc.chars) for doc in held
                        if now - datetime.fromisoformat(doc.added_at) < _HOUR)
        added = sum(count for _, count in recent)
        if added + chars <= self.chars_per_hour:
            return
        reason = f"{added:,} characters were added in the last hour; {chars:,} more would pass the quota of " \
                 f"{self.chars_per_hour:,} per hour"
        if chars > self.chars_per_hour:
            raise OverQuota(source, reason + ": split the document")
        for added_at, count in recent:  # the hour makes room as the earliest additions leave it (all: room enough)
            added -= count
            if added + chars <= self.chars_per_hour:
                break
        raise OverQuota(source, reason, retry_after=max(1, int((added_at + _HOUR - now).total_seconds()) + 1))
