"""Typed settings for every part of ATRI, read from one `config.toml`.

The defaults below *are* the embedded defaults: the top-level `config.toml` repeats them
with comments (a test keeps the two equal). Secrets never live here; they come from the
environment through `Secrets`.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path, PureWindowsPath
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

import regex
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from atri.errors import ConfigError
from atri.text_files import (
    NotUtf8Error,
    json_object,
    read_hand_written,
    script_encoding_problem,
)

CONFIG_ENV = "ATRI_CONFIG"
DEFAULT_CONFIG_NAME = "config.toml"
OFFLINE_DEFAULT_BASE = "builtin:smollm2-135m"
MAX_BATCH_WINDOW_MS = 1000
# Counts that reach SQLite as a LIMIT (an int64 there: past it every chat failed at query
# time). Each reply reads that many rows and counts their tokens, and the prompt keeps
# only what fits the context window, so these are already far past any use.
MAX_READ_PER_REPLY = 10_000
MAX_ROOM_LINES_KEPT = 100_000
# Each retry is a whole generation: past this a flagged reply only ran into the timeout.
MAX_OOC_RETRIES = 10
# The seeds numpy takes (`[train] seed = -1` crashed in set_seed).
MAX_SEED = 2**32 - 1
# "typing…" renewed more often than this was sent to OneBot hundreds of times a second.
MIN_TYPING_SECONDS = 1.0


def _all_compile(patterns: list[str]) -> list[str]:
    for pattern in patterns:
        if not pattern.strip():  # it would match every line and every reply
            raise ValueError("holds an empty pattern, which matches everything; remove it")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"{pattern!r} is not a valid regular expression ({exc})") from None
    return patterns


# A list of regular expressions, each checked when the config is loaded.
RegexList = Annotated[list[str], AfterValidator(_all_compile)]


def _none_match_empty_text(what_follows: str) -> Callable[[list[str]], list[str]]:
    """A check that no pattern matches an empty text, which it would match everywhere;
    `what_follows` says what that would do."""

    def check(patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if re.search(pattern, "") is not None:
                raise ValueError(
                    f"{pattern!r} matches an empty text, so {what_follows}; make it need at "
                    "least one character"
                )
        return patterns

    return check


def _words_not_blank(words: list[str]) -> list[str]:
    for word in words:
        if word and not word.strip():
            raise ValueError(f"{word!r} is only blanks, found in almost every reply; remove it")
    return words


# Patterns a reply is flagged by: one that matches nothing at all flags every reply.
ReplyPatternList = Annotated[
    RegexList,
    AfterValidator(_none_match_empty_text("it would flag every reply as out of character")),
]
# Lines that start a scene: one that matches nothing at all makes each line a scene.
SceneMarkerList = Annotated[
    RegexList, AfterValidator(_none_match_empty_text("every line would start a new scene"))
]
# Words a reply is flagged by.
ReplyWordList = Annotated[list[str], AfterValidator(_words_not_blank)]


def _none_blank(names: list[str]) -> list[str]:
    if any(not name.strip() for name in names):
        raise ValueError('holds an empty name; write names like ["亚托莉", "ATRI"]')
    return names


# Names matched in text. A blank one matches everything: as a [qq] nickname it made every
# group message one addressed to her.
NameList = Annotated[list[str], AfterValidator(_none_blank)]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text


# Text said or trained as written: empty (or blanks only), she called a nameless user
# nothing, the bots posted "……" for a busy or error line, and adapters were trained with
# no system prompt, each without a word.
NonBlank = Annotated[str, AfterValidator(_not_blank)]


def _a_listen_address(value: str) -> str:
    if not value.strip():
        raise ValueError(
            'must not be empty; write "0.0.0.0" to listen on every interface, or '
            '"127.0.0.1" for this machine only'
        )
    return value


def _id_as_text(value: Any) -> Any:
    # Not a bool: TOML's true is an int to Python, and no id.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):  # "must be a string in quotes" hid that numbers do too
        raise ValueError("must be an id: a whole number, or text in quotes")
    return value


def _text_as_id(value: Any) -> Any:
    return int(value) if isinstance(value, str) and value.isascii() and value.isdigit() else value


# A platform's id where ids are text: `[room]` lists hold Discord channel ids and QQ group
# numbers alike (the worker compares them with the request's text ids), and `[qq]` lists
# QQ numbers. The same Discord id is an integer in `[discord]`, so both spellings are read:
# a TOML integer is at most 2^63 - 1, past any Discord or QQ id, and its decimal text is
# the id exactly.
TextId = Annotated[str, BeforeValidator(_id_as_text)]
# A Discord id ("snowflake"), an integer as discord.py gives it; its digits in quotes
# (as `[room]` takes them) are read as the same number.
DiscordId = Annotated[int, BeforeValidator(_text_as_id)]


# Discord's rule for a slash command's name (its API docs), which QQ's commands follow too:
# a name one platform takes and the other refuses would split a community's commands.
_DISCORD_COMMAND_NAME = regex.compile(r"[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}")
# The admin group is `<name>-admin`, itself a command name of at most 32 characters.
ADMIN_SUFFIX = "-admin"
MAX_COMMAND_NAME = 32 - len(ADMIN_SUFFIX)


# What a command name may be, as an error says it after "must be".
COMMAND_NAME_RULE = (
    f"1 to {MAX_COMMAND_NAME} lower-case letters of any script, digits, - or _, without "
    f'spaces or dots, like "eileen" or "亚托莉" (Discord\'s slash-command rule, leaving '
    f'room for "{ADMIN_SUFFIX}" in the admin group\'s name)'
)


def command_name_problem(name: str) -> str | None:
    """Why `name` cannot be the bots' command name (`/atri`, `/atri-admin`), or None."""
    fits = 1 <= len(name) <= MAX_COMMAND_NAME and _DISCORD_COMMAND_NAME.fullmatch(name)
    if not fits or name != name.lower():
        return f"must be {COMMAND_NAME_RULE}"
    return None


def _a_command_name(name: str) -> str:
    problem = command_name_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


# What members type before a command: `/atri reset` on QQ, the `/atri` and `/atri-admin`
# slash groups on Discord.
CommandName = Annotated[str, AfterValidator(_a_command_name)]


# Where a server listens ([worker] host, [qq] host). "" bound every interface: a server
# meant for this machine was open to the network, said only in the line it printed once
# listening.
ListenHost = Annotated[str, AfterValidator(_a_listen_address)]


# What a Windows path in double quotes tells Windows users, where its backslashes were
# read as TOML escapes (or could not be).
WINDOWS_PATH_HINT = (
    "in double quotes a backslash starts an escape (\\n, \\t, \\U…); write a Windows path "
    "in single quotes ('C:\\Users\\me\\atri') or with forward slashes (\"C:/Users/me/atri\")"
)


def _no_control_character(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"holds a control character: {WINDOWS_PATH_HINT}")
    return value


# A file or folder. "C:\new\tmp" in double quotes is "C:", a newline, "ew", a tab, "mp":
# a path nobody means, which failed later under another name or made such a file.
ON_WINDOWS = os.name == "nt"


def _not_a_windows_path(value: str) -> str:
    """Outside Windows, a path written with backslashes (`data\\mem.sqlite3`, a config
    copied from a Windows machine) is one file name with backslashes in it, and a drive
    letter a folder called `D:`: prep wrote its dataset beside the config, and memory
    made a file named `data\\mem.sqlite3`. Refused with the path written for here."""
    if ON_WINDOWS:
        return value
    if re.match(r"[A-Za-z]:[\\/]", value):
        raise ValueError("names a Windows drive, which this system has not: give the path here")
    if "\\" in value and "/" not in value:
        raise ValueError(
            "is written with Windows backslashes, which this system reads as one file name: "
            f"write it with / ({PureWindowsPath(value).as_posix()!r})"
        )
    return value


# `$HOME`, `${HOME}`, `%USERPROFILE%`: nothing expands them, so each was a folder of
# that name beside the config.
_ENVIRONMENT_VARIABLE = re.compile(r"\$\{?[A-Za-z_]\w*\}?|%[A-Za-z_]\w*%")
# The validation context of a config file's text: checks for what only a hand-written
# value holds. A flag's path (set on the settings later) is one the shell expanded and
# that exists, whatever its name.
_IN_THE_FILE = {"in_the_file": True}


def _in_the_file(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("in_the_file"))


def _no_environment_variable(value: str, info: ValidationInfo) -> str:
    found = _ENVIRONMENT_VARIABLE.search(value) if _in_the_file(info) else None
    if found is not None:
        raise ValueError(
            f"names the environment variable {found[0]}, which is not expanded here (it "
            "would be a folder of that name): write the path itself, or ~ for your home folder"
        )
    return value


def _no_outer_blanks(value: str, info: ValidationInfo) -> str:
    """`"data/atri.sqlite3 "` is another file than `data/atri.sqlite3`, and its blank is
    seen in no listing: a second, empty database."""
    if _in_the_file(info) and value.strip() and value != value.strip():
        raise ValueError("starts or ends with a blank, which would name another file; remove it")
    return value


PathSetting = Annotated[
    str,
    AfterValidator(_no_control_character),
    AfterValidator(_no_environment_variable),
    AfterValidator(_not_a_windows_path),
    AfterValidator(_no_outer_blanks),
]


def _not_a_folder(value: str) -> str:
    if value.endswith(("/", "\\")):
        raise ValueError("ends in a slash, so it names a folder: give the file's name too")
    return value


