"""Cleaning: text rules applied to every line, and filters applied to finished samples.

Text rules never invent words: they delete markup and notes, strip the quote marks
around a line, unify ellipses and runs of punctuation in Chinese and Japanese lines
(English keeps its "..." and "!!!") and, optionally, convert Traditional to Simplified
Chinese. Filters drop whole samples and say why.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import compress, count, repeat
from operator import ne, not_

from dataprep.cjk_names import ChineseNames, has_han
from dataprep.errors import DataprepError
from dataprep.formats.common import QUOTE_PAIRS, SOUND_REF, drop_bracket_ruby, tidy_name
from dataprep.records import Sample

USER_PLACEHOLDER = "{{user}}"
# USER_PLACEHOLDER as an `re.sub` template: itself, any backslash escaped.
_PLACEHOLDER_TEMPLATE = USER_PLACEHOLDER.replace("\\", "\\\\")
# Titles after a name that stay after {{user}} (夏生さん → {{user}}さん): how she addresses him.
HONORIFICS = ("さん", "くん", "君", "ちゃん", "様", "さま", "殿", "先輩", "先生")

# (注：…) (译注…) (原文：…) (TN: …) in full- or half-width brackets: translator talk. 注,
# 原文 and TN are also the start of words a character says (【注意】, (注目), (TNT)): they
# make a note only before a colon, a dash, a footnote number or the bracket's close.
_NOTE = re.compile(
    r"[（(【\[〔]\s*(?:(?:译注|譯注|訳注|校注|原文ママ|TL ?notes?|T/N|translator'?s? notes?)(?![a-z])"
    r"|(?:注|原文|TN)(?=\s*[-–—:：）)】\]〕]|[0-9０-９①-⑳]))"
    r"[^）)】\]〕]*[）)】\]〕]",
    re.I,
)
_NOTE_CLOSERS = "）)】]〕"
# Leftover markup: KAG-style [tags] with ASCII bodies, <html>, {renpy} tags (never the
# {{user}} placeholder), <| engine code |> blocks, voice file refs. Deleted by
# `_MARKUP.sub(_MARKUP_KEPT, …)`. Each pattern is tried at every position of a line, so
# none may scan far from a place where it then fails: on a 100k-character line that is
# minutes. An engine block closes within 200 characters and a [tag] within 500 (each is
# one command: `<| show bg |>`, `[link target=*a storage=b.ks]`), so an unclosed `<|` or
# a run of "[a[a[a…" is no longer read to the end of the line from each. A file name
# is tried only where a run of its characters starts, not again at every "." or "/" of a
# long run that names no audio file; a run that starts with "/", "." or "-" keeps them
# (group `keep`), as before, when the file name after them goes.
# A ruby tag's reading may be kana (`[ruby text="さいゆう"]彩釉[/ruby]`, VNTextPatch's
# and KAG's): the tag goes whatever its value holds, leaving the word it reads.
_MARKUP = re.compile(
    r"\[ruby\s[^\]\n]{0,500}+\]"
    r"|\[[A-Za-z_@/][\x20-\x5c\x5e-\x7e]{0,500}+\]|</?[A-Za-z][^<>]*>|(?<!\{)\{/?[A-Za-z][^{}]*\}"
    r"|<\|.{0,200}?\|>"
    r"|(?:[（(](?=\w)|(?<![\w/\\.-])(?P<keep>[/\\.-]*+)(?=\w))"
    r"[\w/\\.-]+\.(?:ogg|wav|mp3|opus|flac)\b[）)]?"
)
_MARKUP_KEPT = r"\g<keep>"
# Cross Channel's and other dumps' ruby in braces, `{七香:Nanaka}`, `{恭:うやうや}`: the
# word stays. Only that shape, no blank or brace inside, so `{{user}}` and `{name}` stay.
_BRACE_RUBY = re.compile(r"(?<!\{)\{([^\s{}:]{1,32}+):[^\s{}:]{1,32}+\}(?!\})")
# A dump's `\n` escape, a line break the game shows (`「ゴイシャス」\n※…`): not `\\n`.
# Windows dumps write `\r\n` (or a lone `\r`), whose `\r` otherwise stayed in her replies.
_ESCAPED_BREAK = re.compile(r"(?<!\\)(?:\\r\\n|\\r|\\n)")
# An escaped quote (`\"Quoted\"`, a JSON or C string dumped as it was written): not `\\"`.
_ESCAPED_QUOTE = re.compile(r'(?<!\\)\\"')
# An HTML character reference a web or wiki dump keeps (`I &lt;3 crabs &amp; fish!`).
_HTML_REFERENCE = re.compile(r"&(?:[A-Za-z]{2,8}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
# A Windows path, whose `\notes.txt` is no line break: a drive letter, `:\`, no blank.
_WINDOWS_PATH = re.compile(r"(?<![A-Za-z])[A-Za-z]:\\[^\s「」『』“”\"'，。、]++")
# Page-end marks a dump leaves at the end of a line: ONScripter's `\`, CatSystem2's `@`
# and `\@` (`「起きてないもん！」\@`); also at the end of each line of a reply joined from
# several. One inside a line (`@` a click wait, `\` of a path or `¯\_(ツ)_/¯`) stays, as
# does an escaped `\\`.
_PAGE_END = re.compile(r"(?:\\@|(?<!\\)\\|@)[^\S\n]*+(?=\n|\Z)")
_AUDIO = re.compile(r"\.(?:ogg|wav|mp3|opus|flac)\b")
# A voice or sound reference in brackets, `[语音：atr_0012]`, `【voice:atr_0012】`,
# `（SE：door_01）`, where `_MARKUP` sees only tags that start with an ASCII letter.
_SOUND_REF = re.compile(rf"[\[【〔(（]{SOUND_REF}[\]】〕)）]")
# Kana, CJK ideographs, Hangul, CJK punctuation and full-width forms, the full-width
# space aside.
_CJK_BUT_SPACE = r"\u3001-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff01-\uff9f"
# A line with any of them, or a full-width space, gets the CJK punctuation rules.
CJK = re.compile(rf"[\u3000{_CJK_BUT_SPACE}]")
# A line with one of them is not Latin text, whatever full-width spaces it holds.
_CJK_BESIDE_SPACE = re.compile(rf"[{_CJK_BUT_SPACE}]")
# Hiragana, katakana and half-width katakana: a line with any is Japanese, whose kanji
# Traditional → Simplified conversion must not touch (會話 is not 会话).
_KANA = re.compile(r"[\u3041-\u3096\u30a1-\u30fa\uff66-\uff9d]")  # not ・ ー: Chinese uses them
# Aozora-style ruby: ｜漢字《かんじ》 and 漢字《かんじ》 (readings in kana only, so that
# Chinese book-title marks 《三体》 survive); web novels' ASCII `|漢字《かんじ》`, whose
# reading must be kana too (an ASCII bar is also a separator: `A|B《三体》`).
_RUBY = re.compile(
    r"｜([^《｜\n]+)《[^》\n]*》|\|([^《｜|\n]{1,20}+)《[\u3041-\u30ff]+》"
    r"|(?<=[\u4e00-\u9fff])《[\u3041-\u30ff]+》"
)
# Any run of dots that means an ellipsis: ・・ ･･ ... 。。。 … ‥ ⋯ and mixtures.
_ELLIPSIS = re.compile(r"(?:[・･·]{2,}|\.{3,}|。{3,}|[…‥⋯]+)(?:[・･·.。…‥⋯]*)")
_REPEAT_LOUD = re.compile(r"([！!？?])\1{2,}")
_REPEAT_TILDE = re.compile(r"([～〜~])\1+")
# Dashes only: a run of ー is a Japanese long vowel (すごーーーい), not punctuation.
_REPEAT_DASH = re.compile(r"[—―─]{3,}")
_SPACES = re.compile(r"\s+")
_CLOSERS = {c: o for o, c in QUOTE_PAIRS.items() if o != c}
_ELLIPSIS_OR_PUNCT = re.compile(r"[\W_]+")
# What `_ELLIPSIS_OR_PUNCT` leaves: joining its runs is a fifth faster than deleting the rest.
_WORD_RUNS = re.compile(r"[^\W_]+")
# Sounds that carry no words. A reply made only of these (and punctuation) is dropped.
# Japanese ones are listed in hiragana and match in katakana too (エッ, ｳｰﾝ, キャー).
# English ones as they are drawn out (Uhh, Aah, Mmm, Hehe, Ehehe, Err): a letter repeats,
# so no sound joined to another spells a word ("Mmm, delicious!" and "Hi!" are words).
_INTERJECTION_WORDS = (
    "嗯|恩|唔|呜|啊|阿|哦|噢|喔|欸|诶|誒|哎|唉|呃|额|咦|哇|嘿|哈|呵|嘻|噗|咕|呼|哼|诶嘿"
    "|え|あ|う|ん|お|は|ふ|へ|ほ|ひ|む|わ|ぁ|ぃ|ぅ|ぇ|ぉ|ゃ|ゅ|ょ|ゎ|っ|ー|〜|きゃ|ぎゃ|くっ|ちっ"
    "|えっと|えーっと|えーと|ええと|えと"  # "um": hesitation, not a word of the answer
    "|u+[hm]+|a+h+|o+h+|e+h+|h+u+h+|h+m+|m{2,}|a+w+|o+w+|u+g+h+|w+h*o+a+h*|w+o+w+"
    "|a?(?:ha)+h*|e?h(?:eh)+e?|o?(?:ho){2,}|(?:hi){2,}|s+i+g+h+s?|h*m+p+h+"
)
# "Er" only opens a run of sounds ("Er, um..."), and "Nn", "Uu" stand alone: after
# others they spell words ("hammer", "Hannah").
_HESITATION = "e+r+"
_SOUNDS_ALONE = "n{2,}|u{2,}"
INTERJECTIONS = re.compile(
    f"(?:{_HESITATION})?(?:{_INTERJECTION_WORDS})+|{_HESITATION}|{_SOUNDS_ALONE}", re.I
)
# Yes and no in one sound: うん, おう, うむ, ええ, 嗯 ("yes"; Chinese translations answer a
# question with 嗯。), ううん ("no"), uh-huh. Said alone, with nothing after it but a stop,
# a "!" or a comma (「ううん、[l]違うよ」 split at a click wait), it answers the lead and is
# kept; so is a firm うんっ！ (but ええっ！ is surprise). With an ellipsis, a "?", a dash or
# a long vowel (嗯……, うーん……, 嗯？) one cannot tell it from hesitation or surprise: the
# "嗯・・・・・・" noise this filter is for.
_ANSWER = re.compile(
    r"(?:(?:うん|ううん|うんうん|おう)っ?|うむ|ええ|嗯|嗯嗯|恩|uh-huh|mm-hmm)"
    r"(?:[!,、]|[。.](?![。.]))*",
    re.I,
)
# Katakana → hiragana (ァ..ヶ are ぁ..ゖ moved by 0x60), so one list serves both scripts.
_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}
# Full-width letters and digits, half-width kana: the word characters NFKC changes.
_COMPAT_LETTERS = re.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff66-\uff9f]")
_INTERJECTION_LETTERS = {c for c in INTERJECTIONS.pattern if c.isalpha()}
# A word character that appears in no interjection: its presence settles "not noise".
_WORDY = re.compile(
    "[^\\W_"
    + "".join(sorted(_INTERJECTION_LETTERS))
    + "".join(
        sorted(chr(k) for k, h in _KATAKANA_TO_HIRAGANA.items() if chr(h) in _INTERJECTION_LETTERS)
    )
    + "".join(sorted(c.upper() for c in _INTERJECTION_LETTERS if c.isascii()))
    + "]"
)


# Every character (or run) that one of the rules in `apply_text_rules` looks for: a line
# with none of them only needs its quotes and edge blanks stripped. A "……" pair is the
# one ellipsis that is already right, so only a lone "…" or a run of three counts. Each
# alternative starts with a literal, which lets the regex engine skip ahead to the next
# possible first character instead of trying every alternative at every position.
_RULE_TRIGGERS = re.compile(
    "|".join(
        [
            *(re.escape(c) for c in "(（【[〔《<{‥⋯―─\t\u3000\n\r"),
            r"\\[nr\"]",  # a dump's escaped break or quote
            "&[#A-Za-z]",  # an HTML character reference
            "…(?<!……)(?!…)",
            "………",
            *(re.escape(run) for run in ("・・", "･･", "··", "...", "。。", "！！！", "!!!")),
            *(re.escape(run) for run in ("？？？", "???", "～～", "〜〜", "~~", "——", "  ")),
            r"\.(?:ogg|wav|mp3|opus|flac)\b",
        ]
    )
)


# What `may_change` looks for in a line: a rule trigger, or a name slot's `%(` (`[` and
# `{` are triggers). Quote marks and page-end marks are looked for at the ends only.
_TRIGGER_OR_SLOT = re.compile(rf"{_RULE_TRIGGERS.pattern}|%\(")
# Every character `str.strip()` strips (none is above U+3000), and with them the quote
# marks a line may start with, and the closing quotes and page-end marks it may end with.
_BLANKS = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_CHANGING_STARTS = _BLANKS + "".join(QUOTE_PAIRS)
_CHANGING_ENDS = _BLANKS + "".join(_CLOSERS) + "\\@"


def may_change(texts: list[str]) -> list[int]:
    """The positions (ascending) of the texts that `clean_text` may change, or that hold
    a name slot: one with a rule trigger, one that is empty, has blanks at either end,
    starts with a quote mark or ends with a closing one or a page-end mark. Any other
    comes out of `clean_text` exactly as it went in (Traditional → Simplified aside), so
    a batch skips its cleaning. Each test maps a C function over the texts: no Python
    code runs per text."""
    found = set(compress(count(), map(_TRIGGER_OR_SLOT.search, texts)))
    found.update(
        compress(count(), map(ne, map(str.lstrip, texts, repeat(_CHANGING_STARTS)), texts))
    )
    found.update(compress(count(), map(ne, map(str.rstrip, texts, repeat(_CHANGING_ENDS)), texts)))
    if not all(texts):
        found.update(compress(count(), map(not_, texts)))
    return sorted(found)


def clean_text(
    text: str, to_simplified: Callable[[str], str] | None = None, markup: bool = True
) -> str:
    """Apply every text rule to one line; returns "" if nothing is left. With `markup`
    False the line is left its brackets and braces: its parser already removed the
    format's tags, and what is left is text the player reads (Utterance.shown), a
    `[[literal]` written `[literal]` included. Voice and sound references
    (`【voice:atr_0012】`) go either way: no engine shows them, a dump leaves them."""
    if _RULE_TRIGGERS.search(text) is None:
        # One scan in C instead of two dozen substring tests: most lines take this path.
        text = text.strip()
        if text[-1:] in ("\\", "@"):
            text = _PAGE_END.sub("", text).rstrip()
        text = strip_quotes(text).strip()
    else:
        text = apply_text_rules(text, markup)
    if to_simplified is not None and text and _KANA.search(text) is None:
        text = to_simplified(text)
    return text


def apply_text_rules(text: str, markup: bool = True) -> str:
    """Every text rule but Traditional → Simplified, each guarded by a test for the
    characters it needs: a substring test is far cheaper than a regex pass. `markup`
    False leaves out the rule that deletes leftover markup (not the one for sound references)."""
    if "\\n" in text or "\\r" in text:
        text = _escaped_breaks(text)
    if '\\"' in text:
        text = _ESCAPED_QUOTE.sub('"', text)
    if "&" in text and ";" in text:
        text = _HTML_REFERENCE.sub(_html_character, text)
    if "(" in text or "（" in text or "【" in text or "[" in text or "〔" in text:
        # No note starts after the last closing bracket: leaving that tail out of the
        # scan keeps a line of thousands of unclosed "(注" from being read once for each.
        end = max(map(text.rfind, _NOTE_CLOSERS)) + 1
        if end:
            text = _NOTE.sub("", text[:end]) + text[end:]
    if "《" in text:
        text = _drop_ruby(text)
    # A voice reference is a dump's, not an engine's: it goes from every format's lines.
    if ":" in text or "：" in text:
        text = _SOUND_REF.sub("", text)
    if markup:
        if "{" in text and ":" in text:
            text = _BRACE_RUBY.sub(r"\1", text)
        if "/" in text and "[" in text:
            text = drop_bracket_ruby(text)
        audio = "." in text and _AUDIO.search(text) is not None
        if audio or "[" in text or "<" in text or "{" in text:
            # `keep` is only ever set beside a file name; the template costs a Python call
            # per match (Python 3.11), so only lines that name an audio file pay for it.
            text = _MARKUP.sub(_MARKUP_KEPT if audio else "", text)
    if "\\" in text or "@" in text:
        text = _PAGE_END.sub("", text)
    text = strip_quotes(text.strip())
    if CJK.search(text) is not None:
        text = _cjk_punctuation(text)
    if "  " in text or "\t" in text or "\u3000" in text or "\n" in text or "\r" in text:
        text = _collapse_blanks(text)
    return text.strip()


def _html_character(m: re.Match[str]) -> str:
    """The character an HTML reference stands for; one HTML does not know stays."""
    return html.unescape(m[0])


def _escaped_breaks(text: str) -> str:
    """Each `\\n` escape a line break; a translator's note on a line of its own after one
    (`「ゴイシャス」\\n※ゴイス（凄い）＋デリシャス`) goes: no one says it."""
    paths: list[str] = []
    if ":\\" in text and "\0" not in text:
        # Set aside while the escapes are read, each as a `\0`.
        def set_aside(m: re.Match[str]) -> str:
            paths.append(m[0])
            return "\0"

        text = _WINDOWS_PATH.sub(set_aside, text)
    lines = _ESCAPED_BREAK.split(text)
    text = "\n".join([lines[0], *(line for line in lines[1:] if not line.lstrip().startswith("※"))])
    if paths:
        kept = iter(paths)
        text = re.sub("\0", lambda _: next(kept), text)
    return text


def _collapse_blanks(text: str) -> str:
    """Each run of blanks as one space. In a Chinese or Japanese line a run holding a
    full-width space stays one full-width space: there it is the writer's pause or gap
    (「でしょ？　えへへ」), which an ASCII space is not; in Latin text it is only a space."""
    if "\u3000" not in text or _CJK_BESIDE_SPACE.search(text) is None:
        return _SPACES.sub(" ", text)
    return _SPACES.sub(_one_blank, text)


def _one_blank(m: re.Match[str]) -> str:
    return "\u3000" if "\u3000" in m[0] else " "


def _drop_ruby(text: str) -> str:
    """Ruby readings out, each line scanned only up to its last 》: no reading closes
    after it, and a line of thousands of unclosed "｜字《" was read to its end from each."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        end = line.rfind("》") + 1
        if end:
            lines[i] = _RUBY.sub(_ruby_base, line[:end]) + line[end:]
    return "\n".join(lines)


