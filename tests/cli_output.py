"""Reading what a command printed through rich, which wraps long lines at the terminal
width: at a space (the space becomes the line break) or, for a word longer than a line
(a temporary path), inside the word. Where it wraps depends on the length of the paths
in the sentence, so a test compares text with every whitespace character removed."""

from __future__ import annotations


def _squeezed(text: str) -> str:
    return "".join(text.split())


def says(output: str, words: str) -> bool:
    """Whether `output` holds `words`, however rich wrapped it."""
    return _squeezed(words) in _squeezed(output)