# A file (a database, a card, a GGUF): `"data/"` made a SQLite file named `data`.
FilePathSetting = Annotated[PathSetting, AfterValidator(_not_a_folder)]


def _a_file_named(value: str) -> str:
    if not value.strip():
        raise ValueError("must name a file (it is read from the config's folder when relative)")
    return value


# A file ATRI writes, which must be named: "" is the config's folder itself.
FileSetting = Annotated[FilePathSetting, AfterValidator(_a_file_named)]


# The short system prompt an adapter is trained with: the adapter learns the character
# from the dialogue, so the prompt only names who speaks to whom.
DEFAULT_TRAINING_PROMPT = "你是{{char}}。请以{{char}}的身份和口吻与{{user}}聊天，不要跳出角色。"
# What a new adapter version is asked before it goes live. Left at this default (or the
# older one that named ATRI outright), it greets the configured character by name in the
# language the character speaks (model/character/persona.py SMOKE_PROMPTS).
DEFAULT_SMOKE_PROMPT = "你好，{{char}}！今天过得怎么样？"
OLD_DEFAULT_SMOKE_PROMPT = "你好，亚托莉！今天过得怎么样？"
# How a background fact is asked about. Left at this default, the questions are asked in
# the language the character speaks (model/character/persona.py BACKGROUND_QUESTIONS).
DEFAULT_BACKGROUND_QUESTIONS = ("能说说你的{topic}吗？", "关于{topic}，跟我讲讲吧。")


def _off_or_a_pause(value: float) -> float:
    if 0 < value < MIN_TYPING_SECONDS:
        raise ValueError(
            f"must be 0 (off) or at least {MIN_TYPING_SECONDS:g}: each renewal is a "
            "request to the OneBot implementation"
        )
    return value


# "typing…" renewed every this many seconds (`[qq] typing_seconds`, the QQ plugin's
# ATRI_TYPING_SECONDS): 0 = off.
TypingSeconds = Annotated[float, Field(ge=0), AfterValidator(_off_or_a_pause)]


class Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, strict=True, allow_inf_nan=False
    )


# Where the offline default model is cached after its first load (`[model] cache_dir`).
DEFAULT_CACHE_DIR = "~/.cache/atri"


def _names_a(kind: str, default: str) -> Callable[[str], str]:
    """Refuses "": it was the config's own folder, which the offline model's files
    (`cache_dir`, 500 MB) or the adapter versions (`adapters_dir`, ~38 MB each) filled,
    and which no database (`[memory] path`, a file) can be. `kind`: "folder" or "file"."""

    def check(value: str) -> str:
        if not value.strip():
            raise ValueError(
                f"must name a {kind}, not be empty (the config's own folder): delete the line "
                f"for the default, {default}"
            )
        return value

    return check


DEFAULT_ADAPTERS_DIR = "adapters"


class ModelSettings(Section):
    base: PathSetting = OFFLINE_DEFAULT_BASE
    adapter: PathSetting = ""
    engine: Literal["local", "llamacpp", "echo", "openai"] = "local"
    cache_dir: Annotated[PathSetting, AfterValidator(_names_a("folder", DEFAULT_CACHE_DIR))] = (
        DEFAULT_CACHE_DIR
    )
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    adapters_dir: Annotated[
        PathSetting, AfterValidator(_names_a("folder", DEFAULT_ADAPTERS_DIR))
    ] = DEFAULT_ADAPTERS_DIR
    context_window: int = Field(default=0, ge=0)
    prefix_cache: bool = True
    trust_remote_code: bool = False
    chat_template: str = ""
    gguf: FilePathSetting = ""
    llamacpp_kv_tokens: int = Field(default=0, ge=0)
    llamacpp_threads: int = Field(default=0, ge=0)
    # One URL, or a list: one per vLLM replica (the engine spreads requests itself).
    openai_base_url: str | list[str] = "http://127.0.0.1:8000/v1"
    openai_model: str = "atri"

    @field_validator("chat_template")
    @classmethod
    def _template_text(cls, value: str) -> str:
        """The template itself: a file name here would be the whole prompt of every chat,
        trained and served without a word said."""
        if value.strip() and "{{" not in value and "{%" not in value:
            raise ValueError(
                "must be the Jinja template's text (it has no {{ or {%), not a file name; "
                'paste the file in a multi-line string: chat_template = """…"""'
            )
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _some_url(cls, value: str | list[str]) -> str | list[str]:
        urls = [value] if isinstance(value, str) else value
        if not urls or not all(u.strip() for u in urls):
            raise ValueError("give a base URL, or a list of one per replica")
        for url in urls:
            _no_credentials_in(url, "ATRI_OPENAI_API_KEY")
            # Without its scheme ("localhost:8000") the URL failed only at the first
            # request, read as the scheme "localhost" and told "start it".
            try:
                where = urlsplit(url.strip())
            except ValueError:
                where = None
            if where is None or where.scheme not in ("http", "https") or not where.hostname:
                which = "" if isinstance(value, str) else f"{url!r}: each "
                raise ValueError(
                    f"{which}must be the server's base URL with its scheme, like "
                    '"http://127.0.0.1:8000/v1"'
                )
        return value

    @model_validator(mode="after")
    def _kv_cache_holds_the_window(self) -> ModelSettings:
        """Both given, a cache smaller than the window is refused here, not after the
        model loads (minutes on a CPU); a window of 0 (the GGUF's own) is checked then."""
        kv, window = self.llamacpp_kv_tokens, self.context_window
        if self.engine == "llamacpp" and 0 < kv < window:
            raise ValueError(
                f"llamacpp_kv_tokens = {kv} is smaller than context_window = {window}; "
                "set it to at least that, or 0"
            )
        return self

    @property
    def runs_offline_default(self) -> bool:
        """Whether replies come from the offline default base, run here: the echo and
        openai engines run no `base` of their own, so it says nothing of what they speak."""
        offline = (self.base.strip() or OFFLINE_DEFAULT_BASE) == OFFLINE_DEFAULT_BASE
        return offline and self.engine not in ("echo", "openai")

    @property
    def openai_base_urls(self) -> list[str]:
        urls = (
            [self.openai_base_url]
            if isinstance(self.openai_base_url, str)
            else self.openai_base_url
        )
        return [u.strip().rstrip("/") for u in urls]


def _no_credentials_in(url: str, secret_variable: str) -> None:
    """A URL with `user:password@` in it is refused: it would be printed in every message
    that names the server (and the worker's address also clashed with the admin token's
    header, ending `atri serve` in a traceback). The key goes in the environment."""
    try:
        where = urlsplit(url.strip())
    except ValueError:
        return  # the caller's own checks word a URL that cannot be read
    if where.username is not None or where.password is not None:
        raise ValueError(
            "must not carry a user name or password (user:password@), which messages naming "
            f"the server would print; give the key in the environment, {secret_variable}"
        )


class GenerationSettings(Section):
    max_new_tokens: PositiveInt = 128
    do_sample: bool = True
    temperature: PositiveFloat = 0.7
    top_p: float = Field(default=0.9, gt=0, le=1)
    top_k: int = Field(default=50, ge=0)
    repetition_penalty: PositiveFloat = 1.1


# `{{char}}` and `{{user}}` as a slip writes them (`{char}`, `{{Char}}`, `{{ user }}`).
_PLACEHOLDER_LIKE = re.compile(r"\{+\s*(?:char|user)\s*\}+", re.IGNORECASE)


def _placeholders_as_filled(text: str) -> str:
    """Only `{{char}}` and `{{user}}` are filled in: another spelling was trained, or
    asked, as written."""
    for found in _PLACEHOLDER_LIKE.finditer(text):
        if found[0] not in ("{{char}}", "{{user}}"):
            raise ValueError(
                f"holds {found[0]}, which would stay as written: the placeholders are "
                "{{char}} and {{user}}, in double braces, lower case, without blanks"
            )
    return text


# A prompt with the card's names filled in.
PromptTemplate = Annotated[NonBlank, AfterValidator(_placeholders_as_filled)]


class PersonaSettings(Section):
    card: FilePathSetting = ""
    language: Literal["auto", "zh", "en", "ja"] = "auto"
    user_name: NonBlank = "夏生"
    training_prompt: PromptTemplate = DEFAULT_TRAINING_PROMPT


DEFAULT_MEMORY_PATH = "data/atri.sqlite3"


class MemorySettings(Section):
    path: Annotated[FilePathSetting, AfterValidator(_names_a("file", DEFAULT_MEMORY_PATH))] = (
        DEFAULT_MEMORY_PATH
    )
    scope: Literal["user", "user_in_channel", "channel"] = "user"
    max_history_tokens: PositiveInt = 1024
    max_history_messages: int = Field(default=40, gt=0, le=MAX_READ_PER_REPLY)
    summaries: bool = True
    summary_fold_exchanges: PositiveInt = 8
    summary_max_tokens: PositiveInt = 256
    summary_max_wait_seconds: PositiveFloat = 60.0
    # Messages and archived summaries older than this are deleted by the worker's
    # periodic sweep (`ChatService._sweep`); 0 keeps them for ever.
    delete_after_days: float = Field(default=0, ge=0)