def _ruby_base(m: re.Match[str]) -> str:
    return m.group(1) or m.group(2) or ""


def _cjk_punctuation(text: str) -> str:
    """One ellipsis style (……), at most two ！ or ？, one ～, one —— for a run of dashes."""
    if (
        ("…" in text and (text.count("…") != 2 * text.count("……") or "………" in text))
        or "・・" in text
        or "..." in text
        or "。。" in text
        or "‥" in text
        or "⋯" in text
        or "･･" in text
        or "··" in text
    ):
        text = _ELLIPSIS.sub("……", text)
    if "！！！" in text or "!!!" in text or "？？？" in text or "???" in text:
        text = _REPEAT_LOUD.sub(r"\1\1", text)
    if "～～" in text or "〜〜" in text or "~~" in text:
        text = _REPEAT_TILDE.sub(r"\1", text)
    if "——" in text or "―" in text or "─" in text:
        text = _REPEAT_DASH.sub("——", text)
    return text


def strip_quotes(text: str) -> str:
    """Remove one pair of quote marks enclosing the whole line (or an unclosed opener)."""
    if len(text) < 2:
        return text
    close = QUOTE_PAIRS.get(text[0])
    if close is None:
        # The second half of a line split at a click wait: "…了！」" has only the closer.
        opener = _CLOSERS.get(text[-1])
        if opener is not None and opener not in text[:-1]:
            return text[:-1].strip()
        return text
    inner = text[1:-1] if text.endswith(close) else text[1:]
    # 「a」「b」 is two quotes side by side, 「a」she said. a quote and narration: stripping
    # the outer pair would break either, so the line stays whole, its quotes kept. The
    # same goes for "a" she said. "b": a straight quote opens and closes alike. A quote
    # inside the quote (「他叫「椿」吗？」) is no such line: the outer pair closes at the end.
    if (text[0] in inner or close in inner) and not _closes_at_end(text, text[0], close):
        return text
    return inner.strip()


