"""Ren'Py `.rpy` scripts and their translation files.

`parser` reads the say statements (`parse`, the format's entry in `dataprep.formats`);
what it reads with lives beside it:
- `lines`: where a statement ends (brackets, strings and backslashes over lines);
- `statements`: the statement shapes and block readers every pass over a script shares;
- `text`: a string as the player sees it (escapes, text tags, `[var]`, string translations);
- `python_say`: Python that says a line (`renpy.say`, `e("…")`), read with `ast`;
- `characters`: the characters a script defines (`define`/`default`, story and init Python);
- `labels`: label runs (where a call or jump goes, what a label's run defines);
- `names`: the names gathered from every file given (`ScriptNames`);
- `translations`: translation files (`strings` blocks, languages, the origin comments);
- `say_ids`, `say_code`: the identifier a `translate` block names a say statement by.
"""

from dataprep.formats.renpy.parser import UNCLOSED_STRING, parse

__all__ = ["UNCLOSED_STRING", "parse"]
