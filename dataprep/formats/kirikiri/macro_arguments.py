"""A macro's arguments in its body: the call's arguments put into the body's tags where it
is called (`with_arguments`: `t=%who` is `t="汐里"`), and the argument a tag of the body
shows whole (`shown_argument`: `[emb exp=mp.text]` shows `%text`). Apart from `macros`
because both reading a definition there and running a body in the reader use them.
"""

from __future__ import annotations

import re
from functools import lru_cache

from dataprep.formats.kirikiri.syntax import VALUE, quoted, tag_name_and_attrs, unquoted
from dataprep.formats.kirikiri.tags import CHARACTERS, EMBED

# A macro's argument in its body: `%voice`, `%name|汐里` (with a default), and in an
# expression (`[emb exp="mp.name"]`, an attribute's whole value `t=&mp.name`).
_MACRO_ARGUMENTS = "mp."
# A default may hold a quoted string: `%name|f.name='Yue'`.
_ARGUMENT = re.compile(
    r"""%([\w-]+)(?:\|((?:[^\s\]"']|'[^'\n\]]*'|"[^"\n\]]*")*))?"""
    r"""|&mp\.([A-Za-z_]\w*)(?=["'`]?(?:\s|$))"""
)


def shown_argument(name: str, attrs: dict[str, str]) -> str | None:
    """The call's argument a tag of a macro's body shows whole, as `with_arguments`
    reads it: `[emb exp=mp.text]` shows `%text`, and so do `[ch text=%text]` and
    `[ch text=&mp.text]`; None for a tag showing anything else."""
    if name == EMBED:
        exp = attrs.get("exp", "").strip()
        argument = exp[len(_MACRO_ARGUMENTS) :]
        return (
            "%" + argument if exp.startswith(_MACRO_ARGUMENTS) and argument.isidentifier() else None
        )
    text = attrs.get("text", "").strip()
    return text if name in CHARACTERS and argument_named(text) else None


def argument_named(value: str) -> str | None:
    """The call's argument an attribute's value is whole (`%name`, `%name|？？？`,
    `&mp.name`: "name"); None for any other value."""
    m = _ARGUMENT.fullmatch(value)
    return None if m is None else (m.group(1) or m.group(3)).lower()


@lru_cache(maxsize=4096)
def argument_shown_by(tag_body: str) -> str | None:
    """`shown_argument` of a macro body's tag, once per tag: a body runs at every call
    of its macro, tens of thousands in a game, and its tags are a few."""
    return shown_argument(*tag_name_and_attrs(tag_body))


# An attribute's value in a macro body's tag, where a call's argument is put in quoted,
# or an argument elsewhere in it.
# The name is tried only where one starts, and never given back (as `syntax._ATTR`).
_ARGUMENT_IN_TAG = re.compile(rf"""((?<![\w-])[\w-]++[ \t]*=[ \t]*){VALUE}|{_ARGUMENT.pattern}""")


def with_arguments(body: str, attrs: dict[str, str]) -> str:
    """A macro body's tag with the call's arguments in it (`t=%who` → `t="汐里"`): an
    attribute's value holding one is quoted, so that the argument is its value whole
    (`[n name="Mr Smith"]` names "Mr Smith", not "Mr"; `]` or `"` in it ends no tag);
    elsewhere (the `%text` an `[emb exp=mp.text]` shows) it is put in as it is."""

    if "%" not in body and "&mp." not in body:
        return body  # no argument in it (`_ARGUMENT`): most tags of most bodies

    def argument(m: re.Match[str]) -> str:
        return attrs.get((m.group(1) or m.group(3)).lower(), m.group(2) or "")

    def value(m: re.Match[str]) -> str:
        if m.group(1) is None:  # an argument outside any attribute's value
            return _ARGUMENT.sub(argument, m.group(0))
        written = m.group(2)
        if not _ARGUMENT.search(written):
            return m.group(0)
        # An unquoted value keeps the quotes in it (`exp=%name|f.name='Yue'`).
        inner = unquoted(written) if written[0] in "\"'`" else written
        return m.group(1) + quoted(_ARGUMENT.sub(argument, inner))

    return _ARGUMENT_IN_TAG.sub(value, body)