def _closes_at_end(text: str, opener: str, closer: str) -> bool:
    """Whether the quote `text` opens closes at its last character, quotes nested inside
    it counted (「a「b」c」), not earlier (「a」「b」). Never for a straight quote, which
    opens and closes alike."""
    if opener == closer or not text.endswith(closer):
        return False
    depth = 0
    for i, mark in enumerate(text):
        if mark == opener:
            depth += 1
        elif mark == closer:
            depth -= 1
            if depth == 0:
                return i == len(text) - 1
    return False


def opencc_t2s() -> Callable[[str], str]:
    try:
        from opencc import OpenCC  # optional extra; imported only when asked for
    except ImportError:
        raise DataprepError(
            "[dataprep] traditional_to_simplified = true needs OpenCC: pip install 'atri[opencc]'."
        ) from None

    return OpenCC("t2s").convert  # type: ignore[no-any-return]


def is_interjection_only(text: str) -> bool:
    """True for "嗯……", "啊！？", "……", "えっ", "エッ！？", "えっと……", "Hmm...", "Uhh...",
    "*sigh*": no words, only a sound. False for a yes or no said alone ("うん。", "ううん",
    "嗯！", "Uh-huh.", "*Mm-hmm.*": `_ANSWER`)."""
    if _WORDY.search(text) is not None and _COMPAT_LETTERS.search(text) is None:
        return False  # a letter no interjection has: the common case, decided in one scan
    plain = unicodedata.normalize("NFKC", text).translate(_KATAKANA_TO_HIRAGANA)
    if plain[:1] == "*" and plain[-1:] == "*":
        plain = plain.strip("*")  # an action in asterisks (*sigh*) is read as its words
    core = _ELLIPSIS_OR_PUNCT.sub("", plain)
    if not core:
        return True
    return INTERJECTIONS.fullmatch(core) is not None and _ANSWER.fullmatch(plain) is None


