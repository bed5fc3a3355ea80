"""Game variables and the player's name: the one string the .ks files given set a variable
to (`variable_values`: `f.name`, the name the player keeps by default), how a tag names a
variable's value (`VALUE_OF`: `t=&f.name`, a speaker's name), and the speaker's name the
variables shown before a line said give (`held_name`: `[emb exp=f.name]「ただいま」`).
"""

from __future__ import annotations

import re

from dataprep.formats.kirikiri.syntax import tag_name_and_attrs

# A game variable given a string, as scripts give the player's name its default: in
# TJS/JavaScript (`f.name = "悠真";`, `[eval exp="f.name='悠真'"]`), as the default of
# KAG's `System.inputString(caption, prompt, "悠真")`, or as the `initial` of the
# TyranoScript `[edit name="f.name" initial="悠真"]` the player types it into.
_VARIABLE = r"(?:sf|tf|f)\.[A-Za-z_]\w*"
_STRING = r"""(?:"([^"\n]*)"|'([^'\n]*)')"""
_ASSIGNED = re.compile(
    rf"(?<![\w.])({_VARIABLE})[ \t]*=(?![=])[ \t]*"
    rf"(?:System\.inputString\([^()\n]*,[ \t]*)?{_STRING}"
)
GAME_VARIABLE = re.compile(_VARIABLE)
_EDIT = re.compile(r"(?:\[|^[ \t]*@)[ \t]*edit\b([^\]\n]*)", re.M)
# How a tag's attribute names a variable's value (`t=&f.name`, `#&f.name`): the key
# under which `display_names` gives a variable's value.
VALUE_OF = "&"


def variable_values(text: str) -> dict[str, str]:
    """Game variable (`f.name`) → the string the text gives it, for each variable given
    one non-empty string only (an empty one says "not typed yet"; several are not
    guessed between): what the player's name is when the player keeps the default. A
    string only of blanks is kept whole: `sf.space='　'`, an indent a macro shows."""
    given: dict[str, set[str]] = {}
    for name, double, single in _ASSIGNED.findall(text):
        given.setdefault(name, set()).add(double or single)
    for body in _EDIT.findall(text) if "edit" in text else ():
        attrs = tag_name_and_attrs(f"edit {body}")[1]
        name = attrs.get("name", "").strip()
        if re.fullmatch(_VARIABLE, name):
            given.setdefault(name, set()).add(attrs.get("initial", ""))
    values = {name: {v.strip() or v for v in strings} - {""} for name, strings in given.items()}
    return {name: strings.pop() for name, strings in values.items() if len(strings) == 1}


def assignments(exp: str) -> list[tuple[str, str]]:
    """Each game variable an expression gives a string (`f.name='Yue'`), with the string."""
    return [(name, double or single) for name, double, single in _ASSIGNED.findall(exp)]


def held_name(held: list[tuple[str, str | None]]) -> str:
    """The speaker's name variables shown before a line said give (`Reader.held`): their
    values, or `&f.name` for one no file sets (as `macros._name_tag` names a header); "" for a
    name partly unknown, or only blanks (an indent: `sf.space='　'`)."""
    values = [value for _, value in held if value is not None]
    if len(values) == len(held):
        return "".join(values).strip()
    return VALUE_OF + held[0][0] if len(held) == 1 else ""
