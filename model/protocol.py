"""The worker's interface as data: what adapters send and get back.

Adapters (Discord, QQ, console, HTTP clients) only ever see these types and the
`Worker` protocol; they never import torch or know which engine answers.
"""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from typing import Annotated, Any, Literal, Protocol, Self, runtime_checkable

import regex
from pydantic import BaseModel, BeforeValidator, Field, PositiveInt, StrictBool, StringConstraints

from atri.errors import UserError
from atri.text_files import LONE_SURROGATE

# The version of this interface's HTTP form (model/server/app.py, bot/relay.py), sent
# both ways in the `ATRI-Protocol` header. Raised whenever one side adds a field or a
# value the other would quietly ignore or refuse (a bot's `edited` or `line_only`, a
# worker's "recalled"): a bot and a worker of different versions then refuse each other
# with one sentence instead of, say, remembering a message its author deleted. Releases
# from before the header sent none. 2: a reset's `here_only` (an older worker would
# ignore it and reset a member's conversation everywhere). 3: `edited` for a message she
# answered, in a DM too (an older worker would answer a DM's edit as a new message).
# 4: a status's `base_is_folder` (an older bot would show a server's admin the path of a
# base model read from a folder beside the worker's config). 5: an edit's `edited_at` (an
# older worker would ignore it, and of two edits arriving out of order keep the older).
# 6: a reply cut's `keep_message` (an older worker would ignore it and archive the
# message with her unsent reply). 7: a quoting message's `with_quote` (an older worker
# would answer without the quoted words; an older bot would send them in `text`, and a
# message recalled since would stay in the conversations of those who quoted it), and
# `/forget-channel` for a deleted channel (an older worker answers it 404).
PROTOCOL_VERSION = 7
PROTOCOL_HEADER = "ATRI-Protocol"
# Who answers, on every answer of the worker: a short digest of her name and language
# (`character_tag`). A bot learns the worker's character (her error line in its
# language) when this first appears or changes: a worker that came up after the bot,
# or came back with another character or language. A bot ignores it otherwise (and one
# from before it never reads it), so the protocol version stays.
CHARACTER_HEADER = "ATRI-Character"
# Why the worker refused a token (the `code` of its 401 answers, beside `detail`).
NO_TOKEN_SET = "no_token_set"  # the worker has no ATRI_ADMIN_TOKEN: it refuses everyone
WRONG_TOKEN = "wrong_token"  # none sent, or another one
# The `code` of a 503 whose memory database failed (`MemoryUnavailable`).
MEMORY_UNAVAILABLE = "memory_unavailable"


class MemoryUnavailable(UserError):
    """The memory database failed under a command (a reset, `/atri memory`, a deleted
    message's forgetting): a damaged file, a full disk, another program writing. The
    text is the one sentence that says so; the worker has logged it already (once a
    while, as for chats), so a bot only answers that memory is unavailable now."""


def protocol_mismatch(theirs: str | None, them: str, us: str) -> str | None:
    """The sentence for a peer (`them`) whose `ATRI-Protocol` header says another
    version than ours (`us`), None when it says ours; no header at all: a release older
    than the header."""
    if theirs is not None and theirs.strip() == str(PROTOCOL_VERSION):
        return None
    said = "none (a release older than it)" if theirs is None else repr(theirs.strip()[:20])
    return (
        f"{them} speaks ATRI protocol {said}, {us} protocol {PROTOCOL_VERSION}: run the same "
        "ATRI release for `atri worker` and the bots, and restart the older one."
    )


def character_tag(name: str, language: str) -> str:
    """The `ATRI-Character` of a worker whose character is `name`, speaking `language`."""
    return hashlib.sha256(f"{language}\n{name}".encode()).hexdigest()[:16]


# The control characters (category Cc) but the newline and the tab, which text holds, as
# the body of a character class: `clean_str` drops them on arrival, `atri.terminal` before
# printing (it adds the bidi controls, which only a terminal acts on).
CONTROL_CHARACTERS = "\x00-\x08\x0b-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
# Those `str.splitlines` and her prompt (`_LINE_BREAK`) end a line at: the vertical tab,
# form feed, the file, group and record separators and NEL.
_LINE_ENDS = frozenset("\x0b\x0c\x1c\x1d\x1e\x85")


