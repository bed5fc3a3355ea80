"""Notes put into her prompt before a member's words for what they answer on Discord: the
message a reply quotes (a member asks "他说的是真的吗？" about someone else's message).

In the card's language, as the other notes are (`bot.lines`): a Chinese note in an
English chat pulls her replies into Chinese. Kept here until they join `BotLines`.
"""

from __future__ import annotations

from bot.lines import EN, JA, ZH, lines

# The most of a quoted message she is given: enough to know what is asked about, not so
# much that a long quote crowds out the conversation.
QUOTE_CHARS = 200
ELLIPSIS = "…"

# By the language of the bot's lines (told apart by their word for "you").
_QUOTE_NOTES = {
    ZH.you: "（回复 {name} 的消息：“{text}”）",
    EN.you: '(replying to {name}\'s message: "{text}")',
    JA.you: "（{name}のメッセージへの返信：「{text}」）",
}


def quote_note(name: str, text: str) -> str:
    """One line naming who is quoted and what they said, cut to `QUOTE_CHARS`."""
    text = " ".join(text.split())
    if len(text) > QUOTE_CHARS:
        text = text[:QUOTE_CHARS].rstrip() + ELLIPSIS
    template = _QUOTE_NOTES.get(lines().you, _QUOTE_NOTES[ZH.you])
    return template.format(name=name, text=text)
