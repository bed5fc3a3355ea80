"""KiriKiri / KAG `.ks` scenarios, TyranoScript included.

`parser` reads a scenario (`parse`, the format's entry in `dataprep.formats`), gathers
what every file given tells the reading of each (`display_names`), and learns a game's
own name tags (`NameCalls`, `name_tags`); its hints (`unnamed_calls`, `text_calls`,
`unlearnt_name_calls`) say which definitions a file's lines seem to lack.
"""

from dataprep.formats.kirikiri.macros import macro_tags
from dataprep.formats.kirikiri.names import display_names, with_display_names
from dataprep.formats.kirikiri.parser import (
    NameCalls,
    UnlearntNameTag,
    name_tags,
    parse,
    text_calls,
    unlearnt_name_calls,
    unnamed_calls,
)

__all__ = [
    "NameCalls",
    "UnlearntNameTag",
    "display_names",
    "macro_tags",
    "name_tags",
    "parse",
    "text_calls",
    "unlearnt_name_calls",
    "unnamed_calls",
    "with_display_names",
]