def clean_str(text: str) -> str:
    """Text from outside as it can be stored and shown: a lone surrogate (JSON allows
    `"\\ud800"`) cannot be encoded as UTF-8, not in a reply, a log line or SQLite, so each
    becomes U+FFFD, as an invalid byte would; a NUL character ends a C string (in a
    terminal, a log reader, a platform's client) and is dropped; a line ends in "\\n",
    not Windows' "\\r\\n" or a lone "\\r" (a carriage return in a terminal writes the rest
    of the line over its start). The other control characters (category Cc, a tab
    aside) go too: invisible, they made a message of "\\x01\\x02" a blank turn in
    memory, and `/reset\\x00` piped from a file an unknown command. Those that end a line
    for `str.splitlines` (the vertical tab, form feed, U+001C-U+001E and NEL) become
    "\\n", not nothing between two words.
    Every platform's text meets this in one place: the request's fields."""
    if LONE_SURROGATE.search(text):
        text = LONE_SURROGATE.sub("\ufffd", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda control: "\n" if control[0] in _LINE_ENDS else "", text)
    return text


# Letters drawn as blanks (the Hangul fillers, the blank Braille pattern): a message of
# only these is the well-known way to post an "empty" one.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def visible_text(text: str) -> str:
    """`text` without its outer whitespace, or "" when nothing in it shows: a message of
    zero-width characters (U+200B, U+200C, U+200D, U+2060, U+FEFF and the other format
    characters) or of control characters ("\\x01", DEL) is as empty as a blank one,
    wherever it comes from."""
    text = text.strip()
    for char in text:
        if not (char.isspace() or char in _BLANK_LETTERS or _is_invisible(char)):
            return text
    return ""


def _is_invisible(char: str) -> bool:
    """A format (Cf) or control (Cc) character: nothing shows for it."""
    return unicodedata.category(char) in ("Cf", "Cc")


# What a name must not carry into a line of the prompt, a log line or her reply: Unicode's
# format characters (category Cf), all invisible. The bidi embeddings, overrides,
# isolates and marks (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) turn the text
# after them around (a name ending in U+202E reverses the `：text` its line goes on with,
# and "Bob\u202e:tnatsissa" reads as a label); zero-width spaces and joiners, the word
# joiner, the BOM and the soft hyphen make one name a different string from the same
# one; tag characters (U+E0000-U+E007F) spell ASCII nobody sees and a model reads. Two
# of them draw emoji and stay: a zero-width joiner between two emoji (👩‍💻, 🏳️‍🌈), and
# the tags of the only three subdivision flags there are (England, Scotland, Wales),
# whose fixed spelling hides nothing. And the two joiners spell words in the scripts
# whose letters join or stack (Persian's "می‌خواهم", Hindi's conjuncts): between two
# letters of one such script they stay; they change nothing a Latin or CJK name shows.
_ZERO_WIDTH_JOINER = "\u200d"
_JOINERS = frozenset("\u200c\u200d")
_JOINING_SCRIPTS = (
    "Arabic", "Syriac", "Nko", "Mongolian", "Devanagari", "Bengali", "Gurmukhi",
    "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada", "Malayalam", "Sinhala",
)  # fmt: skip
# Two characters of one of those scripts (a combining mark is of its letter's script).
_SAME_JOINING_SCRIPT = regex.compile(
    "|".join(f"\\p{{Script={script}}}{{2}}" for script in _JOINING_SCRIPTS)
)
# What may stand between an emoji and the joiner that joins it to the next: a skin tone
# (👍🏻), the emoji presentation selector (❤️).
_EMOJI_MODIFIERS = frozenset("\ufe0f\U0001f3fb\U0001f3fc\U0001f3fd\U0001f3fe\U0001f3ff")
_SUBDIVISION_FLAGS = [
    "\U0001f3f4" + "".join(chr(0xE0000 + ord(letter)) for letter in code) + "\U000e007f"
    for code in ("gbeng", "gbsct", "gbwls")
]


# A subdivision flag (group 1), or a run of format characters: category Cf as the
# `regex` module's Unicode tables have it (newer than unicodedata's: 170 of them, 163).
_FORMAT_RUNS = regex.compile(f"({'|'.join(_SUBDIVISION_FLAGS)})|\\p{{Cf}}+")

