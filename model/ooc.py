"""Out-of-character detection: does a reply break ATRI's character?

Patterns and word lists come from `[ooc]` in config.toml. The worker's guard
regenerates flagged replies; `atri eval` reports the rate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from atri.config import OOCSettings


@dataclass(frozen=True)
class OOCVerdict:
    flagged: bool
    reasons: tuple[str, ...] = ()


class OOCDetector:
    def __init__(self, settings: OOCSettings) -> None:
        self.patterns = [(p, re.compile(p)) for p in settings.patterns]
        self.profanity = [w.lower() for w in settings.profanity if w]

    def check(self, reply: str) -> OOCVerdict:
        reasons = [f"pattern {src!r}" for src, rx in self.patterns if rx.search(reply)]
        lowered = reply.lower()
        reasons += [f"profanity {w!r}" for w in self.profanity if w in lowered]
        return OOCVerdict(bool(reasons), tuple(reasons))
