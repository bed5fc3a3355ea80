"""What a message carries beside its own words, written for the model: the message it
quotes, a forwarded chat record, a face. Short, clearly marked notes in the language of
the bots' lines (`bot.lines`), so the model reads "（引用了小明的消息：明天全校放假）他说得对吗"
instead of a question about nothing.

Quoted and forwarded text is someone else's message: it is cleaned as any message text
is (the caller defangs it) and cut, so a quote cannot crowd out what the person said.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.lines import lines, lines_for

# The most of a quoted message the model reads: enough to know what is being answered.
MAX_QUOTE_CHARS = 200
CUT_MARK = "…"


@dataclass(frozen=True)
class Notes:
    quote: str  # {who} {text}
    own_quote: str  # {text}: a quote of her own message
    forward: str  # {record}: a forwarded chat record, one "name: text" a line
    forward_unread: str  # a forwarded record whose messages were not sent along
    forward_unread_reply: str  # her answer to such a record alone
    face: str  # a face no table names


_ZH = Notes(
    quote="（引用了{who}的消息：{text}）",
    own_quote="（引用了你说过的话：{text}）",
    forward="（转发了一段聊天记录：\n{record}\n）",
    forward_unread="（转发了一段聊天记录，内容看不到）",
    forward_unread_reply="这段聊天记录我打不开……把想说的直接打字告诉我吧！",
    face="（发了一个表情）",
)
_EN = Notes(
    quote="(quoting {who}: {text})",
    own_quote="(quoting what you said: {text})",
    forward="(forwarded a chat record:\n{record}\n)",
    forward_unread="(forwarded a chat record that cannot be read)",
    forward_unread_reply="I can't open this chat record... Tell me in words what you want to say!",
    face="(sent an emoji)",
)
_JA = Notes(
    quote="（{who}のメッセージを引用：{text}）",
    own_quote="（あなたが言ったことを引用：{text}）",
    forward="（チャット履歴を転送した：\n{record}\n）",
    forward_unread="（チャット履歴を転送したが、中身は見えない）",
    forward_unread_reply="このチャット履歴は開けないの……言いたいことを言葉で教えてね！",
    face="（絵文字を送った）",
)
_BY_LANGUAGE = {"zh": _ZH, "en": _EN, "ja": _JA}


def notes() -> Notes:
    """The notes in the language the bots speak now (`bot.lines.use_card`)."""
    current = lines()
    for language, written in _BY_LANGUAGE.items():
        # picture_note names nobody: it tells the current lines' language apart.
        if lines_for("", language).picture_note == current.picture_note:
            return written
    return _ZH


def cut(text: str, limit: int = MAX_QUOTE_CHARS) -> str:
    """At most `limit` characters, marked when cut; on one line."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - len(CUT_MARK)] + CUT_MARK


def quote_note(who: str | None, text: str) -> str:
    """A quoted message before the words: `who` None when it was her own."""
    if who is None:
        return notes().own_quote.format(text=cut(text))
    return notes().quote.format(who=cut(who, 32), text=cut(text))