# A character as a reader sees one, a grapheme cluster: 👨‍👩‍👧's joiners, a flag's two
# letters, a skin tone, an accent, Thai "กำ", Hangul jamo. Text cut between two code
# points of one shows broken halves, in a split message (bot/splitting.py) or a /v1
# stream's deltas alike.
GRAPHEME = regex.compile(r"\X")


def visible_name(name: str) -> str:
    """A name without the invisible format characters that can change how the rest of
    its line reads or whose name it seems to be (see above); a joiner inside an emoji
    and a subdivision flag's tags stay. Letters of every script, emoji, variation
    selectors and punctuation are left as they are."""

    def kept(run: regex.Match[str]) -> str:
        if run[1] or (run[0] == _ZERO_WIDTH_JOINER and _joins_emoji(name, run.start())):
            return run[0]
        if run[0] in _JOINERS and _joins_letters(name, run.start()):
            return run[0]
        return ""

    return _FORMAT_RUNS.sub(kept, name)


def first_visible_name(*names: object, fallback: str = "") -> str:
    """The first of `names` (the platform's own order: a QQ group card, then the
    nickname) that shows something once `visible_name` has cleaned it, cleaned; else
    `fallback` (the id the caller goes by). A card of zero-width characters or blank
    letters only does not hide the nickname behind it, nor leave a label of nothing."""
    for name in names:
        if isinstance(name, str):
            shown = visible_name(name)
            if visible_text(shown):
                return shown
    return fallback


def _joins_emoji(text: str, at: int) -> bool:
    """Whether `text[at]` is a zero-width joiner between two emoji (symbols: category So)."""
    if text[at] != _ZERO_WIDTH_JOINER or at + 1 >= len(text):
        return False
    before = at - 1
    while before >= 0 and text[before] in _EMOJI_MODIFIERS:
        before -= 1
    return before >= 0 and _is_emoji(text[before]) and _is_emoji(text[at + 1])


def _joins_letters(text: str, at: int) -> bool:
    """Whether `text[at]` stands between two characters of one script whose words hold
    joiners (`_JOINING_SCRIPTS`)."""
    if at == 0 or at + 1 >= len(text):
        return False
    return _SAME_JOINING_SCRIPT.fullmatch(text[at - 1] + text[at + 1]) is not None


def _is_emoji(char: str) -> bool:
    return unicodedata.category(char) == "So"


def clean_text(value: object) -> object:
    """`clean_str` as a field validator (a value of another type is pydantic's to refuse)."""
    return clean_str(value) if isinstance(value, str) else value


# A string from outside: text, ids, names. Always encodable.
Text = Annotated[str, BeforeValidator(clean_text)]
# A platform's name, or a channel's id where one must be named: never empty (an empty
# one would make a conversation or a channel setting of nobody's, `:user:7`).
Named = Annotated[str, StringConstraints(min_length=1), BeforeValidator(clean_text)]

# The longest display name kept: platforms allow about 32 characters, and a name is
# stored with every message and room line, put in the prompt and written into her reply
# for {{user}}, so a longer one (a client's, not a platform's) is cut here, on arrival.
# The prompt cuts ids and names stored before this limit to the same length.
MAX_DISPLAY_NAME_CHARS = 64


def short_name(value: object) -> object:
    """A display name as it arrives: `clean_text`, without invisible controls
    (`visible_name`), cut, and "" when nothing of it shows (the prompt then names its
    person by id). Cleaned again after the cut, which may end inside a flag's tags."""
    value = clean_text(value)
    if not isinstance(value, str):
        return value
    return first_visible_name(visible_name(value)[:MAX_DISPLAY_NAME_CHARS])


DisplayName = Annotated[str, BeforeValidator(short_name)]

# At most this many stop strings per request, as OpenAI allows.
MAX_STOP_STRINGS = 4
# One stop string: never empty (it would cut every reply to nothing).
StopText = Annotated[str, StringConstraints(min_length=1), BeforeValidator(clean_text)]

ScopeKind = Literal["user", "user_in_channel", "channel"]

# What an admin set for a channel or group: "off" (silent), "mention" (answers when
# addressed, the default) or "all" (speaks up: answers every message there).
ChannelMode = Literal["off", "mention", "all"]