def interjections_only(texts: list[str]) -> list[bool]:
    """`is_interjection_only` of each text. Python code runs only for the few texts that
    may be noise: those with no letter that is in no interjection, or with a full-width
    letter (looked for in all the texts at once: most batches have none)."""
    may_be_noise: Iterator[int] = compress(count(), map(not_, map(_WORDY.search, texts)))
    if _COMPAT_LETTERS.search("".join(texts)) is not None:
        may_be_noise = iter(
            sorted({*may_be_noise, *compress(count(), map(_COMPAT_LETTERS.search, texts))})
        )
    noise = [False] * len(texts)
    for i in may_be_noise:
        noise[i] = is_interjection_only(texts[i])
    return noise


def near_key(text: str) -> str:
    """Text with case, width, spaces and punctuation ignored: equal keys are near-duplicates."""
    key = "".join(_WORD_RUNS.findall(text.casefold()))
    if _COMPAT_LETTERS.search(key) is not None:
        key = _ELLIPSIS_OR_PUNCT.sub("", unicodedata.normalize("NFKC", key).casefold())
    return key


def placeholder_replacer(lead_aliases: Iterable[str]) -> Callable[[str], str]:
    """Replace the lead's names with {{user}}, longest first (斑鸠夏生 before 夏生); an
    honorific after the name stays (夏生さん, 夏生君 → {{user}}さん, {{user}}君).

    A Chinese name is left where its characters are parts of two words (初夏生机勃勃 holds
    夏生: `cjk_names`). A Latin-script name matches as written, in capitals and in lower
    case ("NATSUKI!", "natsuki,": `_case_forms`), and never inside a word or after an
    apostrophe ("I'm" keeps its "m"); "Kaito's" becomes "{{user}}'s". A name that is also
    an ordinary word ("Will", "May": `_WORD_NAMES`) matches only as written, and one that
    is a word in lower case ("Rose": `_LOWER_CASE_WORDS`) not in lower case. One-letter
    Latin names are never replaced, nor a
    lead labelled with an English pronoun ("Me", "You"): no text tells them from the
    word ("Me too!"); they still name his lines. A one-character Chinese or Japanese name (湊, 蓮) is replaced
    only where it plainly names him: not after another Han character, and followed by
    an honorific (湊くん), a punctuation mark, a blank or the line's end (湊！); 太陽,
    陽が昇る and 蓮の花 keep theirs.
    A name is replaced as written and as the readers name speakers (`tidy_name`: an alias
    copied from a script, `森　罗`, is the speaker 森罗, and so written in the lines).
    """
    written = {
        n
        for a in lead_aliases
        for n in (a.strip(), tidy_name(a))
        if (len(n) > 1 or (n and has_han(n))) and n.casefold() not in _PRONOUNS
    }
    given = {form for n in written for form in _case_forms(n)}
    # An alias that is another one with an honorific (夏生君 beside 夏生) replaces only the
    # name: 夏生君 becomes {{user}}君, as 夏生くん becomes {{user}}くん and 夏生先生 {{user}}先生.
    names = sorted(
        (n for n in given if not any(n == base + h for h in HONORIFICS for base in given)),
        key=len,
        reverse=True,
    )
    if not names:
        return lambda s: s
    pattern = re.compile("|".join(_name_pattern(n) for n in names))
    chinese = ChineseNames(names)
    if not chinese.names and not any(n.casefold() in _WORD_NAMES for n in names):
        # No name is also a word (`_is_a_word_here` is then never true) nor Chinese: a
        # template substitutes in C, where a function is a Python call per match.
        return partial(pattern.sub, _PLACEHOLDER_TEMPLATE)

    def one(m: re.Match[str]) -> str:
        if has_han(m[0]):
            # 初夏生机勃勃 holds 夏生 and does not name him (`cjk_names`).
            return USER_PLACEHOLDER if chinese.is_name_at(m.string, *m.span()) else m[0]
        return m[0] if _is_a_word_here(m) else USER_PLACEHOLDER

    def replace(text: str) -> str:
        return pattern.sub(one, text)

    return replace


