"""The bots' Japanese lines read as Japanese: sentences end in 。, not in the full-width
colon or semicolon a Chinese sentence may join two clauses with."""

from __future__ import annotations

from dataclasses import fields

from bot.lines import EN, JA, ZH, BotLines

# Lines that are a label before what follows it ("モデルのバージョン：v3", "覚えていること：")
# or a short menu entry: the full-width colon is right there.
LABELS = {
    "remembered",
    "recent_turns",
    "status_version",
    "status_queue",
    "status_uptime",
    "status_engine",
    "status_reload",
    "cannot_post_elsewhere",  # before the places, one a line
    "cannot_post_managed",  # the same
    "reload_refused",  # before the reason
    "reload_passed_over",  # before the reason, as reload_refused
    "worker_said",  # before the worker's own (English) sentence
    # Notes for the model: what is quoted, asked or forwarded after the colon.
    "quote_note",
    "own_quote_note",
    "poll_note",
    "forward_note",
    "reload_unreachable",
    "discord_details",
    "sticker_note",
    "attachment_note",
    "emoticon_note",
    "card_note",
    "location_note",
    "dice_note",
    "slash_memory",
    "slash_status",
    "slash_mode_off",
}


def test_japanese_sentences_are_not_joined_by_a_colon_or_a_semicolon() -> None:
    """`personal_user_reset` and `shared_user_reset` joined two sentences with "：", and
    the QQ usage text ended its first line with "；" (Japanese has no semicolon)."""
    joined = []
    for field in fields(BotLines):
        text = getattr(JA, field.name)
        if "；" in text or ("：" in text and field.name not in LABELS):
            joined.append(field.name)
    assert joined == []


def test_every_line_the_bots_say_has_its_japanese_and_chinese_words() -> None:
    """None is left in English (a newer line copied from EN), and each names her where the
    English one does."""
    for field in fields(BotLines):
        english = getattr(EN, field.name)
        for other in (ZH, JA):
            text = getattr(other, field.name)
            assert field.name == "name" or text != english, field.name
            assert ("{name}" in text) == ("{name}" in english), field.name