# `Worker.reset` returns this instead of a count when the user's conversation is the
# channel's shared one (scope "channel"): only an admin may reset that, as a channel.
SHARED_SCOPE = -1
# `Worker.reset` with `here_only` returns this when the user's conversation is not kept
# for that channel alone (scope "user": one per person, across servers, groups and DMs):
# it is left as it was, and only their room lines in that channel are archived.
PERSONAL_SCOPE = -2


class ChatTurn(BaseModel):
    """One earlier message of a conversation that the client keeps itself."""

    role: Literal["user", "assistant"]
    content: Text


class ChatRequest(BaseModel):
    """One message to answer. The worker decides from the ids which conversation (memory
    scope) it belongs to; bots never compute scopes."""

    platform: Named
    # "" = an anonymous client (the OpenAI API without `user`): nothing is stored and no
    # per-user rate limit applies.
    user_id: Text
    text: Text
    display_name: DisplayName = ""
    channel_id: Text = ""
    guild_id: Text = ""
    # A thread's parent channel (Discord): [room] channel lists naming it cover the thread.
    parent_channel_id: Text = ""
    # False: said in a group or channel, not to ATRI. The worker keeps it as room
    # context (when that is on for the channel) and answers with status "heard".
    # Strict, as every flag on the wire: JSON true or false, not "yes", 1 or "off".
    addressed: StrictBool = True
    # False: the bot could not post an answer there now (on Discord she is timed out, or
    # lacks Send Messages): a message not addressed to her is kept as room context, and
    # she never speaks up to it, so no generation is spent on a reply that cannot go
    # out. No protocol version of its own: a worker from before it ignores it and speaks
    # up as it did, and the bot's post is refused as it was.
    may_speak_up: StrictBool = True
    # A message quoting another as the model reads it for this reply only: a note with
    # the quoted message's words, then the member's own words, as in
    # "（引用了小明的消息：明天全校放假）他说得对吗"; "" when it quotes nothing. `text`
    # names only whose message it quotes ("（引用了小明的消息）他说得对吗"): that is what
    # is stored (her conversation, room lines, edits), so a quoted message recalled or
    # purged is in no later prompt.
    with_quote: Text = ""
    # The platform's id of the message: her exchange or room line of it is found by it
    # when the message is deleted, recalled or edited (`forget_message`, `edited`).
    request_id: Text = ""
    # The message (`request_id`) was heard or answered before and has been edited
    # (Discord): its room line and its stored copy in her conversation take the new
    # text. Never answered, nothing added, and she never speaks up to it.
    edited: StrictBool = False
    # When the platform says the text was last edited (seconds since 1970; 0 = not told,
    # for an edit: when the worker got it). Two edits of one message can reach the worker
    # either way round: the newer by this time is kept, an older one changes nothing.
    edited_at: float = 0.0
    # When the platform says the message was sent (seconds since 1970; 0 = not told).
    # Room lines are kept in this order, not in the order they reached the worker: a bot
    # handles each platform event in its own task, so two said a moment apart can arrive
    # either way round.
    sent_at: float = 0.0
    # A client that keeps its own conversation (the OpenAI API) sends the messages before
    # `text` here; stored memory is then not read for this request (the exchange is
    # still stored when user_id is set).
    context: list[ChatTurn] | None = None
    # The client's own system prompt (a SillyTavern card, say), replacing the character's.
    system_prompt: Text = ""
    # The client's own reply length (the OpenAI API's `max_tokens`): the smaller of it and
    # `[generation] max_new_tokens` applies. None: the setting alone.
    max_new_tokens: PositiveInt | None = None
    # The reply ends before the first of these strings (the OpenAI API's `stop`).
    stop: list[StopText] = Field(default_factory=list, max_length=MAX_STOP_STRINGS)
    # Her unfinished reply to `text`, which she goes on writing (the OpenAI API's Continue:
    # a client that keeps its own `context`); the reply is only the rest of it, and
    # nothing is stored (her reply was stored when first made). Bots never send it, so no
    # protocol version of its own: a worker from before it ignores it.
    reply_so_far: Text = ""

    def text_for_reply(self) -> str:
        """The message as the model reads it now: `with_quote` where it quotes one, else
        `text`; "" when nothing of it shows (`visible_text`)."""
        return visible_text(self.with_quote) or visible_text(self.text)

    def as_edit(self) -> ChatRequest:
        """This message as an edit of the one heard or answered under its `request_id`:
        made at its `edited_at`, or where the platform tells no edit time, now (as the
        bot received it)."""
        edited_at = self.edited_at or time.time()
        return self.model_copy(update={"addressed": False, "edited": True, "edited_at": edited_at})


