"""Quotas: what a knowledge base may hold, and take in per hour, with when a refused document would fit."""

from datetime import datetime, timedelta, timezone

import pytest

from dualbrain.errors import OverQuota
from dualbrain.store import DocumentRecord, Quotas

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=timezone.utc)


def held(*documents: tuple[int, int]) -> list[DocumentRecord]:
    """Documents of (characters, minutes ago)."""
    return [DocumentRecord(f"d{i}", "sha", f"{i}.md", "md", chars, chars, "learned", (NOW - timedelta(minutes=ago)).isoformat())
            for i, (chars, ago) in enumerate(documents)]


def test_what_a_knowledge_base_holds_is_limited() -> None:
    quotas = Quotas(max_chars=1000, chars_per_hour=None)
    quotas.check(held((600, 600)), 400, "fits.md", NOW)  # the limit itself is allowed
    with pytest.raises(OverQuota, match="the knowledge base holds 600 characters; 401 more would pass its quota of 1,000") as caught:
        quotas.check(held((600, 600)), 401, "big.md", NOW)
    assert caught.value.source == "big.md" and caught.value.retry_after is None


def test_what_it_takes_in_per_hour_is_limited_and_the_refusal_says_when_it_fits() -> None:
    quotas = Quotas(max_chars=None, chars_per_hour=1000)
    earlier = held((500, 50), (300, 20), (900, 61))  # the last one is older than an hour: it does not count
    quotas.check(earlier, 200, "fits.md", NOW)
    with pytest.raises(OverQuota, match="800 characters were added in the last hour; 400 more") as caught:
        quotas.check(earlier, 400, "later.md", NOW)
    assert caught.value.retry_after == 10 * 60 + 1  # when the 500 added 50 minutes ago leave the hour
    with pytest.raises(OverQuota, match="split the document") as caught:
        quotas.check([], 1001, "huge.md", NOW)
    assert caught.value.retry_after is None


def test_quotas_are_at_least_one_character() -> None:
    with pytest.raises(ValueError):
        Quotas(max_chars=0)
    Quotas(None, None)  # no limits at all