class RoomSettings(Section):
    """Room context: what others say in a group or channel, kept for when she is addressed.
    Each platform sends it only with `[discord] room_context` / `[qq] room_context` on."""

    off_channels: list[TextId] = Field(default_factory=list)
    max_lines_per_channel: int = Field(default=200, gt=0, le=MAX_ROOM_LINES_KEPT)
    max_age_hours: PositiveFloat = 24.0
    max_chars: PositiveInt = 300
    history_share: float = Field(default=0.5, ge=0, le=1)
    max_prompt_lines: int = Field(default=30, gt=0, le=MAX_READ_PER_REPLY)
    # Speaking up: off unless channels are listed (see model/room.py SpeakUp).
    speak_up_channels: list[TextId] = Field(default_factory=list)
    speak_up_probability: float = Field(default=0.05, ge=0, le=1)
    speak_up_words: list[str] = Field(default_factory=list)
    speak_up_cooldown_seconds: float = Field(default=300.0, ge=0)
    speak_up_max_per_hour: int = Field(default=6, ge=0)


# For the sentence that refuses an empty [worker] busy_reply or error_reply: when she
# says it, and a line to copy.
_WHEN_SAID = {
    "busy_reply": "she always answers with a line when she is busy, a request times out "
    "or someone writes too fast",
    "error_reply": "she always answers a failure with a line",
}
_LINE_TO_COPY = {"busy_reply": "我有点忙，稍后再来吧", "error_reply": "出错了，稍后再试"}


class WorkerSettings(Section):
    url: str = ""
    host: ListenHost = "127.0.0.1"
    # 0: any free port; `atri worker` prints the one it got.
    port: int = Field(default=8765, ge=0, le=65535)
    max_batch: PositiveInt = 8
    # A lone message waits the whole window for company, so a typo (20000) would delay
    # every reply; past a second batching gains nothing a user would trade for the wait.
    batch_window_ms: int = Field(default=20, ge=0, le=MAX_BATCH_WINDOW_MS)
    queue_size: PositiveInt = 64
    rate_limit_per_minute: int = Field(default=20, ge=0)
    request_timeout_seconds: PositiveFloat = 120.0
    ooc_max_retries: int = Field(default=2, ge=0, le=MAX_OOC_RETRIES)
    busy_reply: str = "呜……亚托莉现在有点忙不过来，请稍等一下再和我说话吧！"
    error_reply: str = "诶？亚托莉的脑袋好像短路了一下……能再说一遍吗？"
    openai_api_requires_token: bool = False
    # Addresses whose X-Forwarded-For names the client (a reverse proxy on this machine);
    # empty: none, so a TCP tunnel arriving from 127.0.0.1 cannot let clients name their
    # own address and pass the open API's per-address limit.
    trusted_proxies: list[str] = []
    # Web pages allowed to call the worker from a browser (CORS); empty: none, "*": any.
    cors_origins: list[str] = Field(default_factory=list)

    @field_validator("cors_origins")
    @classmethod
    def _web_origins(cls, value: list[str]) -> list[str]:
        """Each an origin as a browser sends it ("http://localhost:3000": scheme, host and
        port, no path), or "*"; anything else would never match, so CORS would stay off
        for that page with no word why."""
        for origin in value:
            if origin == "*":
                continue
            where = urlsplit(origin)
            if (
                where.scheme not in ("http", "https")
                or not where.hostname
                or where.path
                or where.query
                or where.fragment
            ):
                raise ValueError(
                    f"{origin!r} is not an origin: write the page's scheme, host and port, "
                    'like "http://localhost:3000" (no path, no trailing slash), or "*"'
                )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_addresses(cls, value: list[str]) -> list[str]:
        """Each an IP address or network, or "*": uvicorn compares the connection's
        address, so a hostname ("localhost", "nginx") never matched and every client
        behind the proxy was limited as one."""
        for proxy in value:
            if proxy == "*":
                continue
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"{proxy!r} is not an IP address: write the proxy's address or network, "
                    'like "127.0.0.1" or "10.0.0.0/8" (a hostname never matches), or "*"'
                ) from None
        return value

    @field_validator("busy_reply", "error_reply")
    @classmethod
    def _a_line_to_say(cls, value: str, info: ValidationInfo) -> str:
        """Some line: empty, the bots posted "……". "must not be empty" alone left the
        reader guessing whether empty was meant to mean silence, and what to write."""
        if value.strip():
            return value
        key = str(info.field_name)  # a field validator's: always set
        raise ValueError(
            f"must not be empty ({_WHEN_SAID[key]}, never with silence): delete the "
            f'line for her own in the [persona] language, or write {key} = "{_LINE_TO_COPY[key]}"'
        )

    @field_validator("url")
    @classmethod
    def _a_worker_address(cls, value: str) -> str:
        """An address the bots can reach `atri worker` at; else "Cannot reach the worker,
        is it running?" would send the user looking at a worker that is running fine."""
        if not value.strip():
            return value
        _no_credentials_in(value, "ATRI_ADMIN_TOKEN")
        where = urlsplit(value.strip())
        if where.scheme not in ("http", "https") or not where.hostname:
            raise ValueError(
                'must be the worker\'s address with its scheme, like "http://127.0.0.1:8765"'
            )
        try:
            port = where.port
        except ValueError:
            raise ValueError("its port must be a number from 1 to 65535") from None
        if port == 0:
            # Port 0 only asks `atri worker` for a free port: nothing listens on it.
            raise ValueError(
                "no worker listens on port 0; use the address `atri worker` prints when it starts"
            )
        if where.path.rstrip("/").endswith("/v1"):
            raise ValueError(
                "must be the worker's own address, without /v1 (that path is for OpenAI clients)"
            )
        return value


class ReloadSettings(Section):
    enabled: bool = True
    # At most a week: APScheduler dates each run, and a date past year 9999 crashed it.
    interval_seconds: int = Field(default=60, ge=1, le=7 * 24 * 3600)
    max_ooc_rate_increase: float = Field(default=0.05, ge=0, le=1)
    require_eval: bool = False
    keep_previous: int = Field(default=1, ge=0)
    smoke_prompt: PromptTemplate = DEFAULT_SMOKE_PROMPT
    smoke_max_new_tokens: PositiveInt = 16


class OOCSettings(Section):
    """`[ooc]`: what marks a reply as out of character (see model/ooc.py)."""

    assistant_speak: ReplyPatternList = Field(
        default_factory=lambda: [
            r"(?i)\bas an ai\b",
            r"(?i)\bhow (?:can|may) I (?:help|assist) you\b",
            r"(?i)\bI(?:'m| am) (?:here|happy|glad) to (?:help|assist)\b",
            r"(?i)\bI (?:cannot|can't|am unable to) (?:provide|assist)\b",
            r"(?i)\banything else (?:that )?I can (?:help|assist|do for you)\b",
            r"有什么(?:我)?(?:可以|能)(?:帮|帮助|帮忙|为)(?:你|您)",
            r"很高兴(?:为您|为你)(?:服务|提供帮助)",
            r"作为(?:一个)?(?:AI|人工智能|语言模型)",
            r"何か(?:私に)?(?:お手伝い|お力になれる)(?:できる|する)?こと",
            r"どのようにお手伝い",
            r"お役に立て(?:れば幸い|て(?:嬉しい|うれしい|光栄))",
            r"(?:AI|人工知能|言語モデル)(?:として|なので|ですので|ですから)",
        ]
    )
    self_reference: ReplyPatternList = Field(
        default_factory=lambda: [
            r"(?i)\blanguage model\b",
            # "I am a friendly AI designed to…", "I'll be your AI assistant today": up to
            # three words may come between.
            r"(?i)\bI(?:'m| am|'ll be| will be) (?:just |only )?(?:an?|your) (?:[\w-]+ ){0,3}?"
            r"(?:AI|A\.I\b|assistant|chatbot|"
            r"program|language model|GPU|graphics card|weapon)\b",
            r"(?i)\bas an? (?:[\w-]+ ){0,2}?(?:AI|language model|assistant)\b",
            # Not \b: in "私はChatGPTです" no word boundary comes before the name.
            r"(?i)(?<![a-z])(?:OpenAI|ChatGPT|SmolLM|Hugging ?Face)(?![a-z])",
            r"我是(?:一个)?(?:AI|人工智能|语言模型|智能助手|助手|聊天机器人|ChatGPT|通义千问|百川)",
            r"(?:我是|作为)(?:一张|一块)?(?:显卡|GPU)",
            r"人形兵器",
            r"(?:私|わたし|ワタシ)は(?:ただの|単なる)?(?:AI|人工知能|AIアシスタント|アシスタント|"
            r"チャットボット|言語モデル|グラフィックボード|グラボ|GPU)",
            r"言語モデル",
            r"人型兵器",
        ]
    )
    patterns: ReplyPatternList = Field(default_factory=list)
    profanity: ReplyWordList = Field(
        default_factory=lambda: [
            *("傻逼", "操你", "妈的", "他妈", "滚蛋", "fuck", "shit", "bitch"),
            # Not 死ね alone: 死ねない (cannot die) is hers to say.
            *(
                "死ねよ",
                "死ね！",
                "死ね!",
                "くたばれ",
                "ぶっ殺",
                "クソ野郎",
                "くそったれ",
                "クソッタレ",
                "てめえ",
            ),
        ]
    )
    # Each word counts only for a card in its writing system (model/character/ooc.py).
    dialect: ReplyWordList = Field(
        default_factory=lambda: [
            *("俺", "咋整", "嘎哈", "贼拉", "嘅", "咗", "冇", "佢", "乜嘢", "侬"),
            # Kansai-ben: her Japanese is standard (not あかん alone: あかんぼう is a baby).
            *("ほんま", "おおきに", "せやな", "せやから", "せやけど", "なんでやねん"),
            *("ちゃうねん", "あかんで", "あかんわ", "してへん", "やんけ"),
            # A "thick country" English: her English is plain and polite.
            *("y'all", "ain't", "howdy", "fixin' to"),
        ]
    )
    language: Literal["auto", "zh", "ja", "en", "any"] = "auto"
    max_foreign_share: float = Field(default=0.5, ge=0, le=1)
    min_language_units: PositiveInt = 4