class Reply(BaseModel):
    text: str
    scope: str = ""
    # The adapter version that wrote the reply ("" = the base model); on a line the
    # worker says itself (status other than "ok"), the version live when it said it.
    adapter_version: str = ""
    # "ok": a model reply; "busy": overloaded or timed out; "error": the worker failed;
    # "rate_limited": this user sent too much too fast; "refused": the request cannot be
    # answered as sent (`text` says why); "heard": a message not addressed to her, kept as
    # room context and not answered (`text` is empty: post nothing); "recalled": its
    # message was deleted or recalled (`forget_message`) before she finished answering
    # it, or is a copy of one she is answering or answered (the platform delivered it
    # again): `text` is empty, post nothing. Only "ok" exchanges are stored as
    # conversation.
    status: Literal["ok", "busy", "error", "rate_limited", "refused", "heard", "recalled"] = "ok"
    ooc_retries: int = 0
    latency_ms: float = 0.0
    # Tokens of the prompt as fitted, and of the reply (the OpenAI API's usage figures).
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # "length": the reply was cut at its token limit (the request's `max_new_tokens` or
    # `[generation] max_new_tokens`); "stop": it ended by itself or at a stop string.
    finish_reason: Literal["stop", "length"] = "stop"
    # With status "error" from a worker that cannot answer anyone as configured (its
    # character prompt leaves no room in the context window): the sentence saying so.
    # Never sent over /chat (bots say her error line, as for any error, and the protocol
    # is unchanged); the OpenAI API answers it as a server error, not as her reply.
    error_detail: str = Field(default="", exclude=True)


class ScopeRef(BaseModel):
    """Which conversation a command means. With a user id: that user's conversation
    (in this channel, if memory is scoped per channel); without: the whole channel."""

    platform: Named
    user_id: Text = ""
    channel_id: Text = ""
    guild_id: Text = ""
    # A reset only: of what is kept for this channel alone (an admin of its server or
    # group, not the bot's owner). See PERSONAL_SCOPE.
    here_only: StrictBool = False


class MessageRef(ScopeRef):
    """One message a platform sent (`request_id`, as in its ChatRequest), and so the
    exchange stored for it and its room line. Without a user id (a platform that no
    longer says whose it was) the exchange is looked for in each of the platform's
    conversations. `line_only`: the message stays (edited to be for her, it is about to
    be answered); only its room line goes."""

    request_id: Text
    line_only: StrictBool = False

    @classmethod
    def of(cls, request: ChatRequest, **extra: Any) -> Self:
        """The ref of `request`'s message (a `ReplyCut` of her reply to it), with `extra`
        fields set."""
        return cls(
            platform=request.platform,
            user_id=request.user_id,
            channel_id=request.channel_id,
            guild_id=request.guild_id,
            request_id=request.request_id,
            **extra,
        )


class ReplyCut(MessageRef):
    """Only `sent` of her reply to that message reached the platform ("" = none of it).

    With none of it sent, the exchange is archived whole (hidden from the model, as a
    reset hides it), unless `keep_message`: then only her reply is, and the message stays
    in the conversation as said, with no answer: for chats where no room line keeps what
    was said to her (a private chat), so a refused send loses none of the person's words.
    """

    sent: Text = ""
    keep_message: StrictBool = False


# The most message ids a deleted channel's forgetting names (`ChannelRef.request_ids`):
# what a bot knows of its messages (discord.py's cache of 1000, her last 2000 reply
# parts), with room to spare, in a body well under the worker's 2 MiB.
MAX_CHANNEL_MESSAGES = 10_000


