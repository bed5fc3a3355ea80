"""A Ren'Py string as the player sees it.

A say statement's string, a character's name and a variable's value are all shown the
same way: escapes read, text tags dropped, `[var]` interpolated, and in a chosen
language looked up among its `translate <lang> strings` translations. The parser, the
Python say calls, the names of characters and the pipeline's count of unknown variables
all show strings so; reading the translation files themselves is `translations`'s.
"""

from __future__ import annotations

import re

from dataprep.formats.common import SOUND_LINE, space_between

# `{#…}` in a string tells apart strings written alike; Ren'Py looks a string up with them
# and, not finding it, without them. One left open is read to its line's end once and kept
# (`_undisambiguated`): tried again from each later `{#`, a line of them was quadratic.
_DISAMBIGUATION = re.compile(r"\{#[^}\n]*+\}?")
# `{{` is a literal "{"; any other {…} is a text tag, and a ruby reading goes with its tag
# (`{rt}…{/rt}` on one line: `_tags_read`); `{p}` breaks the line.
_TEXT_TAG = re.compile(r"\{\{|\{[^{}]*\}")
_RUBY_OPEN, _RUBY_CLOSE = "{rt}", "{/rt}"
# `[[` is a literal "["; `[name]`, `[name!u]`, `[obj.attr:fmt]` interpolate a variable, and
# so does `[name.upper()]` (Ren'Py evaluates an expression there): a change of case shows
# the variable's value as `!u` does, so it is read as that variable.
INTERPOLATION = re.compile(
    r"\[\[|\[([\w.]+?)(?:\.(?:upper|lower|title|capitalize)\(\))?(?![\w.])[^\]\[]*\]"
)
# The conversion flags after an interpolated variable (`[title!tu:>10]`: "tu"), after
# its change of case if any: `!t` shows its value translated, `!q` shows its braces as
# written instead of reading them as text tags.
_FLAGS = re.compile(r"(?:\.\w+\(\))?!([^\]:]*)")


def variables_shown(text: str) -> list[str]:
    """The variables a line's `[var]` interpolations name, in order."""
    return [m.group(1) for m in INTERPOLATION.finditer(text) if m.group(1)]


def string_translation(string: str, strings: dict[str, str]) -> str | None:
    """The translation (as written) a `translate <lang> strings` block gives a string
    (unescaped), as Ren'Py looks it up; None when none does."""
    new = strings.get(string)
    if new is None and "{#" in string:
        new = strings.get(_DISAMBIGUATION.sub(_undisambiguated, string))
    return new


def _undisambiguated(m: re.Match[str]) -> str:
    """Nothing for a closed `{#…}`; one never closed on its line as written."""
    return "" if m.group(0).endswith("}") else m.group(0)


def shown_name(name: str, strings: dict[str, str]) -> str:
    """A speaker's name as the chosen language shows it: Ren'Py looks up every name it
    shows among the string translations (`Character(_("Eileen"))` wraps it for the
    translators, who give it in `translate <lang> strings`), a literal `"Guard"` and a
    DynamicCharacter's value too; as written when none is there. An empty translation
    (a strings file made with empty `new ""` to fill in) keeps the name: the lines would
    otherwise lose their speaker. Shown in its name box (`name_shown`)."""
    new = string_translation(name, strings) if strings else None
    return name_shown(unescape(new) if new else name)


def name_shown(name: str) -> str:
    """A name as its name box shows it: text tags dropped, as from a line
    (`Character("{color=#f00}Eileen{/color}")` is "Eileen"). A name of two lines is the
    first, the second a note in brackets: The Hollow Hearts writes
    `"神山華翔\\n{size=15}Kamiyama Hanato"` (`"１つの声\\n{size=15}1st Voice"`), the name
    under it in small type in the other language, its reading or its translation; so
    "神山華翔 (Kamiyama Hanato)", which the alias 神山華翔 names as a note in brackets is
    passed over (`normalise_name`)."""
    if "{" in name:
        name = _tags_read(name)
    if "\n" not in name:
        return name
    first, *rest = [part for part in (part.strip() for part in name.split("\n")) if part] or [""]
    return f"{first} ({' '.join(rest)})" if rest else first


# A backslash escape in a script's string, read left to right as Ren'Py's script reader
# does: `\\n` is a backslash and an "n", not a line break.
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{1,4}|.)", re.S)
# What an escape stands for before `shown_text` reads the text: `\%`, `\{` and `\[` are
# doubled (`%%`, `{{`, `[[`), which `shown_text` shows as one character; `\n` is a line
# break (`_BREAK` until `unescape` reads it); any other character stands for itself.
_BREAK = "\x00"
_ESCAPED = {"n": _BREAK, "%": "%%", "{": "{{", "[": "[["}
# A `\n` with the blanks beside it; a line break in a value shown in a line, so.
_ESCAPED_BREAK = re.compile(r"[ \t]*\x00[ \t\x00]*")
_VALUE_BREAK = re.compile(r"[ \t]*\n[ \t\n]*")