# A lead labelled "Me" or "You" in a script (我 in a Chinese dump, 僕 or 俺 in a Japanese
# one): the label names his lines, and in hers the word is the word ("Me too!", 我、我),
# so it is never replaced.
_PRONOUNS = frozenset(
    {"i", "me", "my", "mine", "myself", "you", "your", "yours", "he", "him", "his", "she"}
    | {"her", "hers", "we", "us", "our", "they", "them", "their", "it"}
    | {"我", "你", "您", "他", "她", "它", "咱", "俺", "吾", "僕", "私", "君", "自分"}
    | {"わたし", "あたし", "ぼく", "おれ", "あなた", "きみ", "ワタシ", "ボク", "オレ"}
)
# A lead called "Will", "May" or "Mark" is the word, not the name, where a sentence opens
# with it and a pronoun follows ("Will you come?", "May I?", "Mark my words"): a name
# said there to the lead takes a comma ("Will, you came!"). Only names that are such
# words: "Natsuki you're late!" is still the lead's name. A list, not learnt from the script
# (an alias the script also writes in lower case): these words open questions ("May I",
# "Will you"), and a short script may never write them otherwise.
_WORD_NAMES = {"will", "may", "can", "shall", "must", "might", "mark", "hope", "bill", "sue"}
# Given names that are also everyday words in lower case: a lead called Rose or Max is
# still found shouted ("ROSE!"), but "the sun rose" keeps its word.
_LOWER_CASE_WORDS = frozenset(
    {"rose", "grace", "joy", "faith", "dawn", "summer", "autumn", "winter", "april", "june"}
    | {"august", "sky", "ray", "max", "jack", "frank", "pat", "sandy", "amber", "ruby"}
    | {"pearl", "ivy", "lily", "holly", "daisy", "iris", "violet", "hazel", "river", "storm"}
    | {"rain", "snow", "star", "sunny", "honey", "angel", "cherry", "penny", "robin", "jay"}
    | {"drew", "chase", "grant", "hunter", "miles", "lane", "dean", "art", "rich", "gene"}
    | {"carol", "melody", "harmony", "destiny", "crystal", "glen", "cliff", "brook", "wade"}
)
_PRONOUN_NEXT = re.compile(
    r" (?:I|me|my|you|your|we|us|our|he|him|his|she|her|it|its|they|them|their|there|this"
    r"|that)\b",
    re.IGNORECASE,
)
_SENTENCE_ENDS = '.!?…。！？"“「『(（'