class ChannelRef(BaseModel):
    """A channel or thread deleted on its platform (Discord sends no delete of its
    messages): what was kept of it goes as a deleted message's does (`forget_message`).
    `thread_ids`: its threads the bot knows of, deleted with it. `request_ids`: the
    messages the bot knows were said in it or them; where memory is kept per person
    (`[memory] scope = "user"`) their exchanges record no channel, and are found by
    these alone."""

    platform: Named
    channel_id: Named
    guild_id: Text = ""
    thread_ids: list[Named] = Field(default_factory=list, max_length=MAX_CHANNEL_MESSAGES)
    request_ids: list[Named] = Field(default_factory=list, max_length=MAX_CHANNEL_MESSAGES)


class ChannelSetting(BaseModel):
    platform: Named
    channel_id: Named
    mode: ChannelMode


# A base model named by a path (`[model] base = "/home/me/models/…"`), not a hub id: for
# a worker that does not say whether it read a folder (vLLM's model path, which names a
# folder on its own machine, is no folder on the worker's).
LOCAL_PATH = re.compile(r"^(?:[/\\~.]|[A-Za-z]:[/\\])")


class WorkerStatus(BaseModel):
    engine: str
    base_model: str
    # The base model was read from a folder on the worker's machine (`[model] base` a
    # path, relative ones too): `base_model` is its absolute path, so only the bot's
    # owners (and callers holding the worker's token) see it.
    base_is_folder: bool = False
    adapter_version: str = ""
    queue_depth: int = 0
    uptime_seconds: float = 0.0
    last_reload: dict[str, Any] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)

    def base_model_name(self) -> str:
        """`base_model` as those who may not see the worker's folders see it: a folder by
        its name (a hub id such as "Qwen/Qwen2.5-7B-Instruct" as it is)."""
        base = self.base_model
        if not (self.base_is_folder or LOCAL_PATH.match(base)):
            return base
        return re.split(r"[/\\]", base.rstrip("/\\"))[-1] or base


class Character(BaseModel):
    """Who answers: what a chat front end shows before the first message."""

    name: str
    greeting: str  # with {{user}} where the person's name goes
    user_name: str  # the name used when a platform gives none
    language: str = ""  # the language she speaks ("zh", "en", "ja"; "" = not told)
    # Every greeting she may open a conversation with, `greeting` first (a card's
    # `alternate_greetings` after it); empty for a card with none, and from a worker
    # that predates them.
    greetings: list[str] = Field(default_factory=list)

    def greeting_of(self, conversation: str) -> str:
        """The greeting a conversation is shown: one of `greetings`, picked by a hash of
        the conversation's key (`conversation`), so the same one every time it is asked,
        after a restart too, and in every process; `greeting` for none."""
        options = self.greetings or [self.greeting]
        if not conversation:
            return options[0]
        digest = hashlib.sha256(conversation.encode("utf-8", "surrogatepass")).digest()
        return options[int.from_bytes(digest[:8], "big") % len(options)]