# `[train] target_modules = ["all-linear"]` (peft's word): every linear layer of the
# blocks, the output head excepted.
ALL_LINEAR = "all-linear"


class TrainSettings(Section):
    dataset: PathSetting = "data/dataset/atri_sharegpt.json"
    eval_dataset: FilePathSetting = ""
    lora_r: PositiveInt = 16
    lora_alpha: PositiveInt = 32
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] = Field(
        default_factory=lambda: [
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "gate_proj",
            "up_proj",
            "down_proj",
        ]
    )
    learning_rate: PositiveFloat = 2e-4
    epochs: PositiveFloat = 3.0
    max_steps: int = Field(default=0, ge=0)
    batch_size: PositiveInt = 4
    gradient_accumulation: PositiveInt = 4
    max_seq_length: PositiveInt = 1024
    eval_steps: PositiveInt = 50
    early_stopping_patience: int = Field(default=0, ge=0)
    packing: bool = False
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    quantization: Literal["auto", "none", "4bit"] = "auto"
    gradient_checkpointing: Literal["auto", "on", "off"] = "auto"
    warmup_ratio: float = Field(default=0.03, ge=0, lt=1)
    logging_steps: PositiveInt = 5
    seed: int = Field(default=42, ge=0, le=MAX_SEED)

    @field_validator("dataset")
    @classmethod
    def _a_file(cls, value: str) -> str:
        """`atri prep` writes beside this file and `atri train` reads it: "" or a folder
        ("data/dataset/") sent prep's files to the folder above and train to another."""
        if not value.strip() or value.rstrip().endswith(("/", "\\")):
            raise ValueError(
                "must name the training file, like"
                ' "data/dataset/atri_sharegpt.json": atri prep writes into its folder'
            )
        return value

    @field_validator("target_modules")
    @classmethod
    def _some_modules(cls, value: list[str]) -> list[str]:
        """[] put LoRA on no layer: refused only once the base model had loaded."""
        if not value:
            raise ValueError(
                'must name the layers that get LoRA, like ["q_proj", "v_proj"], or be '
                f'["{ALL_LINEAR}"] for every linear layer'
            )
        # Beside other names, peft would look for a layer literally called "all-linear".
        if ALL_LINEAR in value and len(value) > 1:
            raise ValueError(
                f'"{ALL_LINEAR}" must be the only entry: it already means every linear layer, '
                "so drop it or the other names"
            )
        return value


class EvalSettings(Section):
    probes: FilePathSetting = ""
    max_new_tokens: PositiveInt = 96
    batch_size: PositiveInt = 8
    style_markers: list[str] = Field(
        default_factory=lambda: [
            "高性能",
            "亚托莉",
            "我",
            "哦",
            "呢",
            "嘛",
            "！",
            "high-performance",
            "ATRI",
            "!",
            "アトリ",
            "わたし",
            "ですから",
        ]
    )
    worst_examples: int = Field(default=5, ge=0)


OutputFormat = Literal["sharegpt", "messages", "alpaca"]
OUTPUT_FORMATS: tuple[OutputFormat, ...] = ("sharegpt", "messages", "alpaca")


# What each `[dataprep]` language key must be, said when it is not one word.
_LANGUAGE_KEY_EXPECTED = {
    "renpy_language": 'must be "auto", "original", or a language as game/tl/ names its folder,'
    ' like "chinese"',
    "artemis_language": 'must be "auto" or a language key of the scripts\' text tables, like'
    ' "ja" or "cn"',
}


class DataprepSettings(Section):
    """`[dataprep]`: how `atri prep` reads a script and what it keeps (see dataprep/)."""

    format: Literal[
        "auto",
        "plain",
        "kirikiri",
        "renpy",
        "voice_list",
        "regex",
        "translation_dump",
        "json",
        "naninovel",
        "rpgmaker",
        "csv",
        "webgal",
        "onscripter",
        "artemis",
    ] = "auto"
    encoding: str = "auto"
    renpy_language: str = "auto"
    dump_side: Literal["translation", "original"] = "translation"
    artemis_language: str = "auto"
    custom_regex: str = ""
    scene_markers: SceneMarkerList = Field(
        default_factory=lambda: [
            r"第[0-9０-９一二三四五六七八九十百零〇]+[章话話幕节節回]",
            r"(?i:chapter)\s*\d+",
            r"[=＝\-－*＊◆◇■□★☆]{3,}\s*$",
            r"#{1,3}\s",
        ]
    )
    lead_aliases: NameList = Field(
        default_factory=lambda: [
            "夏生",
            "斑鸠夏生",
            "斑鳩夏生",
            "夏生君",
            "Natsuki",
            "Kaito",
            "Natsuki Kaito",
        ],
        min_length=1,
    )
    character_aliases: NameList = Field(
        default_factory=lambda: ["ATRI", "Atri", "亚托莉", "亞托莉", "アトリ", "机器人少女"],
        min_length=1,
    )
    narration: Literal["skip", "stage"] = "skip"
    stage_direction_max_chars: int = Field(default=40, ge=1, le=400)
    context_turns: int = Field(default=6, ge=1, le=64)
    min_reply_chars: int = Field(default=2, ge=1)
    max_reply_chars: int = Field(default=400, ge=1)
    drop_interjections: bool = True
    short_reply_max_chars: int = Field(default=8, ge=1)
    max_short_reply_repeats: int = Field(default=3, ge=1)
    drop_near_duplicates: bool = True
    traditional_to_simplified: bool = False
    user_placeholder: bool = True
    background: FilePathSetting = ""
    background_ratio: float = Field(default=0.1, ge=0, lt=1)
    background_questions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_BACKGROUND_QUESTIONS)
    )
    eval_ratio: float = Field(default=0.1, ge=0, lt=1)
    output_formats: list[OutputFormat] = Field(
        default_factory=lambda: list(OUTPUT_FORMATS), min_length=1
    )
    seed: int = Field(default=42, ge=0, le=MAX_SEED)

    @field_validator("background_questions")
    @classmethod
    def _each_names_the_topic(cls, value: list[str]) -> list[str]:
        """Without {topic}, one question was asked of every fact, each time with another
        answer: samples that teach nothing but confusion."""
        for question in value:
            if "{topic}" not in question:
                raise ValueError(
                    f"{question!r} has no {{topic}}, so every fact would be asked the same "
                    'question; write it like "能说说你的{topic}吗？"'
                )
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        if value != "auto" and (problem := script_encoding_problem(value)):
            raise ValueError(f'{problem}; use "auto" or a name like "gb18030"')
        return value

    @field_validator("renpy_language", "artemis_language")
    @classmethod
    def _a_language_key(cls, value: str, info: ValidationInfo) -> str:
        """A language as the scripts name it: one word (`chinese`, `ja`)."""
        if not re.fullmatch(r"\w+", value):
            raise ValueError(_LANGUAGE_KEY_EXPECTED[info.field_name or ""])
        return value

    @field_validator("custom_regex")
    @classmethod
    def _regex_with_groups(cls, value: str) -> str:
        if value:
            try:
                groups = re.compile(value).groupindex
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression ({exc})") from None
            if "speaker" not in groups or "text" not in groups:
                raise ValueError("needs the two named groups speaker and text")
        return value

    @model_validator(mode="after")
    def _bounds_in_order(self) -> DataprepSettings:
        if self.min_reply_chars > self.max_reply_chars:
            raise ValueError("min_reply_chars must not be greater than max_reply_chars")
        lead = {name.strip().casefold() for name in self.lead_aliases}
        both = [n for n in self.character_aliases if n.strip().casefold() in lead]
        if both:
            raise ValueError(
                f"{', '.join(both)} is in both lead_aliases and character_aliases; a speaker "
                "is the lead or the character, so keep each name in one list"
            )
        return self


class BotSettings(Section):
    command_name: CommandName = "atri"


class DiscordSettings(Section):
    reply_in_dms: bool = True
    channels: list[DiscordId] = Field(default_factory=list)
    allowed_users: list[DiscordId] = Field(default_factory=list)
    blocked_users: list[DiscordId] = Field(default_factory=list)
    allowed_roles: list[DiscordId] = Field(default_factory=list)
    blocked_roles: list[DiscordId] = Field(default_factory=list)
    allowed_channels: list[DiscordId] = Field(default_factory=list)
    blocked_channels: list[DiscordId] = Field(default_factory=list)
    admin_ids: list[DiscordId] = Field(default_factory=list)
    admin_roles: list[DiscordId] = Field(default_factory=list)
    bot_ids: list[DiscordId] = Field(default_factory=list)
    max_replies_per_minute: int = Field(default=20, ge=0)
    guild_ids: list[DiscordId] = Field(default_factory=list)
    commands_state: FileSetting = "data/discord_commands.json"
    room_context: bool = False


