"""The message a QQ message quotes (回复), for the model.

NoneBot fetches the quoted message (`get_msg`) into `event.reply` and takes the quote out
of the message: "他说得对吗" quoting "明天全校放假" reached the model as the question
alone. The quote goes before the words as a short note (`bot.quoting`): who is quoted
(her own message is hers: "you" to the model; a member named after her, `author_label`,
is named with their QQ number, as in the room) and at most 200 characters of it, cleaned
as any message text is. It is not counted in the 4,000 characters a message may have:
the words keep all of theirs, and the note is at most a few hundred more. A quote the
implementation could not fetch (`event.reply` None) adds nothing. The quoted words are
read for this reply only: her memory keeps a note naming whose message it was
(`quoted_notes`, `bot.quoting.QuoteNotes`), so a quoted message recalled since, or its
author purged, is in no later prompt.
"""

from __future__ import annotations

from nonebot.adapters.onebot.v11 import MessageEvent

from bot.qq.forwards import qq_her_names, segments_text
from bot.qq.text import defang
from bot.quoting import QuoteNotes, author_label, quote_notes
from model.protocol import first_visible_name


def quoted_note(event: MessageEvent) -> str:
    """The note the model reads for the quoted message; "" when there is none or it says
    nothing."""
    return quoted_notes(event).shown


def quoted_notes(event: MessageEvent) -> QuoteNotes:
    """The quoted message's notes, read and kept; empty when there is none or it says
    nothing."""
    quoted = event.reply
    if quoted is None:
        return QuoteNotes()
    text = defang(segments_text(quoted.message, read_records=True)).strip()
    if not text:
        return QuoteNotes()
    sender = quoted.sender
    if str(sender.user_id) == str(event.self_id):
        return quote_notes(None, text)
    who = first_visible_name(sender.card, sender.nickname, fallback=str(sender.user_id or ""))
    label = author_label(defang(who) or "?", str(sender.user_id or ""), qq_her_names())
    return quote_notes(label, text)