class HistoryEntry(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    display_name: str = ""
    # Who wrote a user turn: in a conversation a channel shares, not always the asker
    # ("" from a worker older than this field, and for her replies).
    user_id: str = ""


class Remembered(BaseModel):
    """What she remembers of one conversation: its rolling summary (of exchanges that
    fell out of the prompt) and the recent turns the model still sees itself."""

    summary: str = ""
    summary_adapter_version: str = ""
    turns: list[HistoryEntry] = Field(default_factory=list)
    # Asked in private by a person with no conversation of their own: how many
    # conversations channels share (`[memory] scope = "channel"`) hold their words, which
    # the bots say instead of "nothing remembered yet". An older worker sends none.
    shared_conversations: int = 0


class ReloadResult(BaseModel):
    ok: bool
    message: str  # one English sentence: the log's and the HTTP API's
    adapter_version: str = ""  # live afterwards ("" = the base model)
    # The same in parts, for the bots to say in the card's language (`bot.lines`). `code`:
    # "switched" (`version` went live in place of `previous`), "rolled_back" (the same, by
    # a rollback), "already_serving" (`version`), "refused" (`version`, for `reason`;
    # `adapter_version` stays live), "no_version" (none complete in `folder`),
    # "nothing_older" (a rollback with the base model live), "no_adapters" (`engine`
    # takes none), "unreachable" (a bot's: the worker did not answer, `reason` says how).
    # "", or one a bot does not know (a worker older or newer): the bot shows `message`.
    code: str = ""
    version: str = ""  # the version it is about ("" = the base model)
    previous: str = ""
    reason: str = ""  # as the worker words it (it names files and settings)
    engine: str = ""
    folder: str = ""
    # Why, for the bots to word in her language (`bot.lines`) rather than put `reason`'s
    # English inside another language's sentence: one of `REASON_CODES`, with the names
    # and figures its sentence takes in `reason_details`. "" (a worker older than these,
    # or a refusal it has no code for): the bots show `reason` as the worker's words.
    reason_code: str = ""
    reason_details: dict[str, str] = Field(default_factory=dict)
    # Of a "switched" or "already_serving" reload: the newest version, newer than the one
    # served, that it passed over (another character's, one refused by its file checks),
    # with `reason`, `reason_code` and `reason_details` saying why; "" when none.
    skipped: str = ""


# `ReloadResult.reason_code`s and the `reason_details` each carries:
# "other_character" (trained_as, serves): the version is another character's;
# "other_base" (trained_on, running): trained on another base model;
# "other_config" (recorded, loaded): on a base model of another config (hash);
# "other_template": under another chat template than the served one ([model] chat_template);
# "eval_missing" (path): no usable eval.json while [reload] require_eval is on;
# "ooc_worse" (rate, against, against_rate, margin): out of character more often than the
#   live version (`against`, "" = the base model) by more than the margin;
# "smoke_empty": the smoke generation wrote nothing; "engine_unavailable": the engine's
# server did not answer; "conflict": another loaded version is at fault; "unwritten": its
# files could not be written (a full disk); "invalid": its files or manifest failed a
# check, `reason` says which; "load_error": loading it raised, `reason` says what;
# "bare_folders" (folders, count; of a "no_version"): peft folders without a manifest;
# "rolled_back": an admin rolled back from it, so only a reload naming it serves it.
REASON_CODES = frozenset(
    {
        "other_character",
        "other_base",
        "other_config",
        "other_template",
        "eval_missing",
        "ooc_worse",
        "smoke_empty",
        "engine_unavailable",
        "conflict",
        "unwritten",
        "invalid",
        "load_error",
        "bare_folders",
        "rolled_back",
    }
)


@runtime_checkable
class Worker(Protocol):
    """One interface, two transports: the in-process service and the HTTP client."""

    async def chat(self, request: ChatRequest) -> Reply: ...

    async def history(self, scope: ScopeRef) -> list[HistoryEntry]:
        """The live context of a conversation, oldest first (what the model sees)."""
        ...

    async def remembered(self, scope: ScopeRef) -> Remembered:
        """The conversation's summary and recent turns (what `/atri memory` shows)."""
        ...

    async def character(self) -> Character: ...

    async def reset(self, scope: ScopeRef) -> int: ...

    async def purge(self, scope: ScopeRef) -> int: ...

    async def cut_reply(self, cut: ReplyCut) -> int:
        """Memory holds only what was sent of a reply the platform cut short (a lost
        connection, a failed send); returns the rows changed."""
        ...

    async def forget_message(self, ref: MessageRef) -> int:
        """The message was deleted or recalled: its stored exchange (she answered it) and
        its room line (she only heard it) are archived (hidden from the model, kept like a
        reset); returns the rows archived. A message recalled before she begins answering
        it (even before it reaches the worker) is not answered: its chat gets status
        "recalled". One recalled while she answers it is archived once it is stored."""
        ...

    async def forget_channel(self, ref: ChannelRef) -> int:
        """The channel (or thread) was deleted, its threads with it: its room lines, the
        conversations kept for it, and the exchanges of the messages `ref` names are
        archived as `forget_message` archives one, and its mode setting goes; returns
        the rows archived."""
        ...

    async def status(self) -> WorkerStatus: ...

    async def reload(self, version: str = "") -> ReloadResult:
        """Switch to `version` (even one rolled back from), or without one to the newest
        the reload job would take."""
        ...

    async def rollback(self) -> ReloadResult: ...

    async def channel_modes(self, platform: str) -> dict[str, ChannelMode]:
        """Channels of `platform` whose mode an admin changed (the rest are "mention")."""
        ...

    async def set_channel_mode(self, setting: ChannelSetting) -> None: ...