def _case_forms(name: str) -> set[str]:
    """`name` and, for a Latin-script name that is no ordinary word, the forms a line
    writes it in when she shouts it or types it in lower case ("NATSUKI", "natsuki"); an
    alias written in one case is found capitalised too ("kaito" → "Kaito")."""
    folded = name.casefold()
    if not name.isascii() or folded in _WORD_NAMES or name.upper() == name.lower():
        return {name}
    forms = {name, name.upper()}
    if folded not in _LOWER_CASE_WORDS:
        forms.add(name.lower())
    if name.isupper() or name.islower():
        forms.add(" ".join(word[:1].upper() + word[1:].lower() for word in name.split(" ")))
    return forms


def _is_a_word_here(m: re.Match[str]) -> bool:
    """The matched Latin name is an ordinary word at this place (`_PRONOUN_NEXT`)."""
    if m[0].casefold() not in _WORD_NAMES or not _PRONOUN_NEXT.match(m.string, m.end()):
        return False
    before = m.string[: m.start()].rstrip()
    return not before or before[-1] in _SENTENCE_ENDS


# A word in brackets where the game puts a name, left in a dump's line as written: a
# Ren'Py `[player]` (`[mc_name]`, `[persistent.name]`, `[player!c]`), a `{name}` or `{0}`
# of other engines, a Python `%(name)s`, and KiriKiri's `[emb exp=…]` (any value the game
# computes). Possessive and bounded, like `_MARKUP`: a failed try stops at once.
_NAME_SLOT = re.compile(
    r"\[(?P<square>[A-Za-z_][A-Za-z0-9_.]{0,63}+)(?:![a-z]{1,4}+)?\]"
    r"|(?<!\{)\{(?P<brace>[A-Za-z_][A-Za-z0-9_.]{0,63}+|[0-9]{1,2}+)\}(?!\})"
    r"|%\((?P<percent>[A-Za-z_][A-Za-z0-9_]{0,63}+)\)[sdr]"
    r"|\[(?i:emb)\s[^\]\n]{0,500}+\]"
)
# A word `_NAME_SLOT` takes as a slot's name.
_SLOT_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,63}")
# Ren'Py text tags written without a value (`{i}`, `{w}`, `{nw}`; `{w=0.5}` and `{/i}` never
# match `_NAME_SLOT`), and `{br}`: markup, which cleaning deletes, not a name.
_TEXT_TAG_NAMES = (
    "a|alpha|alt|art|b|br|clear|color|cps|done|fast|font|i|image|k|noalt|nw|outlinecolor|p"
    "|plain|rb|rt|s|shader|size|space|u|vspace|w"
)
_TEXT_TAGS = frozenset(_TEXT_TAG_NAMES.split("|"))
# A `[word]` is a name when one of its words is one of these or ends in "name" (`pname`,
# `playerName`, `mc_name`): a lower-case `[sighs]` is a direction and a `[my_macro]` or
# `[r]` a KAG tag, both deleted as before.
_NAME_WORD_LIST = "player|mc|protagonist|hero|heroine|user|nick"
_NAME_WORDS = frozenset(_NAME_WORD_LIST.split("|"))
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")


