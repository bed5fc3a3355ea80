"""Notes put into her prompt for what a member's words alone do not say on Discord: the
message a reply quotes (a member asks "他说的是真的吗？" about someone else's message),
and a poll (its question and answers are no part of the message's text).

In the card's language, as the other notes are (`bot.lines`): a Chinese note in an
English chat pulls her replies into Chinese. Kept here until they join `BotLines`.
"""

from __future__ import annotations

from bot.lines import EN, JA, ZH, lines

# The most of a quoted message, or of a poll's answers, she is given: enough to know what is asked about, not so
# much that a long quote crowds out the conversation.
QUOTE_CHARS = 200
ELLIPSIS = "…"

# By the language of the bot's lines (told apart by their word for "you").
_QUOTE_NOTES = {
    ZH.you: "（回复 {name} 的消息：“{text}”）",
    EN.you: '(replying to {name}\'s message: "{text}")',
    JA.you: "（{name}のメッセージへの返信：「{text}」）",
}

_POLL_NOTES = {
    ZH.you: "（发起了投票：{question} 选项：{answers}）",
    EN.you: "(started a poll: {question} Answers: {answers})",
    JA.you: "（投票を作った：{question} 選択肢：{answers}）",
}
ANSWERS_SEPARATOR = " / "


def _in_language(notes: dict[str, str]) -> str:
    return notes.get(lines().you, notes[ZH.you])


def one_line(text: str, limit: int = QUOTE_CHARS) -> str:
    """`text` on one line, cut to `limit` characters (an ellipsis marks the cut)."""
    text = " ".join(text.split())
    return text[:limit].rstrip() + ELLIPSIS if len(text) > limit else text


def quote_note(name: str, text: str) -> str:
    """One line naming who is quoted and what they said, cut to `QUOTE_CHARS`."""
    return _in_language(_QUOTE_NOTES).format(name=name, text=one_line(text))


def poll_note(question: str, answers: list[str]) -> str:
    """One line with a poll's question and its answers (cut to `QUOTE_CHARS` together)."""
    listed = one_line(ANSWERS_SEPARATOR.join(answers))
    return _in_language(_POLL_NOTES).format(question=one_line(question), answers=listed)