def _a_fixed_port(value: int) -> int:
    """Unlike `[worker] port`, not 0 (any free port): the OneBot implementation is set up
    once with this port, and a new one at every start would leave it knocking elsewhere."""
    if value == 0:
        raise ValueError(
            "must be a port from 1 to 65535: the OneBot implementation connects to this "
            "fixed one (0, any free port, works only for [worker] port)"
        )
    return value


class QQSettings(Section):
    enabled: bool = False
    host: ListenHost = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535), AfterValidator(_a_fixed_port)] = 8080
    nicknames: NameList = Field(default_factory=list)  # empty: the card's names
    reply_in_private: bool = True
    superusers: list[TextId] = Field(default_factory=list)
    allowed_users: list[TextId] = Field(default_factory=list)
    blocked_users: list[TextId] = Field(default_factory=list)
    allowed_groups: list[TextId] = Field(default_factory=list)
    blocked_groups: list[TextId] = Field(default_factory=list)
    bot_ids: list[TextId] = Field(default_factory=list)
    max_replies_per_minute: int = Field(default=20, ge=0)
    split_pause_seconds: float = Field(default=1.0, ge=0)
    send_gap_seconds: float = Field(default=1.0, ge=0)
    sends_per_minute: int = Field(default=20, ge=0)
    send_retry_seconds: float = Field(default=5.0, ge=0)
    resend_within_seconds: float = Field(default=30.0, ge=0)
    typing_seconds: TypingSeconds = 5.0
    max_message_chars: PositiveInt = 500
    max_reply_parts: PositiveInt = 4
    room_context: bool = False
    answer_pokes: bool = True
    poke_cooldown_seconds: float = Field(default=60.0, ge=0)

    @field_validator(
        "superusers",
        "allowed_users",
        "blocked_users",
        "allowed_groups",
        "blocked_groups",
        "bot_ids",
    )
    @classmethod
    def _qq_numbers(cls, value: list[str]) -> list[str]:
        for number in value:
            if not number.isdigit():
                raise ValueError(f'"{number}" is not a QQ number; write them like ["12345678"]')
        # Full-width digits (１２３, typed with a Chinese input method) as OneBot sends ids:
        # kept as written, they never matched, and a superuser was no admin.
        return [str(int(number)) for number in value]


class Settings(Section):
    model: ModelSettings = Field(default_factory=ModelSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    persona: PersonaSettings = Field(default_factory=PersonaSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    room: RoomSettings = Field(default_factory=RoomSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    reload: ReloadSettings = Field(default_factory=ReloadSettings)
    ooc: OOCSettings = Field(default_factory=OOCSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    dataprep: DataprepSettings = Field(default_factory=DataprepSettings)
    bot: BotSettings = Field(default_factory=BotSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    qq: QQSettings = Field(default_factory=QQSettings)

    # Where relative paths in the file are anchored: the config file's folder, or the
    # working directory for the embedded defaults. Not a key of the file.
    root: Path = Field(default_factory=Path.cwd, exclude=True)
    # Sentences about old key names that were read under their new names (shown once by
    # the CLI). Not a key of the file.
    notices: list[str] = Field(default_factory=list, exclude=True)
    # The file the settings were read from ("" for the embedded defaults), named by errors
    # found after loading (`[model] adapter` names no adapter). Not a key of the file.
    config_file: str = Field(default="", exclude=True)

    def path(self, value: str) -> Path:
        """Resolve a path setting: `~` expands, relative paths hang off `root`."""
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else self.root / p


# The environment variables secrets are read from, and the config section whose work
# each one serves: a secret written into that section is pointed at its variable.
DISCORD_TOKEN_ENV = "ATRI_DISCORD_TOKEN"
ADMIN_TOKEN_ENV = "ATRI_ADMIN_TOKEN"
ONEBOT_ACCESS_TOKEN_ENV = "ATRI_ONEBOT_ACCESS_TOKEN"
OPENAI_API_KEY_ENV = "ATRI_OPENAI_API_KEY"
# The languages a character card, the probes and the bots' lines come in, named in words.
LANGUAGE_NAMES = {"zh": "Chinese", "en": "English", "ja": "Japanese"}
# Keys for clients of the worker's /v1 API, comma-separated: none opens its admin routes.
API_KEYS_ENV = "ATRI_API_KEYS"
SECRET_ENV_BY_SECTION = {
    "discord": DISCORD_TOKEN_ENV,
    "worker": ADMIN_TOKEN_ENV,
    "qq": ONEBOT_ACCESS_TOKEN_ENV,
    "model": OPENAI_API_KEY_ENV,
}
# The environment variables that hold secrets.
SECRET_ENVS = frozenset({API_KEYS_ENV, *SECRET_ENV_BY_SECTION.values()})
# Every environment variable ATRI itself reads (the QQ plugin's `ATRI_*` keys aside).
ATRI_ENV = frozenset({CONFIG_ENV, *SECRET_ENVS})
# How alike a set ATRI_ name and one ATRI reads must be to be taken for a slip of it
# (ATRI_DISCORD_TOKN, ATRI_API_KEY); the QQ plugin's own keys are far from all of them.
_ENV_SLIP_CUTOFF = 0.85


def misspelt_environment(names: Iterable[str]) -> list[str]:
    """A sentence for each ATRI_ variable among `names` (the environment's) that reads as
    a slip of one ATRI reads: the secret meant is then missing, which a command reports
    only as not set ("no ATRI_DISCORD_TOKEN in the environment")."""
    said = []
    for name in sorted({n for n in names if n.upper().startswith("ATRI_")} - ATRI_ENV):
        close = difflib.get_close_matches(name.upper(), sorted(ATRI_ENV), 1, _ENV_SLIP_CUTOFF)
        if close:
            said.append(f"{name} is set in the environment, but ATRI reads {close[0]}.")
    return said


# A key named like a secret, one or several: `token`, `access_tokens`, `api_keys`, …
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:token|secret|password|passwd|passphrase|api_?key|access_?key|private_?key)s?$",
    re.IGNORECASE,
)
# A count of tokens (`max_tokens`, `max_prompt_tokens`): named like tokens, but no secret.
_TOKEN_COUNT = re.compile(r"(?:^|_)(?:max|min|num)_(?:\w+_)?tokens$", re.IGNORECASE)


class Secrets(BaseModel):
    """Secrets, from the environment only. SecretStr keeps them out of reprs and logs."""

    discord_token: SecretStr | None = None
    admin_token: SecretStr | None = None
    onebot_access_token: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    api_keys: tuple[SecretStr, ...] = ()

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Secrets:
        env = dict(os.environ) if env is None else env

        def get(name: str) -> SecretStr | None:
            value = env.get(name, "").strip()
            # Each is sent in an HTTP header, which carries printable ASCII only: another
            # character would be sent as something else and never match.
            if not all(" " <= c <= "~" for c in value):
                raise ConfigError(
                    f"{name} holds a character an HTTP header cannot carry (a space is "
                    "fine, but not a letter outside ASCII or a control character); "
                    "choose one of ASCII letters, digits and punctuation."
                )
            return SecretStr(value) if value else None

        return cls(
            discord_token=get(DISCORD_TOKEN_ENV),
            admin_token=get(ADMIN_TOKEN_ENV),
            onebot_access_token=get(ONEBOT_ACCESS_TOKEN_ENV),
            openai_api_key=get(OPENAI_API_KEY_ENV),
            api_keys=tuple(
                SecretStr(key.strip())
                for key in (get(API_KEYS_ENV) or SecretStr("")).get_secret_value().split(",")
                if key.strip()
            ),
        )


_UNKNOWN_KEY = "is not a known key (check the spelling against the commented config.toml)"


def _expected(err: Any) -> str:
    """Turn one pydantic error into the 'what is expected' half of the sentence."""
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "greater_than" and ctx.get("gt") == 0:
        return "must be a positive number"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        words = {
            "greater_than": "greater than",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "less_than_equal": "at most",
        }[kind]
        bound = next(iter(ctx.values()))
        return f"must be {words} {bound}"
    if kind == "finite_number":  # inf passed every bound: epochs = inf crashed training
        return "must be a finite number (not inf or nan)"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}"
    if kind == "extra_forbidden":
        return _UNKNOWN_KEY
    if kind in {"int_parsing", "int_type", "int_from_float"}:
        return "must be an integer"
    if kind in {"float_parsing", "float_type"}:
        return "must be a number"
    if kind in {"bool_parsing", "bool_type"}:
        return "must be true or false"
    if kind in {"string_type"}:
        return "must be a string in quotes"
    if kind in {"list_type"}:
        return f"must be a list like {_list_example(_annotation(err['loc']))}"
    if kind in {"too_short", "string_too_short"} and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind in {"model_type", "dict_type"}:
        return "must be a table (a [section])"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])  # our validators' own sentence, as written
    return str(err.get("msg", "is not valid"))


def _list_example(annotation: Any) -> str:
    """Two made-up entries of the list setting's own kind: `["a", "b"]` for a list of
    ids that must be integers only led to the next error."""
    element = get_args(annotation)[0] if get_origin(annotation) is list else str
    validators: tuple[Any, ...] = ()
    if get_origin(element) is Annotated:
        element, *metadata = get_args(element)
        validators = tuple(metadata)
    if element is int:
        return "[123, 456]"
    if element is float:
        return "[0.5, 1.5]"
    if get_origin(element) is Literal:
        return json.dumps(list(get_args(element)[:2]), ensure_ascii=False)
    if BeforeValidator(_id_as_text) in validators:
        return '["123", "456"]'
    return '["a", "b"]'


