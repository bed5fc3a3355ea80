"""Session 44: `WritesInFlight`, what a write touches (`tests/model/memory/
test_reads_beside_writes_s44.py` runs it on a real file; a read begun while a purge's
first writes commit is no longer done again: since session 47 a purge is one
transaction, `test_purge_one_transaction_s47.py`)."""

from __future__ import annotations

from model.grouping import Touch


def test_what_each_write_touches() -> None:
    """Scope keys a person's or a channel's touch reaches, and those it does not."""
    person = Touch(people=frozenset([("qq", "9")]), shared_on=frozenset(["qq"]))
    reached = ["qq:user:9", "qq:chan:g1:user:9", "qq:chan:g2", "qq:chan:a/b"]
    missed = ["qq:user:90", "qq:chan:g1:user:2", "discord:chan:g2", "discord:user:9"]
    assert all(person.reaches(("scope", key)) for key in reached)
    assert not any(person.reaches(("scope", key)) for key in missed)
    assert person.reaches(("scopes", "qq")) and not person.reaches(("room", "qq:chan:g1"))
    channel = Touch(scopes=frozenset(["qq:chan:7"]), scope_prefixes=("qq:chan:7:",))
    assert channel.reaches(("scope", "qq:chan:7:user:1"))
    assert not channel.reaches(("scope", "qq:chan:70"))
