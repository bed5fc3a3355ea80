"""A SillyTavern card's fields beyond its description, personality, scenario, greeting
and examples: what of them goes into her system prompt, and which are not used.

Everything read here goes into the system prompt, which is the same for every message
and every user (its KV states are cached), so nothing is placed by chat position or
keyword as SillyTavern does:
- `character_book` entries (enabled ones; `constant` ones first, then by
  `insertion_order`) are background facts, at most LORE_BUDGET_CHARS characters of them:
  ATRI does not scan messages for an entry's keywords, so a keyword entry is always there;
- `extensions.depth_prompt` (the character's note SillyTavern puts N messages up the
  chat) is a section of the prompt.
"""

from __future__ import annotations

from typing import Any

# The most characters of lorebook entries the prompt takes: a card with a lorebook of
# hundreds of entries must not crowd the chat out of the context window.
LORE_BUDGET_CHARS = 2000


def lore_entries(book: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The lorebook entries the prompt carries, and a note on those left out (if any)."""
    entries = [e for e in book.get("entries") or [] if _enabled(e)]
    # Constant entries are always in SillyTavern's prompt: they come first.
    entries.sort(key=lambda e: (not e.get("constant"), _order(e)))
    kept: list[str] = []
    used = 0
    for entry in entries:
        content = entry["content"].strip()
        if used + len(content) <= LORE_BUDGET_CHARS:
            kept.append(content)
            used += len(content)
    left_out = len(entries) - len(kept)
    notes = (
        [
            f"character_book: {left_out} of its {len(entries)} entries not used (the "
            f"prompt takes at most {LORE_BUDGET_CHARS} characters of them)"
        ]
        if left_out
        else []
    )
    return kept, notes


def _enabled(entry: object) -> bool:
    """An entry with text to use: a dict whose `content` is a non-empty string, not
    turned off (`enabled: false`, or SillyTavern's own `disable: true`)."""
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("content"), str)
        and bool(entry["content"].strip())
        and entry.get("enabled", True) is not False
        and not entry.get("disable")
    )


def _order(entry: dict[str, Any]) -> float:
    order = entry.get("insertion_order")
    return order if isinstance(order, int | float) and not isinstance(order, bool) else 0


def depth_prompt_text(depth_prompt: dict[str, Any]) -> str:
    """The character's note of `extensions.depth_prompt` (its `prompt`)."""
    prompt = depth_prompt.get("prompt")
    return prompt.strip() if isinstance(prompt, str) else ""


def unused_greetings(greetings: list[Any]) -> list[str]:
    """A note on `alternate_greetings`: she greets with `first_mes` only."""
    count = sum(1 for g in greetings if isinstance(g, str) and g.strip())
    if not count:
        return []
    return [f"alternate_greetings: {count} not used (she greets with first_mes)"]
