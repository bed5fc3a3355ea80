"""What every .ks file given tells the reading of each (`display_names`): a TyranoScript
character id's display name (`[chara_new name="akane" jname="あかね"]`), a game variable's
value (`variables`), a macro's body (`macros`); and the aliases with the display names of
the ids among them (`with_display_names`), so that an alias "akane" names あかね's lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from dataprep.formats.kirikiri.macros import MACRO_KEY, macro_tags
from dataprep.formats.kirikiri.syntax import tag_name_and_attrs
from dataprep.formats.kirikiri.variables import VALUE_OF, variable_values
from dataprep.speakers import normalise_name

# TyranoScript's `[chara_new name="akane" jname="あかね" …]` (or `@chara_new …`).
_CHARA_NEW = re.compile(r"(?:\[|^[ \t]*@)[ \t]*chara_new\b([^\]\n]*)", re.M)


def display_names(text: str) -> dict[str, str]:
    """TyranoScript character id → the name shown for it, from every `chara_new` with a
    `jname` in the text; and `&f.name` → the one string the text gives the variable
    `f.name` (`variable_values`), which a speaker named `&f.name` and `[emb exp=f.name]`
    show."""
    found = {VALUE_OF + name: value for name, value in variable_values(text).items()}
    found.update((MACRO_KEY + name, tags) for name, tags in macro_tags(text).items())
    if "chara_new" not in text:
        return found
    for body in _CHARA_NEW.findall(text):
        attrs = tag_name_and_attrs(f"chara_new {body}")[1]
        chara_id, shown = attrs.get("name", "").strip(), attrs.get("jname", "").strip()
        if chara_id and shown:
            found[chara_id] = shown
    return found


def with_display_names(aliases: Iterable[str], names: dict[str, str]) -> list[str]:
    """The aliases, and the display name of each that is a TyranoScript character id
    (compared as speaker names are): an alias "akane" names the lines credited to あかね."""
    aliases = list(aliases)
    by_id = {normalise_name(chara_id): shown for chara_id, shown in names.items()}
    extra = [by_id[key] for a in aliases if (key := normalise_name(a)) in by_id]
    return aliases + [name for name in extra if name not in aliases]
