"""KiriKiri / KAG `.ks` scenarios, TyranoScript included.

`parser` reads a scenario (`parse`, the format's entry in `dataprep.formats`; the
format's rules are told there) and gives the hints on definitions a file's lines seem to
lack (`unnamed_calls`, `text_calls`, `unlearnt_name_calls`); what it reads with lives
beside it:
- `reader`: the `Reader`, one pass's state: the message, its speaker, the macros it runs;
- `syntax`: how a line is written: tokens, a tag's attributes, `【名】` headers, code blocks;
- `tags`: the tag names and attributes the rules test against (a wait, a page end, …);
- `names`: what every file given tells the reading of each (`display_names`: character
  ids' display names, variables' values, macros' bodies; `with_display_names`);
- `macros`: macro definitions, as the tags a body runs where it is called (`macro_tags`);
- `macro_arguments`: a call's arguments put into its macro's body;
- `variables`: game variables and the player's name (`[emb exp=f.name]`, `&f.name`);
- `name_tags`: a game's own name tags, learnt from the aliases (`NameCalls`, `name_tags`);
- `branches`: `[if]` … `[endif]` blocks, each a branch of its own (`Utterance.branch`);
- `labels`: `*label` lines: which start a scene (not a save point before each message);
- `undefined_calls`: what a call of a tag no file defines looks like (a name, a line).
"""

from dataprep.formats.kirikiri.labels import label_targets
from dataprep.formats.kirikiri.macros import macro_tags
from dataprep.formats.kirikiri.name_tags import NameCalls, name_tags
from dataprep.formats.kirikiri.names import display_names, with_display_names
from dataprep.formats.kirikiri.parser import (
    UnlearntNameTag,
    parse,
    text_calls,
    unlearnt_name_calls,
    unnamed_calls,
)

__all__ = [
    "NameCalls",
    "UnlearntNameTag",
    "display_names",
    "label_targets",
    "macro_tags",
    "name_tags",
    "parse",
    "text_calls",
    "unlearnt_name_calls",
    "unnamed_calls",
    "with_display_names",
]