class NameSlots:
    """Finds the name slots a dump's line holds (`_NAME_SLOT`): one that names the lead
    (`[Natsuki]`, `{natsuki}` for a lead alias "Natsuki") becomes `lead_value`; any other
    is a name only the running game knows, which no text may stand in for."""

    def __init__(self, lead_aliases: Iterable[str], lead_value: str) -> None:
        self._lead = {a.strip().casefold() for a in lead_aliases}
        self._lead_value = lead_value
        # A lead alias `_NAME_SLOT` cannot hold (夏生, なつき) in braces or brackets: a
        # translation dump's `{夏生}`. Left to the name replacer, it became `{{{user}}}`.
        others = sorted((a for a in self._lead if a and not _SLOT_WORD.fullmatch(a)), key=len)
        words = "|".join(map(re.escape, reversed(others)))
        self._lead_slot = (
            re.compile(rf"(?<!\{{)\{{(?i:{words})\}}(?!\}})|\[(?i:{words})\]") if words else None
        )

    def fill(self, text: str) -> tuple[str, list[str]]:
        """`text` with the lead's slots filled, and the other slots as written (empty
        when there are none: markup such as `[r]`, `{i}`, `[sighs]` is no slot)."""
        if self._lead_slot is not None:
            text = self._lead_slot.sub(lambda _: self._lead_value, text)
        unfilled: list[str] = []

        def one(m: re.Match[str]) -> str:
            word = m["square"] or m["brace"] or m["percent"]
            if word is not None:
                if word.casefold() in self._lead:
                    return self._lead_value
                if m["square"] is not None and not _names_someone(word):
                    return m[0]
                if m["brace"] is not None and word in _TEXT_TAGS:
                    return m[0]
            unfilled.append(m[0])
            return m[0]

        filled = _NAME_SLOT.sub(one, text)
        return filled, unfilled


def _names_someone(word: str) -> bool:
    """True for `player`, `mc_name`, `playerName`, `MC`: a word of `_NAME_WORDS`, or one
    ending in "name", among its parts (split at "_", ".", digits and capitals)."""
    return any(w in _NAME_WORDS or w.endswith("name") for w in map(str.lower, _WORDS.findall(word)))