def _is_secret_name(key: str) -> bool:
    """Whether a key not in the config is named like a secret (`token`, `api_keys`,
    `ATRI_ADMIN_TOKEN`); a key of another section and a count of tokens are not."""
    if key.upper() in SECRET_ENVS:
        return True
    if not _SECRET_NAME.search(key) or _TOKEN_COUNT.search(key):
        return False
    return not _a_key_of_some_section(key)


# Words of a key's name that may hold a secret (`token`, `api_key`, `db_pass`).
_SECRET_WORD = re.compile(r"(?:^|_)(?:token|secret|key|pass)", re.IGNORECASE)


def _looks_like_a_secret(loc: list[str]) -> bool:
    """Whether an error must not show the value of the setting at `loc`: its name reads
    as a secret's (a count of tokens aside), even a known key's (a token pasted into
    `openai_api_requires_token`). An unknown key's value is never shown either (`tokne =
    "…"`, a slip of a secret's name)."""
    key = loc[-1] if loc else ""
    return bool(_SECRET_WORD.search(key)) and not _TOKEN_COUNT.search(key)


def _a_key_of_some_section(key: str) -> bool:
    return any(key in section.model_fields for section in _sections().values())


def _secret_variable(section: str, key: str) -> str | None:
    """The environment variable a secret written as `key` in [section] belongs in
    (`api_keys` -> ATRI_API_KEYS, `[discord] tokens` -> ATRI_DISCORD_TOKEN), or None."""
    named = "ATRI_" + key.upper().removeprefix("ATRI_")
    if named in SECRET_ENVS:
        return named
    env = SECRET_ENV_BY_SECTION.get(section)
    if env == ADMIN_TOKEN_ENV and re.search("API_?KEY", named):
        return API_KEYS_ENV  # [worker] api_key: the keys of the worker's API clients
    if env == OPENAI_API_KEY_ENV and "KEY" not in named:
        return None  # [model] token: no token of ours belongs to the model
    if env is None:
        # One or several: `api_key` -> ATRI_API_KEYS, `discord_tokens` -> ATRI_DISCORD_TOKEN.
        env = next(iter({named + "S", named.removesuffix("S")} & SECRET_ENVS), None)
    return env


def _secret_in_file(loc: list[str]) -> str | None:
    """The sentence for an unknown key named like a secret, or None for another key. It
    never shows the value, and says where the secret is read from instead."""
    if not _is_secret_name(loc[-1]):
        return None
    env = _secret_variable(loc[0] if len(loc) >= 2 else "", loc[-1])
    if env is not None:
        return (
            "is not a known key: secrets are never read from the config file; delete the "
            f"line and set the environment variable {env} instead (the value is not shown "
            "here)"
        )
    every = ", ".join(sorted(SECRET_ENVS))
    return (
        "is not a known key (check the spelling against the commented config.toml); if it "
        "holds a secret, delete the line: secrets are read only from the environment "
        f"({every}; the value is not shown here)"
    )


def _sections() -> dict[str, Any]:
    """The config's sections by name, with the model of each ([model] -> ModelSettings)."""
    return {
        name: field.annotation
        for name, field in Settings.model_fields.items()
        if not field.exclude and hasattr(field.annotation, "model_fields")
    }


def _close_match(name: str, known: list[str]) -> str | None:
    """The known name `name` most likely means: `temprature` -> `temperature`, and
    `Generation` -> `generation` whatever the case."""
    folded = {k.casefold(): k for k in known}
    found = difflib.get_close_matches(name.casefold(), list(folded), n=1, cutoff=0.75)
    return folded[found[0]] if found else None


def _unknown_key(loc: list[str], is_table: bool) -> str:
    """The sentence for a key or section the config does not have: the key it is likely
    a slip of, or the section a key of that name belongs in."""
    sections = _sections()
    if len(loc) == 1 and is_table:
        likely = _close_match(loc[0], list(sections))
        guess = (
            f"; did you mean [{likely}]?" if likely else f" (the sections: {', '.join(sections)})"
        )
        return f"is not a known section{guess}"
    model: Any = Settings
    for part in loc[:-1]:
        model = getattr(model, "model_fields", {}).get(part)
        model = getattr(model, "annotation", None)
    here = [k for k, f in getattr(model, "model_fields", {}).items() if not f.exclude]
    if len(loc) == 1:
        here = []  # the top level holds only sections
    key = loc[-1]
    homes = [name for name, section in sections.items() if key in section.model_fields]
    if homes:
        where = " or ".join(f"[{name}]" for name in homes)
        place = "at the top level" if len(loc) == 1 else f"in [{'.'.join(loc[:-1])}]"
        return f"is not a known key {place}: `{key}` belongs in {where}"
    likely = _close_match(key, here)
    if likely is not None:
        return f"is not a known key; did you mean `{likely}`?"
    elsewhere = {k: name for name, section in sections.items() for k in section.model_fields}
    likely = _close_match(key, list(elsewhere))
    if likely is not None:
        return f"is not a known key; did you mean `{likely}` in [{elsewhere[likely]}]?"
    return _UNKNOWN_KEY


def describe_validation_error(
    exc: ValidationError,
    source: str,
    moved: dict[tuple[str, str], tuple[str, str]] | None = None,
) -> str:
    """One line per error; a key read under its new name (`moved`: the old name by the
    new) is named as the user wrote it."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        renamed = ""
        new = (loc[0], loc[1]) if len(loc) >= 2 else None
        if moved and new in moved:
            loc = [*moved[new], *loc[2:]]
            renamed = f" (the key is now [{new[0]}] {new[1]}: rename it)"
        secret = _secret_in_file(loc) if err["type"] == "extra_forbidden" and loc else None
        if secret is not None:
            where = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) >= 2 else loc[0]
            lines.append(f"{source}: {where}: {secret}")
            continue
        message = setting_rule(err, err["loc"])
        if err["type"] == "extra_forbidden" and loc:
            message = _unknown_key(loc, isinstance(err.get("input"), dict))
        if len(loc) >= 2:
            where = f"[{loc[0]}] {'.'.join(loc[1:])}"
        elif loc:
            where = f"{loc[0]}"
        else:
            where = "(top level)"
        value = err.get("input")
        if len(loc) == 1 and isinstance(value, dict):  # a rule across a whole section
            where, value = f"[{loc[0]}]", None
        hidden = err["type"] in ("missing", "extra_forbidden") or _looks_like_a_secret(loc)
        shown = "" if hidden or value is None else f" = {_toml_repr(value)}"
        lines.append(f"{source}: {where}{shown}: {message}{renamed}")
    return "\n".join(lines)


def setting_rule(err: Any, loc: tuple[int | str, ...]) -> str:
    """What the setting at `loc` ((section, key)) must be, as the config's error says it
    ("must be a positive integer"); `err` is one of pydantic's errors for it. The CLI's
    flags that set a key say the same."""
    if err["type"] == "greater_than" and (err.get("ctx") or {}).get("gt") == 0:
        # By the key's type, not the value's: `temperature = 0` wants a number.
        whole = _annotation(loc) is int
        return "must be a positive integer" if whole else "must be a positive number"
    return _expected(err)


def _annotation(loc: tuple[int | str, ...]) -> Any:
    """The type of the setting at `loc` (("generation", "temperature") -> float)."""
    model: Any = Settings
    annotation: Any = None
    for part in loc:
        fields = getattr(model, "model_fields", None)
        if not isinstance(part, str) or not fields or part not in fields:
            return None
        annotation = model = fields[part].annotation
    return annotation


def _toml_repr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):  # escaped as TOML writes it: "C:\new", not a line break
        return without_credentials(json.dumps(value, ensure_ascii=False))
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list):
        return without_credentials(json.dumps(value, ensure_ascii=False))
    return repr(value)


_CREDENTIALS = re.compile(r"(?<=://)[^/@\s\"]+@")


def without_credentials(text: str) -> str:
    """`text` with each URL's `user:password@` shown as `…@`."""
    return _CREDENTIALS.sub("…@", text)


def find_config_path(explicit: str | Path | None = None) -> Path | None:
    """The file to read: --config, else $ATRI_CONFIG, else ./config.toml if present."""
    if explicit is not None and not str(explicit).strip():
        # `-c "$CFG"` with the variable unset: the default file would be read instead,
        # with another character's memory and adapters.
        raise ConfigError("--config is empty: give the config file to read.")
    from_env = os.environ.get(CONFIG_ENV)
    if explicit is None and from_env and not from_env.strip():
        # "error:  : config file not found" named nothing a reader could see.
        raise ConfigError(f"{CONFIG_ENV} is blank: set it to the config file, or unset it.")
    chosen = explicit or from_env
    if chosen:
        path = Path(os.path.expanduser(str(chosen)))
        origin = "--config" if explicit else CONFIG_ENV
        if path.is_dir():
            inside = path / DEFAULT_CONFIG_NAME
            like = f", like {inside}" if inside.is_file() else " (a .toml file)"
            raise ConfigError(
                f"{path}: is a folder, not a config file (given by {origin}); give the "
                f"config file itself{like}."
            )
        if _broken_link(path):
            raise ConfigError(_broken_link_error(path, f"given by {origin}"))
        if path.exists() and not path.is_file():  # /dev/null, <(cat config.toml)
            raise ConfigError(
                f"{path}: is not a regular file (given by {origin}); give the config file itself."
            )
        if not path.is_file():
            chosen = str(chosen)
            if chosen != chosen.strip() and Path(chosen.strip()).expanduser().is_file():
                # `ATRI_CONFIG` from a .env file with Windows line endings ends in "\r",
                # which a terminal does not show: the path printed looked right.
                raise ConfigError(
                    f"{chosen!r} (given by {origin}) ends or starts with a blank or a carriage "
                    "return (a .env file with Windows line endings?); remove it."
                )
            raise ConfigError(f"{path}: config file not found (given by {origin}).")
        return path
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    if _broken_link(local):  # else the defaults were read, with no word of the file
        raise ConfigError(_broken_link_error(local, "in this folder"))
    return local if local.is_file() else None


