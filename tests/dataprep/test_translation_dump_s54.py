"""Session 54: a translation dump's name records (`★nme00001★香奈`) were sought in its
first 200,000 characters only, so a dump whose opening narration ran longer lost the
speakers of every line a record names (those not quoted: a quoted one is named by the
name alone above it anyway)."""

from __future__ import annotations

from dataprep.formats import ParseOptions, parse
from tests.dataprep.conftest import FIXTURES


def _narration_pairs(chars: int) -> str:
    """Pairs of narration, DLTxT's `★txtN★` / `☆txtN☆`, at least `chars` long."""
    pair = "★txt{0:05d}★潮風が堤防を吹き抜けていく。\n☆txt{0:05d}☆海风吹过堤防。\n\n"
    count = chars // len(pair.format(0)) + 1
    return "".join(pair.format(n) for n in range(count))


def test_name_records_after_a_long_opening_name_their_lines() -> None:
    records = (FIXTURES / "s54" / "late_name_records.txt").read_text("utf-8")
    for opening in (0, 250_000):
        text = _narration_pairs(opening) if opening else ""
        text += records
        assert opening == 0 or text.index("nme") > 200_000
        said = parse(text, "dump.txt", "translation_dump", ParseOptions())
        named = [(u.speaker, u.text) for u in said if u.speaker is not None]
        assert named == [
            ("香奈", "「哥哥，快起来」"),
            ("秀治", "再让我睡五分钟吧。"),
            ("香奈", "真是的，要迟到了！"),
        ]
        # The name records are taken out, never lines of their own; a record names the
        # line below it, quoted or not.
        assert not any(u.text in ("香奈", "秀治") for u in said)