def unescape(s: str, in_line: bool = False) -> str:
    """A string with its escapes read: a `\\n` is a line break ("\\n"), which a name
    shows as its second line (`name_shown`); `in_line`, the text of a line, where the
    lines it makes are joined (`_joined`): a triple-quoted string's own line breaks,
    which `rpy monologue none` keeps, are not escapes."""
    if "\\" not in s:
        return s
    s = _ESCAPE.sub(_unescaped, s)
    if _BREAK not in s:
        return s
    return _ESCAPED_BREAK.sub(_joined, s) if in_line else s.replace(_BREAK, "\n")


def _joined(m: re.Match[str]) -> str:
    """A line break in a line: a space between words
    of a script that writes spaces, nothing beside Chinese or Japanese (`extend "\\n我、我…"`
    after "不会吧！" is "不会吧！我、我…", not "不会吧！ 我、我…"). At an end of the string
    only the other side counts: an `extend` adds the string to the line before it."""
    before, after = m.string[: m.start()], m.string[m.end() :]
    if not before and not after:
        return ""
    return " " if space_between(before or "a", after or "a") else ""


def _unescaped(m: re.Match[str]) -> str:
    c = m.group(1)
    if len(c) > 1:  # \u00e9
        return chr(int(c[1:], 16))
    return _ESCAPED.get(c, c)


def _tags_read(text: str) -> str:
    """`text` with its text tags read (`_tag_or_brace`), a ruby reading dropped with its
    tag. A line's `{rt}` left open is known open for the rest of its line: each of a run
    of them was read to the line's end again (40k characters took 1.7 s, quadratic)."""
    pieces: list[str] = []
    done = at = open_to = 0
    while (m := _TEXT_TAG.search(text, at)) is not None:
        start = m.start()
        pieces.append(text[done:start])
        done = at = m.end()
        if start >= open_to and text.startswith(_RUBY_OPEN, start):
            line_end = text.find("\n", start)
            line_end = len(text) if line_end < 0 else line_end
            close = text.find(_RUBY_CLOSE, start + len(_RUBY_OPEN), line_end)
            if close >= 0:
                done = at = close + len(_RUBY_CLOSE)
                continue
            open_to = line_end
        pieces.append(_tag_or_brace(m))
    return "".join(pieces) + text[done:]


def _tag_or_brace(m: re.Match[str]) -> str:
    tag = m.group(0)
    if tag == "{{":
        return "{"
    # `{p}` (`{p=1.0}`) waits, then goes on on the next line: the words either side of it
    # are apart on screen ("Wait.{p}Okay." is not "Wait.Okay."); so are those either side
    # of a `{space=20}` (a gap) or a `{vspace=10}` (a gap below the line).
    if tag[:3] in ("{p}", "{p=") or tag.startswith("{vspace="):
        return "\n"
    return " " if tag.startswith("{space=") else ""


def _value_shown(value: str) -> str:
    """An interpolated value as the player sees it: Ren'Py reads the text tags in it as
    it reads the line's own (`define site = "{a=…}{b}Site{/b}{/a}"` shows "Site"). The
    lead's placeholder is no Ren'Py text: it stays. Its lines are joined as a line's."""
    if "\n" in value:
        value = _VALUE_BREAK.sub(_joined, value)
    if "{" not in value:
        return value
    # Imported here: `clean` imports the formats.
    from dataprep.clean import USER_PLACEHOLDER

    if value == USER_PLACEHOLDER:
        return value
    return _tags_read(value)


def render(raw: str, names: dict[str, str], strings: dict[str, str] | None = None) -> str | None:
    """The text a player sees of a quoted string; see shown_text."""
    return shown_text(unescape(raw[1:-1]), names, strings=strings)


def shown_text(
    text: str,
    names: dict[str, str],
    strip: bool = True,
    strings: dict[str, str] | None = None,
) -> str | None:
    """The text a player sees: tags dropped, ruby readings dropped, variables interpolated;
    None when a variable in it has no known value (the line would be left with a hole).
    Ren'Py formats a line with `%` before it interpolates (config.old_substitutions, on by
    default): `%%` in the script is one "%" on screen. With `strip` False the blanks at
    its ends stay (an `extend` is joined to the line before as written). `[var!t]` shows
    the translation `strings` gives the variable's value, if any."""
    text = _tags_read(text)
    if "%%" in text:
        text = text.replace("%%", "%")
    if "[" in text:
        unknown: list[str] = []

        def value(m: re.Match[str]) -> str:
            var = m.group(1)
            if var is None:
                return "["
            found = names.get(var)
            if found is None:
                if SOUND_LINE.fullmatch(m.group(0)) is not None:
                    # `[语音：atr_0012]`, `[voice:atr_0012]`: a dump's voice cue left in
                    # the string, no variable; the cleaning stage deletes it.
                    return m.group(0)
                unknown.append(var)
                return m.group(0)
            flags = _FLAGS.match(m.group(0), len(var) + 1)
            flags_given = "" if flags is None else flags.group(1)
            if strings and "t" in flags_given:
                new = string_translation(found, strings)
                if new is not None:
                    found = unescape(new).strip()
            return found if "q" in flags_given else _value_shown(found)

        text = INTERPOLATION.sub(value, text)
        if unknown:
            return None
    return text.strip() if strip else text
