"""QQ's own faces (系统表情, a `face` segment) as the words QQ shows for them.

A face beside words carries their tone ("今天考试又挂了" + /流泪 is not a plain
statement), so the model reads it as "[流泪]": NapCat sends the name itself
(`data.raw.faceText`, "/流泪"); go-cqhttp and Lagrange send only the id, named here for
the classic faces people use most (QQ's own ids and names, as the public id tables
list them). Any other face is a note that one was sent.
"""

from __future__ import annotations

from typing import Any

from nonebot.adapters.onebot.v11 import MessageSegment

from bot.lines import lines
from bot.qq.text import defang

# QSid -> QDes (its "/" dropped), checked against QQ's own sysface tables as two public repos
# carry them: NapNeko/NapCatQQ packages/napcat-core/external/face_config.json and
# koishijs/QFace lib/data.json + public/assets/qq_emoji/face_config.json. Only the faces that
# carry a feeling or a gesture (no objects, no festival ones); any other id is the generic note.
FACE_NAMES = {
    0: "惊讶", 1: "撇嘴", 2: "色", 3: "发呆", 4: "得意", 5: "流泪", 6: "害羞", 7: "闭嘴", 8: "睡",
    9: "大哭", 10: "尴尬", 11: "发怒", 12: "调皮", 13: "呲牙", 14: "微笑", 15: "难过", 16: "酷",
    18: "抓狂", 19: "吐", 20: "偷笑", 21: "可爱", 22: "白眼", 23: "傲慢", 24: "饥饿", 25: "困",
    26: "惊恐", 27: "流汗", 28: "憨笑", 29: "悠闲", 30: "奋斗", 31: "咒骂", 32: "疑问", 33: "嘘",
    34: "晕", 35: "折磨", 36: "衰", 37: "骷髅", 38: "敲打", 39: "再见", 41: "发抖", 42: "爱情",
    43: "跳跳", 46: "猪头", 49: "拥抱", 53: "蛋糕", 60: "咖啡", 63: "玫瑰", 64: "凋谢", 66: "爱心",
    67: "心碎", 74: "太阳", 75: "月亮", 76: "赞", 77: "踩", 78: "握手", 79: "胜利", 85: "飞吻",
    86: "怄火", 96: "冷汗", 97: "擦汗", 98: "抠鼻", 99: "鼓掌", 100: "糗大了", 101: "坏笑",
    102: "左哼哼", 103: "右哼哼", 104: "哈欠", 105: "鄙视", 106: "委屈", 107: "快哭了", 108: "阴险",
    109: "左亲亲", 110: "吓", 111: "可怜", 116: "示爱", 118: "抱拳", 120: "拳头",
    121: "差劲", 122: "爱你", 123: "NO", 124: "OK", 125: "转圈", 129: "挥手", 144: "喝彩",
    172: "眨眼睛", 173: "泪奔", 174: "无奈", 175: "卖萌", 176: "小纠结", 177: "喷血", 178: "斜眼笑",
    179: "doge", 180: "惊喜", 182: "笑哭", 183: "我最美", 187: "幽灵", 193: "大笑", 194: "不开心",
    201: "点赞", 212: "托腮", 262: "脑阔疼", 263: "沧桑", 264: "捂脸", 265: "辣眼睛", 266: "哦哟",
    267: "头秃", 268: "问号脸", 269: "暗中观察", 270: "emm", 271: "吃瓜", 272: "呵呵哒",
    273: "我酸了", 277: "汪汪", 281: "无眼笑", 282: "敬礼", 283: "狂笑", 284: "面无表情",
    285: "摸鱼", 286: "魔鬼笑", 287: "哦", 289: "睁眼", 293: "摸锦鲤", 294: "期待", 297: "拜谢",
    299: "牛啊", 307: "喵喵", 311: "打call", 314: "仔细分析", 318: "崇拜", 319: "比心", 320: "庆祝",
    323: "嫌弃", 324: "吃糖", 325: "惊吓", 326: "生气", 338: "我想开了", 339: "舔屏", 341: "打招呼",
    342: "酸Q", 343: "我方了", 344: "大怨种", 346: "你真棒棒", 349: "坚强", 350: "贴贴",
    351: "敲敲", 352: "咦", 353: "拜托", 354: "尊嘟假嘟", 355: "耶", 356: "666", 357: "裂开",
    395: "略略略",
}  # fmt: skip
# A name longer than this is not a face's (a peer's malformed `faceText`).
MAX_NAME_CHARS = 16


MAX_FACE_ID_DIGITS = 9


def face_name(segment: MessageSegment) -> str | None:
    """The face's name ("流泪"): NapCat's own text first, else the table; None if unknown."""
    raw: Any = segment.data.get("raw")
    said = raw.get("faceText") if isinstance(raw, dict) else None
    if isinstance(said, str):
        said = said.strip().lstrip("/").strip("[]")
        if said and len(said) <= MAX_NAME_CHARS:
            return said
    face_id = str(segment.data.get("id", "")).strip()
    # isdigit() also takes "²" and other digits int() refuses, and ids no table holds.
    if face_id.isascii() and face_id.isdigit() and len(face_id) <= MAX_FACE_ID_DIGITS:
        return FACE_NAMES.get(int(face_id))
    return None


def face_text(segment: MessageSegment) -> str:
    """A face as "[流泪]", or a note that one was sent (a face alone is answered before);
    "" for a segment that names no face."""
    name = face_name(segment)
    if name:
        return defang(f"[{name}]")
    # A face with no id is a malformed segment: read without it, as any other one.
    return lines().face_note if str(segment.data.get("id", "")).strip() else ""