# A letter or digit of a word a Latin name would be part of: not one of Chinese, Japanese
# or Korean (`\w` holds them), written against a Latin name with no space (有sensei在,
# Kaitoさん). Before the name, an apostrophe or hyphen joins it to a word too (I'm).
_LATIN_LETTER = rf"(?![{_CJK_BUT_SPACE}])\w"
# A one-character name ends where an honorific, a punctuation mark, a blank or the
# line's end follows it; before it, a Han character would make it part of a word.
_HAN_LETTER = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
_ONE_HAN_NAME_ENDS = (
    "|".join(map(re.escape, HONORIFICS)) + r"|[\s、。，,.!！?？…‥・「」『』“”\"'（）()〜~ー—-]|$"
)
_LATIN_BEFORE = rf"(?![{_CJK_BUT_SPACE}])[\w'’-]"


def _name_pattern(name: str) -> str:
    r"""A lead name as one alternative of the replacer's pattern. A Latin-script name must
    not follow a letter, digit or apostrophe; that test comes after the name
    (Kaito(?<![\w'’-]Kaito), not (?<![\w'’-])Kaito) so that every alternative starts
    with a literal, which lets the regex engine skip ahead to the next possible first
    letter (most lines name no one, and the scan costs half as much), and a lower-case
    form's first letter, common in any line (natsuki: every "n"), costs only a look at
    the next one. Chinese, Japanese and Korean letters are no part of a Latin word:
    有sensei在 and Kaitoさん name him."""
    if len(name) == 1 and has_han(name):
        one = re.escape(name)
        return rf"{one}(?<!{_HAN_LETTER}{one})(?={_ONE_HAN_NAME_ENDS})"
    if not name.isascii():
        if name.endswith("生"):
            return rf"{re.escape(name)}(?!まれ)"  # 夏生まれ: "born in summer", not 夏生
        return re.escape(name)
    written = re.escape(name)
    return rf"{written}(?<!{_LATIN_BEFORE}{written})(?!{_LATIN_LETTER})"


# The drop reason of a sample with a byte its file could not be read in (U+FFFD) in any
# of its turns: read, the rest of the file trains, and that line would train as garbage.
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class FilterRules:
    min_reply_chars: int = 2
    max_reply_chars: int = 400
    drop_interjections: bool = True
    short_reply_max_chars: int = 8
    max_short_reply_repeats: int = 3
    drop_near_duplicates: bool = True


def filter_samples(
    samples: Iterable[Sample], rules: FilterRules, drops: Counter[str], dropped_lines: Counter[str]
) -> list[Sample]:
    return list(iter_filter(samples, rules, drops, dropped_lines))


def iter_filter(
    samples: Iterable[Sample], rules: FilterRules, drops: Counter[str], dropped_lines: Counter[str]
) -> Iterator[Sample]:
    """Drop samples by reply content; count each reason by sample and by character line.

    Each decision depends only on the samples before it, so samples stream through. The
    duplicate filters remember a hash of what they have seen, not the texts: a dropped
    sample's texts are let go, and a kept one's are not held twice. (Two different
    samples share a 64-bit hash about once in 10^19 pairs.)
    """
    short_seen: Counter[int] = Counter()
    exact_seen: set[int] = set()
    near_seen: set[int] = set()
    for sample in samples:
        reason = _drop_reason(sample, rules, short_seen, exact_seen, near_seen)
        if reason is None:
            yield sample
        else:
            drops[reason] += 1
            dropped_lines[reason] += len(sample.reply_lines)


def _drop_reason(
    sample: Sample,
    rules: FilterRules,
    short_seen: Counter[int],
    exact_seen: set[int],
    near_seen: set[int],
) -> str | None:
    turns = sample.turns
    reply = turns[-1][1]
    if any("\ufffd" in text for _, text in turns):
        return UNREADABLE
    if rules.drop_interjections and is_interjection_only(reply):
        return "interjection_only"
    length = len(reply)
    if length < rules.min_reply_chars:
        return "too_short"
    if length > rules.max_reply_chars:
        return "too_long"
    # Texts alone: roles alternate from human, so equal texts mean equal samples.
    exact = hash(tuple([text for _, text in turns]))
    if exact in exact_seen:
        return "duplicate"
    exact_seen.add(exact)
    reply_key: str | None = None
    if rules.drop_near_duplicates:
        reply_key = near_key(reply)
        prompt = turns[-2][1] if len(turns) >= 2 else ""
        near = hash((near_key(prompt), reply_key))
        if near in near_seen:
            return "near_duplicate"
        near_seen.add(near)
    if length <= rules.short_reply_max_chars:
        key = hash(near_key(reply) if reply_key is None else reply_key)
        short_seen[key] += 1
        if short_seen[key] > rules.max_short_reply_repeats:
            return "repeated_short_reply"
    return None