def _broken_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def _broken_link_error(path: Path, origin: str) -> str:
    """ "config file not found" for a link to a moved or deleted file sent the reader
    looking at a file that is there."""
    target = os.path.realpath(path)  # the last link of a chain, relative links resolved
    return (
        f"{path}: is a link to {target}, which does not exist ({origin}); point the link "
        "at the config file, or give the config file itself."
    )


def load_settings(explicit: str | Path | None = None) -> Settings:
    """Read and validate the config; raise ConfigError with one sentence per problem."""
    path = find_config_path(explicit)
    if path is None:
        return Settings()
    try:
        text = read_hand_written(path)
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {_toml_problem(text, exc)}") from None
    except NotUtf8Error as exc:
        raise ConfigError(f"{path}: {exc}.") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc}).") from None
    return settings_from_dict(data, source=str(path), root=path.resolve().parent)


_FULL_WIDTH = str.maketrans("＝［］．，", "=[].,")
_CURLY_QUOTES = str.maketrans("“”„「」『』‘’", '"""""""' + "''")


def _toml_problem(text: str, exc: tomllib.TOMLDecodeError) -> str:
    """The sentence for a file TOML cannot read: a quote left open in plain words (the
    parser said "Illegal character '\\n'", or `Expected "'" (at end of document)` with no
    line at all), else the parser's complaint with a hint (`_toml_error`)."""
    unclosed = _unclosed_quote(text.splitlines())
    if unclosed is not None and str(exc).startswith(_UNCLOSED_QUOTE_SAID):
        return unclosed
    return f"not valid TOML ({_toml_error(text, exc)})."


# How the parser says that a line ended inside a quote.
_UNCLOSED_QUOTE_SAID = (
    "Unterminated string",
    "Illegal character '\\n'",
    "Illegal character '\\r'",
    'Expected "\'"',
)


def _unclosed_quote(lines: list[str]) -> str | None:
    """What to do about the first quote that is never closed, naming its line and key
    (never its text, which may be a secret); None where every quote closes."""
    found = _unclosed_quote_line(lines)
    if found is None:
        return None
    at, quote = found
    key = _KEY_LINE.match(lines[at - 1])
    of_key = f" of `{key[1]}`" if key else ""
    if len(quote) == 3:
        return (
            f"line {at} is not valid TOML: the text{of_key} opened with {quote} is never "
            f"closed; end it with {quote} where the text ends."
        )
    return (
        f"line {at} is not valid TOML: the text{of_key} has no closing {quote}; end it with "
        f"{quote} on the same line (text over several lines goes between {quote * 3} and "
        f"{quote * 3})."
    )


def _unclosed_quote_line(lines: list[str]) -> tuple[int, str] | None:
    """(the line counted from 1, the quote) of the first quote never closed, a multi-line
    string's by the line it opens on; None where every quote closes."""
    multi: tuple[int, str] | None = None
    for number, line in enumerate(lines, 1):
        at = 0
        while at < len(line):
            if multi is not None:
                closes = line.find(multi[1], at)
                if closes < 0:
                    break
                at, multi = closes + 3, None
            elif line.startswith(('"""', "'''"), at):
                multi, at = (number, line[at : at + 3]), at + 3
            elif line[at] in "\"'":
                end = _closing_quote(line, at)
                if end is None:
                    return number, line[at]
                at = end + 1
            elif line[at] == "#":
                break
            else:
                at += 1
    return multi


def _closing_quote(line: str, start: int) -> int | None:
    """Where the quote opened at `start` closes on `line` (a backslash escapes the next
    character in double quotes, nothing in single ones), or None."""
    quote, at = line[start], start + 1
    while at < len(line):
        if line[at] == "\\" and quote == '"':
            at += 2
        elif line[at] == quote:
            return at
        else:
            at += 1
    return None


def _toml_error(text: str, exc: tomllib.TOMLDecodeError) -> str:
    """The parser's complaint, with a hint on the line it stopped at: most slips in a
    hand-written config are an input method's characters or Python habits, and the
    parser's "Invalid value" names none of them."""
    said = str(exc)
    twice = re.match(r"Cannot declare \((.*)\) twice \(at line (\d+)", said)
    if twice is not None:  # the parser shows the section as a Python tuple
        section = ".".join(re.findall(r"'((?:[^'\\]|\\.)*)'", twice[1]))
        return f"[{section}] appears twice (again at line {twice[2]}); merge the two into one"
    if said.startswith("Cannot overwrite a value"):
        return f"{said}; a key is set twice in one section: keep one of the two"
    found = re.search(r"at line (\d+)", said)
    lines = text.splitlines()
    if found is None or not 0 < int(found[1]) <= len(lines):
        return said
    at = int(found[1])
    line = lines[at - 1]
    # A line inside a list spread over lines belongs to the list's key (its own "key"
    # would be the start of an entry: `sk-abc==,`).
    key = _KEY_LINE.match(line) or _COLON_KEY_LINE.match(line)
    owner = _array_key_above(lines, at) or (key[1] if key else None)
    named = f" (`{owner}`)" if owner else ""
    if owner is not None:
        # A hint shows the line mended, value and all: not a token's.
        sections = (_SECTION_LINE.match(above) for above in reversed(lines[: at - 1]))
        section = next((m[1] for m in sections if m is not None), "")
        key_name = owner.strip("\"'")
        # A dotted key names its section too: `worker.api_keys = …` at the top.
        loc = [part for part in f"{section}.{key_name}".split(".") if part]
        if (secret := _secret_in_file(loc)) is not None:
            return f"{said}; line {at}{named} {secret}"
    hint = _comment_after_a_value(line, said) or _line_hint(line.strip())
    if hint is None:
        return said
    if owner is not None and not _a_key_of_some_section(loc[-1]):
        # Not the line mended: a key of no section may be a slip of a secret's (`tokne`).
        hint = f"{hint.partition(', like ')[0]} (the value is not shown here)"
    return f"{said}; line {at}{named}: {without_credentials(hint)}"


_KEY_LINE = re.compile(r"\s*([\w.\"'-]+)\s*[=＝]")
# `key: value`, as YAML writes it: its key is checked as a key's (a secret's value is not
# shown in the hint).
_COLON_KEY_LINE = re.compile(r"\s*([A-Za-z_][\w-]*)\s*:")
_SECTION_LINE = re.compile(r"\s*\[\[?([\w.-]+)\]")


def _array_key_above(lines: list[str], at: int) -> str | None:
    """The key of a list spread over lines that line `at` (counted from 1) is inside, or
    None. Brackets inside strings are counted too: at worst a hint is left out."""
    depth = 0
    for line in reversed(lines[: at - 1]):
        if _SECTION_LINE.match(line) and not _KEY_LINE.match(line):
            return None
        depth += line.count("[") - line.count("]")
        key = _KEY_LINE.match(line)
        if key is not None:
            return key[1] if depth > 0 else None
    return None


def _comment_after_a_value(line: str, said: str) -> str | None:
    """The hint for `top_k = 50 // more`: the parser read the value and stopped at the
    `//` (a `//` inside a string it read whole, so that one is never taken for this)."""
    column = re.search(r"at line \d+, column (\d+)", said)
    if column is None:
        return None
    before, after = line[: int(column[1]) - 1], line[int(column[1]) - 1 :]
    if not before.strip() or not after.startswith("//"):
        return None  # a `//` line of its own gets `_line_hint`'s
    return f"comments start with # in TOML, like {before.strip()} #{after[2:]}"


def _line_hint(line: str) -> str | None:
    """What to write instead on a line TOML could not read, or None when it is no slip
    we know."""
    if line.startswith(("<<<<<<<", "=======", ">>>>>>>", "|||||||")):
        return (
            "a git merge conflict marker (`git pull` or `git stash pop` over your edits): keep "
            "your lines and the new ones, and delete the marker lines"
        )
    if line.translate(_FULL_WIDTH) != line:
        return f"write ＝ ［ ］ in ASCII (half-width), like {line.translate(_FULL_WIDTH)}"
    if line.translate(_CURLY_QUOTES) != line:
        return f"write text in straight quotes, like {line.translate(_CURLY_QUOTES)}"
    if line.startswith(("//", ";")):
        return f"comments start with # in TOML, like #{line.lstrip('/;')}"
    colon = re.fullmatch(_COLON_KEY_LINE.pattern + r"\s*(.+)", line)
    if colon is not None:
        return f"a key takes = in TOML, not a colon, like {colon[1]} = {colon[2]}"
    value = re.match(r"([^=]+?)\s*=\s*(.*?)\s*(#.*)?$", line)
    if value is not None and value[2].endswith(";"):
        return f"no ; at a line's end in TOML, like {value[1]} = {value[2].rstrip(';').rstrip()}"
    number = _number_slip(value[2]) if value is not None else None
    if value is not None and number is not None:
        return f"write the number as TOML does, like {value[1]} = {number}"
    if value is not None and value[2] in {"True", "False"}:
        return f"true and false are lower case in TOML, like {value[1]} = {value[2].lower()}"
    if "\\" in line:
        return WINDOWS_PATH_HINT
    if value is not None and value[2] and value[2][0] not in "\"'[{+-.0123456789":
        return f'put text in double quotes, like {value[1]} = "{value[2]}"'
    return None


