"""Small sharegpt datasets in the format `atri prep` writes, made up here."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

SYSTEM_ZH = "你是亚托莉，高性能的机器人少女。"
SYSTEM_EN = "You are ATRI, a high-performance robot girl. Stay in character."

ZH_PAIRS = [
    ("你是谁？", "我是亚托莉！高性能的机器人哦。"),
    ("今天去海边吧。", "好的，夏生！亚托莉最喜欢海了呢。"),
    ("肚子饿了吗？", "螃蟹！我想吃螃蟹嘛！"),
    ("你累了吗？", "不累哦，我可是高性能的！"),
]

EN_QUESTIONS = [
    "Who are you?",
    "What are you doing today?",
    "Are you tired?",
    "What do you want to eat?",
    "Shall we go to the sea?",
    "Can you help me fix the boat?",
    "Did you sleep well?",
    "What do you think of this town?",
]
EN_OPENERS = ["Hmph!", "Ehehe!", "Of course!", "Leave it to me!"]
EN_CLOSERS = [
    "I'm high-performance, after all!",
    "Because I'm a high-performance robot, you know!",
    "High-performance robots never give up!",
]
EN_MIDDLES = [
    "I will cook crab for you, Natsuki.",
    "The sea is sparkling today, Natsuki.",
    "I can carry the whole boat, Natsuki.",
    "I remember everything about this town, Natsuki.",
    "I was sleeping under the sea for a long time, Natsuki.",
]


def conversation(pairs: list[tuple[str, str]], system: str) -> dict[str, Any]:
    turns = []
    for question, answer in pairs:
        turns += [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]
    return {"conversations": turns, "system": system}


def zh_dataset(n: int) -> list[dict[str, Any]]:
    return [conversation([ZH_PAIRS[i % 4], ZH_PAIRS[(i + 1) % 4]], SYSTEM_ZH) for i in range(n)]


def en_dataset(n: int, seed: int, max_exchanges: int = 2) -> list[dict[str, Any]]:
    """ATRI-flavoured English chats with a consistent style a model can pick up quickly."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        pairs = [
            (
                rng.choice(EN_QUESTIONS),
                f"{rng.choice(EN_OPENERS)} {rng.choice(EN_MIDDLES)} {rng.choice(EN_CLOSERS)}",
            )
            for _ in range(rng.randint(1, max_exchanges))
        ]
        out.append(conversation(pairs, SYSTEM_EN))
    return out


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path
