"""eval.json (what the reload job gates on) and the short Markdown report beside it."""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atri.config import LANGUAGE_NAMES

# The phrase a reason quotes, as the out-of-character detector writes it (Python's repr
# at the end: `assistant-speak "I'm here to help"`, `profanity 'damn'`).
_QUOTED = re.compile(r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")$""")


def quoted_phrases(reasons: Sequence[str]) -> list[str]:
    """The phrases the reasons quote, their blanks collapsed as the excerpt's are."""
    found = []
    for reason in reasons:
        m = _QUOTED.search(reason)
        if m is None:
            continue
        try:
            phrase = ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError):
            continue
        if isinstance(phrase, str) and phrase.strip():
            found.append(" ".join(phrase.split()))
    return found


def reply_excerpt(reply: str, reasons: Sequence[str], width: int) -> str:
    """The reply on one line, cut to `width` characters (marked "…"); where the first
    phrase a reason quotes lies past the cut, the part around it, so the reader sees what
    the reason names (the head alone quoted "I'm here to help" from past its end)."""
    text = " ".join(reply.split())
    if len(text) <= width:
        return text
    folded = text.casefold()
    spans = [
        (at, at + len(phrase))
        for phrase in quoted_phrases(reasons)
        if (at := folded.find(phrase.casefold())) >= 0
    ]
    start, end = min(spans, default=(0, 0))
    if end <= width:
        return text[:width] + "…"
    width = max(width, end - start)
    begin = max(0, min(start - (width - (end - start)) // 2, len(text) - width))
    head = "…" if begin > 0 else ""
    tail = "…" if begin + width < len(text) else ""
    return f"{head}{text[begin : begin + width]}{tail}"


def probe_set_fingerprint(asked: Sequence[str]) -> str:
    """Which probes were asked, as 16 hex digits: the same texts in the same order give
    the same fingerprint, whatever file they came from."""
    return hashlib.sha256("\n".join(asked).encode("utf-8")).hexdigest()[:16]


@dataclass
class ModelFigures:
    perplexity: float | None
    ooc_rate: float
    style_rate: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "perplexity": self.perplexity,
            "ooc_rate": self.ooc_rate,
            "style_rate": self.style_rate,
        }


@dataclass
class ProbeReply:
    model: str  # "base" or "adapter"
    category: str
    probe: str
    reply: str
    reasons: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "category": self.category,
            "probe": self.probe,
            "reply": self.reply,
            "reasons": list(self.reasons),
        }


@dataclass
class EvalReport:
    adapter_version: str
    base: ModelFigures
    adapter: ModelFigures
    dataset_style_rate: float
    probes: int
    language: str  # the card's main language the probes were asked in; "" = unknown
    created_at: str
    worst: list[ProbeReply] = field(default_factory=list)
    # The name on the character card the eval ran with; "" = unknown. eval.json from
    # before this field has no "character" key; its readers use only the figures.
    character: str = ""
    # The files the figures come from ("" = none or unknown): the perplexity's held-out
    # set and the file `dataset_style_rate` was measured on.
    held_out_file: str = ""
    style_file: str = ""
    # The yardstick (what the reload job checks before setting two versions' rates side
    # by side): the fingerprint of the probes as asked, and the longest reply allowed.
    probe_set: str = ""
    max_new_tokens: int = 0

    @property
    def style_label(self) -> str:
        """The style row's label, naming the file the dataset's rate is from (which need
        not be the held-out set the perplexity is on): "… (atri_sharegpt.json 1.20)"."""
        source = Path(self.style_file).name if self.style_file else "dataset"
        return f"style markers / 100 chars ({source} {self.dataset_style_rate:.2f})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "adapter_version": self.adapter_version,
            "character": self.character,
            "base": self.base.as_dict(),
            "adapter": self.adapter.as_dict(),
            "dataset_style_rate": self.dataset_style_rate,
            "held_out_file": self.held_out_file,
            "style_file": self.style_file,
            "probes": self.probes,
            "probe_set": self.probe_set,
            "max_new_tokens": self.max_new_tokens,
            "language": self.language,
            "worst": [w.as_dict() for w in self.worst],
            "created_at": self.created_at,
        }

    @property
    def title(self) -> str:
        """Like "Eileen adapter 20260101-120000": named after the card's character, not
        the project (ATRI is both); "LoRA adapter …" when the character is unknown."""
        who = f"{self.character} adapter" if self.character else "LoRA adapter"
        return f"{who} {self.adapter_version}"

    def markdown(self) -> str:
        def num(value: float | None, fmt: str) -> str:
            return "n/a" if value is None else format(value, fmt)

        spoken = LANGUAGE_NAMES.get(self.language, self.language)  # "English", not "en"
        asked = f"{self.probes} probes" + (f" in {spoken}" if spoken else "")
        lines = [
            f"# {self.title}: evaluation",
            "",
            f"{asked}; created {self.created_at}.",
            "",
            "| | base | adapter |",
            "| --- | --- | --- |",
            f"| held-out perplexity | {num(self.base.perplexity, '.2f')} | "
            f"{num(self.adapter.perplexity, '.2f')} |",
            f"| out-of-character rate | {self.base.ooc_rate:.0%} | {self.adapter.ooc_rate:.0%} |",
            f"| {self.style_label} | {self.base.style_rate:.2f} | {self.adapter.style_rate:.2f} |",
            "",
        ]
        sources = [
            f"{what} {path}"
            for what, path in (
                ("held-out perplexity on", self.held_out_file),
                ("dataset style rate from", self.style_file),
            )
            if path
        ]
        if sources:
            lines += [f"Figures: {'; '.join(sources)}.", ""]
        if self.worst:
            lines += ["## Out-of-character replies", ""]
            for w in self.worst:
                reply = reply_excerpt(w.reply, w.reasons, 200)
                lines.append(
                    f"- **{w.model}**, {w.category}: “{w.probe}” → “{reply}” ({'; '.join(w.reasons)})"
                )
            lines.append("")
        elif self.base.ooc_rate or self.adapter.ooc_rate:
            # `[eval] worst_examples = 0`: flagged replies, none shown.
            lines += ["Out-of-character replies are not listed ([eval] worst_examples = 0).", ""]
        else:
            lines += ["No probe reply was flagged out of character.", ""]
        return "\n".join(lines)