def _number_slip(value: str) -> str | None:
    """A number written as people write it and TOML does not read, as TOML writes it:
    ".5" (0.5), "0,5" (a decimal comma: 0.5), "70%" (0.7); else None."""
    if re.fullmatch(r"[+-]?\.\d+", value):
        return value.replace(".", "0.", 1)
    if re.fullmatch(r"[+-]?\d+,\d+", value):
        return value.replace(",", ".")
    if re.fullmatch(r"\d+(?:\.\d+)?%", value):
        return f"{float(value[:-1]) / 100:g}"
    return None


# Keys renamed since the last release: (section, old) -> (section, new). The old name is
# still read, for one release, with a sentence saying what to rename.
RENAMED_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("train", "output_dir"): ("model", "adapters_dir"),
    ("reload", "adapters_dir"): ("model", "adapters_dir"),
    ("dataprep", "atri_aliases"): ("dataprep", "character_aliases"),
}


def _move_renamed_keys(data: dict[str, Any], source: str) -> dict[tuple[str, str], tuple[str, str]]:
    """Read old key names under their new ones; return the old name of each moved key,
    by its new one."""
    moved = {}
    for (old_section, old_key), (new_section, new_key) in RENAMED_KEYS.items():
        section = data.get(old_section)
        if not isinstance(section, dict) or old_key not in section:
            continue
        value = section.pop(old_key)
        target = data.setdefault(new_section, {})
        if not isinstance(target, dict):
            continue  # the validator names the broken section
        if new_key in target and target[new_key] != value:
            raise ConfigError(
                f"{source}: [{old_section}] {old_key} is the old name of [{new_section}] "
                f"{new_key}, and both are set to different values; keep only [{new_section}] "
                f"{new_key}."
            )
        target[new_key] = value
        moved[new_section, new_key] = (old_section, old_key)
    return moved


def _renamed_notices(moved: dict[tuple[str, str], tuple[str, str]], source: str) -> list[str]:
    return [
        f"{source}: [{old[0]}] {old[1]} is now [{new[0]}] {new[1]}; "
        "rename it (the old name stops working in the next release)."
        for new, old in moved.items()
    ]


# Lists the shipped config.toml wrote out in earlier releases, by the first 16 hex digits
# of the sha256 of their JSON (`_fingerprint`). Everyone's config.toml began as a copy of
# it, so an upgrade kept last release's lists and, with them, none of the newer
# out-of-character phrases; a list equal to one of these is an old default, not a choice:
# the current default is used, and a notice says so. Changing one of these defaults, add
# the fingerprint of the list it replaces here.
_OLD_DEFAULT_LISTS: dict[tuple[str, str], frozenset[str]] = {
    ("ooc", "assistant_speak"): frozenset(["2b707336eb4d7eaa", "b1c80c3488efbbe0"]),
    ("ooc", "self_reference"): frozenset(
        ["6f35b5fe87e6dbb7", "8e0519216271e8fe", "bca79ec87ba79df1"]
    ),
    ("ooc", "dialect"): frozenset(["1f5f7ac5a758190a", "27f7b74d4bae2a21"]),
    ("ooc", "profanity"): frozenset(["9e27195f3981776c", "a11031b9674c0b32"]),
    ("eval", "style_markers"): frozenset(["519810d02a547a64", "8a0befc5ae76f9d2"]),
}


def _fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()[:16]


def _drop_old_default_lists(data: dict[str, Any], source: str) -> list[str]:
    """Take each list that is an earlier release's default out of `data` (the current
    default applies); a sentence naming them, or none."""
    old = []
    for (section, key), fingerprints in _OLD_DEFAULT_LISTS.items():
        table = data.get(section)
        if isinstance(table, dict) and _fingerprint(table.get(key)) in fingerprints:
            del table[key]
            old.append(f"[{section}] {key}")
    if not old:
        return []
    return [
        f"{source}: {', '.join(old)} {'is' if len(old) == 1 else 'are'} an earlier release's "
        "default, so the current one is used (newer lists know more): copy the current "
        "lines from the new config.toml, or delete these, to silence this."
    ]


def settings_from_dict(
    data: dict[str, Any], source: str = "config.toml", root: Path | None = None
) -> Settings:
    data = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    internal = next((k for k in ("root", "notices", "config_file") if k in data), None)
    if internal is not None:
        raise ConfigError(f"{source}: {internal}: is not a known key.")
    moved = _move_renamed_keys(data, source)
    notices = _renamed_notices(moved, source) + _drop_old_default_lists(data, source)
    try:
        settings = Settings.model_validate(data, context=_IN_THE_FILE)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source, moved)) from None
    if root is not None:
        settings.root = root
        settings.config_file = source
    problems = (
        _memory_path_problem(settings),
        _window_positions_problem(settings),
        *_reply_room_problems(settings),
    )
    for problem in problems:
        if problem is not None:
            raise ConfigError(f"{source}: {problem}")
    settings.notices = notices
    return settings


def _memory_path_problem(settings: Settings) -> str | None:
    """`[memory] path = "data"`, written as `adapters_dir = "adapters"` is, made a
    database file named `data`, where `atri prep` then found no folder for its dataset. A
    path that names nothing yet and has no suffix (.sqlite3, .db) is taken for a folder;
    an existing file without one is someone's database, and is read."""
    value = settings.memory.path
    if Path(value).suffix or settings.path(value).exists():
        return None
    return (
        f"[memory] path = {_toml_repr(value)} names no file yet and has no suffix such as "
        ".sqlite3, so it would be made as a database file of that name, not a folder: for "
        f"a database in that folder write path = {_toml_repr(value + '/atri.sqlite3')}"
    )


# The positions the offline default (SmolLM2-135M-Instruct) was built for: the
# max_position_embeddings of its config, known here without its files.
OFFLINE_DEFAULT_POSITIONS = 8192


def positions_in(config_file: Path) -> int:
    """`max_position_embeddings` in a model folder's config.json; 0 where it is not
    there to read (a hub id transformers downloads, a config without it)."""
    value = json_object(config_file).get("max_position_embeddings")
    return value if isinstance(value, int) and value > 0 else 0


def window_past_positions(settings: Settings, built_for: int) -> str | None:
    """Why `[model] context_window` is more than the `built_for` positions of the base
    model, or None (0: unknown, any window)."""
    window = settings.model.context_window
    if not (window and built_for and window > built_for):
        return None
    return (
        f'[model] context_window = {window} is longer than "{settings.model.base}" was '
        f"built for ({built_for} positions, max_position_embeddings in its config); set "
        f"at most {built_for}, or 0 for that."
    )


def _window_positions_problem(settings: Settings) -> str | None:
    """A window past the local engine's base model, where its positions are known without
    loading it (the offline default, a folder's config.json): refused when the model
    loaded, the memory database was made first. A hub id's are read once it downloads."""
    if settings.model.engine != "local" or not settings.model.context_window:
        return None
    base = settings.model.base.strip()
    if base in {"", OFFLINE_DEFAULT_BASE}:
        built_for = OFFLINE_DEFAULT_POSITIONS
    else:
        built_for = positions_in(settings.path(base) / "config.json")
    return window_past_positions(settings, built_for)


# Each reply length the config sets: each shares the context window with its prompt.
_REPLY_LENGTHS = (
    ("generation", "max_new_tokens"),
    ("reload", "smoke_max_new_tokens"),
    ("eval", "max_new_tokens"),
)


def _reply_room_problems(settings: Settings) -> Iterable[str | None]:
    for section, key in _REPLY_LENGTHS:
        tokens = getattr(getattr(settings, section), key)
        yield reply_room_problem(settings, f"[{section}] {key} = {tokens}", key, tokens)


def reply_room_problem(settings: Settings, setting: str, name: str, max_new: int) -> str | None:
    """Why a reply of `max_new` tokens leaves no room for a prompt in the context window,
    or None. A reply that takes the whole window leaves no room for any prompt: `atri
    chat` stopped at the first message, but `serve` and `worker` ran on and answered
    every message with her error line. `setting`: the key or flag as written, with its
    value; `name`: what to lower. Known here only where the config sets the window: a 0
    is the model's own, read when it loads, and the echo engine keeps its own."""
    window = settings.model.context_window
    if not window or settings.model.engine == "echo":
        return None
    # Here, not at the top: the config module stays below the model's (and quick to import).
    from model.character.prompt import PROMPT_LEAST_TOKENS

    if max_new + PROMPT_LEAST_TOKENS <= window:
        return None
    return (
        f"{setting} leaves no room for a prompt in [model] context_window = {window}, as "
        "the prompt and the reply share the window and a prompt takes at least "
        f"{PROMPT_LEAST_TOKENS} tokens: lower {name}, like {max(1, window // 4)}, or raise "
        "context_window where the model takes more"
    )
