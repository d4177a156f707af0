"""The one privacy detector: finds what would identify or locate a household in a public text.

Pure Python (no Flask, no database): :func:`scan` takes the text and, optionally, the
household's own private values, and returns :class:`Finding` spans. A finding is
*certain* (the text is refused) or *unsure* (the verifier is asked to look).

Offsets are into the text as given. Full-width digits, letters and dashes are read as their
ASCII forms one character at a time, so a span still points at what the writer typed.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field


class FindingKind(enum.Enum):
    ADDRESS = "address"
    PHONE = "phone"
    LANDLINE = "landline"
    ID_NUMBER = "id_number"
    BANK_CARD = "bank_card"
    PLATE = "plate"
    EMAIL = "email"
    CONTACT = "contact"  # a WeChat or QQ account
    HOUSEHOLD = "household"  # one of the household's own private values
    NUMBER = "number"  # a long number that might be any of the above


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    start: int
    end: int
    excerpt: str
    certain: bool = True


@dataclass
class PrivateValues:
    """What a household's record holds that must never appear in public text."""

    names: list[str] = field(default_factory=list)  # the household's and its members' names
    numbers: list[str] = field(default_factory=list)  # ID numbers, phones (any format)
    address_parts: list[str] = field(default_factory=list)  # village, road, estate, house no.

    def is_empty(self) -> bool:
        return not (self.names or self.numbers or self.address_parts)


# --- normalisation -------------------------------------------------------------------------

_DASHES = "‐‑‒–—―−﹣－"


def normalise(text: str) -> str:
    """Same length as ``text``: full-width forms to ASCII, dashes to '-', spaces to ' '."""
    out = []
    for ch in text:
        if ch in _DASHES:
            out.append("-")
            continue
        folded = unicodedata.normalize("NFKC", ch)
        if len(folded) == 1 and (folded.isascii() or folded.isspace()):
            out.append(" " if folded.isspace() else folded)
        else:
            out.append(ch)
    return "".join(out)


# --- numbers -------------------------------------------------------------------------------

# Dates, times, money with thousands separators and ranges of small numbers are masked before
# digit runs are read, so "2024-03-15" is never taken for a phone number.
_MASKS = [
    re.compile(r"(?<!\d)\d{4}\s*[-./年]\s*\d{1,2}\s*[-./月]\s*\d{1,2}\s*[日号]?(?!\d)"),
    re.compile(r"(?<!\d)\d{4}\s*[-./年]\s*\d{1,2}(?!\d)"),
    re.compile(r"(?<!\d)\d{1,2}\s*[-./月]\s*\d{1,2}(?![\d栋幢座号])"),
    re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)"),
    re.compile(r"(?<!\d)\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)"),
]
_SEP = r"[ \-./·()]"
_DIGIT_RUN = re.compile(
    r"(?<![\dA-Za-z])(?:\+|00)?\(?\d(?:\d|" + _SEP + r"{1,3}(?=\d))*(?:\s?[Xx](?![A-Za-z]))?"
)
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0[1-9]\d{1,2}[2-9]\d{6,7}")
_LOCAL_NUMBER = re.compile(r"[2-9]\d{6,7}")
_CONTACT_WORDS = re.compile(r"(电话|手机|联系|致电|拨打|热线|号码|tel|call|phone|mobile)", re.I)
_BANK_WORDS = re.compile(r"(银行|卡号|账号|帐号|账户|帐户|转账|汇款|打款|收款)")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_CN_DIGITS = {
    "零": "0",
    "〇": "0",
    "一": "1",
    "幺": "1",
    "二": "2",
    "两": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_CN_DIGIT_RUN = re.compile(
    "["
    + "".join(_CN_DIGITS)
    + r"](?:["
    + "".join(_CN_DIGITS)
    + r"]|[ \-](?=["
    + "".join(_CN_DIGITS)
    + "]))+"
)


def id_checksum_ok(digits: str) -> bool:
    """Mainland resident ID (GB 11643): 17 digits and a check character."""
    if len(digits) != 18 or not digits[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == digits[17].upper()


def _plausible_birth(digits: str, at: int) -> bool:
    year, month, day = digits[at : at + 4], digits[at + 4 : at + 6], digits[at + 6 : at + 8]
    return (
        year.isdigit()
        and 1900 <= int(year) <= 2100
        and month.isdigit()
        and 1 <= int(month) <= 12
        and day.isdigit()
        and 1 <= int(day) <= 31
    )


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _classify_number(raw: str, before: str) -> tuple[FindingKind, bool] | None:
    """What a run of digits (with its separators) is, or None when it is harmless."""
    digits = re.sub(r"[^\dXx]", "", raw).upper()
    plain = digits.rstrip("X")
    if digits.endswith("X"):
        if len(digits) == 18 and plain.isdigit():
            if id_checksum_ok(digits):
                return FindingKind.ID_NUMBER, True
            return (FindingKind.ID_NUMBER, False) if _plausible_birth(digits, 6) else None
        digits = plain
    international = raw.lstrip().startswith(("+", "00"))
    if international:
        digits = digits[2:] if digits.startswith("00") else digits
        if digits.startswith("86"):
            digits = digits[2:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if _MOBILE.fullmatch(digits):
        return FindingKind.PHONE, True
    if len(digits) == 18:
        if id_checksum_ok(digits):
            return FindingKind.ID_NUMBER, True
        if _plausible_birth(digits, 6):
            return FindingKind.ID_NUMBER, False
    if 15 <= len(digits) <= 19 and luhn_ok(digits):
        return FindingKind.BANK_CARD, True
    if 12 <= len(digits) <= 19 and _BANK_WORDS.search(before[-12:]):
        return FindingKind.BANK_CARD, True
    if len(digits) == 15 and _plausible_birth("19" + digits[6:12], 0):
        return FindingKind.ID_NUMBER, False  # the old 15-digit ID
    if _LANDLINE.fullmatch(digits):
        return FindingKind.LANDLINE, True
    if _LOCAL_NUMBER.fullmatch(digits):
        # Seven or eight digits: a local phone number when the text says so, else ask.
        return FindingKind.LANDLINE, bool(_CONTACT_WORDS.search(before[-12:]))
    if international and len(digits) >= 7:
        return FindingKind.PHONE, True
    if len(digits) >= 9:
        return FindingKind.NUMBER, False
    return None


def _masked(text: str) -> str:
    for pattern in _MASKS:
        text = pattern.sub(lambda m: "#" * len(m.group()), text)
    return text


def _numbers(norm: str) -> Iterable[Finding]:
    masked = _masked(norm)
    for match in _DIGIT_RUN.finditer(masked):
        raw = match.group()
        start = match.start()
        # A leading "(" or a trailing separator is not part of the number.
        stripped = raw.rstrip(" -./·(")
        verdict = _classify_number(stripped, masked[:start])
        if verdict is not None:
            kind, certain = verdict
            yield Finding(kind, start, start + len(stripped), stripped, certain)
    for match in _CN_DIGIT_RUN.finditer(norm):
        digits = "".join(_CN_DIGITS.get(ch, "") for ch in match.group())
        if len(digits) >= 7:
            verdict = _classify_number(digits, norm[: match.start()])
            if verdict is not None:
                yield Finding(verdict[0], match.start(), match.end(), match.group(), verdict[1])


# --- addresses -----------------------------------------------------------------------------

_NUM = r"(?:\d+|[一二三四五六七八九十百零〇两]+)"
_CJK = r"[\u4e00-\u9fff]"
# A number of a house, building, unit, room or village group.
_ADDRESS_CORE = re.compile(
    r"(?:[A-Za-z]\s*)?" + _NUM + r"\s*(?:-\s*\d+\s*)?"
    r"(?:号楼|号院|号|栋|幢|座|单元|室|弄|巷|组|队|楼|层|排|户)"
    r"(?:\s*(?:[A-Za-z]?\d+|[一二三四五六七八九十]+)\s*(?:号|栋|幢|座|单元|室|楼|层|房))*"
)
# A street, road, village or estate name followed directly by a number ("中山路88").
_PLACE_THEN_NUMBER = re.compile(
    _CJK + r"(?:路|街|巷|弄|道|里|村|小区|花园|大厦|公寓|家园|新村|苑|广场|大院|山庄|公馆|社区)"
    r"\s*(?:[A-Za-z]\s*)?\d+(?:\s*-\s*\d+)*"
)
_PLACE_WORD = re.compile(
    r"(路|街|巷|弄|道|里|村|屯|寨|小区|花园|大厦|公寓|家园|新村|苑|广场|大院|山庄|公馆|社区|楼)"
)
# Words after "N号" that make it a date, a battery, a line, a size or a bed, not a house.
_NOT_HOUSE_AFTER = re.compile(
    r"\s*(电池|线|码|床|病床|前|后|之前|以前|以后|左右|上午|下午|晚上|早上|中午|当天|开始|到|至|起|止|出院|入院|出生|送|截止|鞋|字|楼梯)"
)
_NOT_HOUSE_BEFORE = re.compile(r"(月|第|型|编|序|每|初|年|星期|周|礼拜|学|尺|码)\s*$")
_WEAK_UNITS = ("楼", "层", "排", "户", "队", "组")
_STOP = set("住在于位的了和与或及是家往到去从给向由把被对为，。、；：！？,.;:!?（）() ")
_CN_UNIT_ONLY = re.compile(r"[一二三四五六七八九十百零〇两]+\s*(号|楼|层|组|队|排|户|室)")
_LIVES_AT = re.compile(r"(住|家在|地址|住址|门牌)")
_ADDRESS_WORDS = re.compile(r"(住址|地址|家住|住在|住于|位于|门牌)\s*[:：]?")


def _extend_back(norm: str, start: int) -> int:
    """Widen a house number to the place name just before it (up to ten characters)."""
    i = start
    while i > 0 and start - i < 10 and norm[i - 1] not in _STOP and not norm[i - 1].isdigit():
        i -= 1
    return i


def _addresses(norm: str) -> Iterable[Finding]:
    for match in _ADDRESS_CORE.finditer(norm):
        text = match.group()
        before = norm[: match.start()]
        after = norm[match.end() :]
        unit_only = re.fullmatch(_NUM + r"\s*(" + "|".join(_WEAK_UNITS) + r")", text.strip())
        if re.search(r"第\s*$", before):
            continue  # "第3单元" is a lesson, "第5号" a rank
        if text.rstrip().endswith("号") and "号" not in text[:-1]:
            if _NOT_HOUSE_AFTER.match(after) or _NOT_HOUSE_BEFORE.search(before):
                continue
        elif _NOT_HOUSE_BEFORE.search(before) and not re.search(r"栋|幢|单元|室", text):
            continue
        if text.rstrip().endswith("室") and after.lstrip().startswith(("厅", "一厅", "1厅")):
            continue  # "两室一厅" is a flat's layout
        # "十二号" is a house only next to a place; "一楼", "两组", "三室" alone are not.
        if _CN_UNIT_ONLY.fullmatch(text.strip()) and not (
            _PLACE_WORD.search(before[-8:]) or _LIVES_AT.search(before[-8:])
        ):
            continue
        start = _extend_back(norm, match.start())
        place_before = bool(_PLACE_WORD.search(norm[start : match.start()]))
        if unit_only:
            unit = unit_only.group(1)
            if unit in ("组", "队") and not re.search(
                r"村|社区|屯|寨", norm[start : match.start()]
            ):
                continue
            if unit in ("楼", "层", "排", "户") and not place_before:
                # "住在6楼，没有电梯" says little; the verifier decides.
                yield Finding(FindingKind.ADDRESS, match.start(), match.end(), text, False)
                continue
        yield Finding(FindingKind.ADDRESS, start, match.end(), norm[start : match.end()], True)
    for match in _PLACE_THEN_NUMBER.finditer(norm):
        after = norm[match.end() :]
        if re.match(
            r"\s*(年|月|日|天|周|岁|个|元|块|斤|公斤|米|次|人|名|户|小时|分|%|:|\.)", after
        ):
            continue
        start = _extend_back(norm, match.start())
        yield Finding(FindingKind.ADDRESS, start, match.end(), norm[start : match.end()], True)


# --- other patterns ------------------------------------------------------------------------

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE = re.compile(
    "["
    + _PROVINCES
    + r"]\s*[A-HJ-NP-Z]\s*[·.\-]?\s*(?=[A-HJ-NP-Z0-9]*\d)[A-HJ-NP-Z0-9]{5,6}(?![A-Za-z0-9])",
    re.I,
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_CONTACT = re.compile(
    r"(?:微信|微信号|vx|wx|v信|QQ|qq号|扣扣)\s*(?:号)?\s*[:：是为]?\s*([A-Za-z0-9_-]{5,20})", re.I
)


def _others(norm: str) -> Iterable[Finding]:
    for match in _PLATE.finditer(norm):
        yield Finding(FindingKind.PLATE, match.start(), match.end(), match.group())
    for match in _EMAIL.finditer(norm):
        yield Finding(FindingKind.EMAIL, match.start(), match.end(), match.group())
    for match in _CONTACT.finditer(norm):
        yield Finding(FindingKind.CONTACT, match.start(), match.end(), match.group())
    for match in _ADDRESS_WORDS.finditer(norm):
        # "住址：" followed by anything: what follows is an address even without a number.
        tail = re.match(_CJK + r"{2,}", norm[match.end() :])
        if tail and _PLACE_WORD.search(tail.group()):
            end = match.end() + tail.end()
            yield Finding(FindingKind.ADDRESS, match.start(), end, norm[match.start() : end], False)


# --- the household's own values ------------------------------------------------------------

_HONORIFICS = (
    r"(?:婆婆|奶奶|爷爷|伯伯|阿婆|阿公|阿姨|叔叔|大爷|大妈|大叔|大姐|大哥"
    r"|伯|叔|姨|婆|公|老师|先生|女士|小姐)"
)


def _household(text: str, norm: str, values: PrivateValues) -> Iterable[Finding]:
    for name in values.names:
        name = name.strip()
        if len(name) < 2:
            continue
        for match in re.finditer(re.escape(name), text):
            yield Finding(FindingKind.HOUSEHOLD, match.start(), match.end(), match.group())
        if len(name) >= 3 and re.fullmatch(_CJK + "+", name):
            given = name[1:]
            for match in re.finditer(re.escape(given), text):
                yield Finding(FindingKind.HOUSEHOLD, match.start(), match.end(), match.group())
        if re.fullmatch(_CJK + "{2,4}", name):
            surname = name[0]
            pattern = "(?:老|小|阿)" + surname + "|" + surname + _HONORIFICS
            for match in re.finditer(pattern, text):
                yield Finding(
                    FindingKind.HOUSEHOLD, match.start(), match.end(), match.group(), False
                )
    digits_only = "".join(ch if ch.isdigit() else "" for ch in norm)
    for number in values.numbers:
        wanted = re.sub(r"\D", "", normalise(number))
        if len(wanted) < 6:
            continue
        if wanted[-6:] in digits_only:
            # Find where those digits sit in the text (separators allowed between them).
            pattern = r"[ \-./·]{0,3}".join(re.escape(d) for d in wanted[-6:])
            for match in re.finditer(pattern, norm):
                yield Finding(FindingKind.HOUSEHOLD, match.start(), match.end(), match.group())
    for part in values.address_parts:
        part = part.strip()
        if len(part) < 2:
            continue
        for match in re.finditer(re.escape(normalise(part)), norm):
            yield Finding(
                FindingKind.HOUSEHOLD, match.start(), match.end(), text[match.start() : match.end()]
            )


def address_parts(address: str) -> list[str]:
    """The parts of an address below the town: village, road, estate, building and number.

    Province, city, district and town names are public (every need shows its district).
    """
    norm = normalise(address)
    parts = re.split(r"(?<=[省市区县镇乡])|(?<=街道)", norm)
    wanted: list[str] = []
    for piece in parts:
        piece = piece.strip()
        if not piece or re.search(r"(省|市|区|县|镇|乡|街道)$", piece):
            continue
        for chunk in re.findall(
            _CJK + r"{1,10}?(?:村|路|街|巷|弄|小区|花园|大厦|公寓|家园|新村|苑|社区|山庄|大院)",
            piece,
        ):
            if len(chunk) >= 3:
                wanted.append(chunk)
        for match in _ADDRESS_CORE.finditer(piece):
            start = _extend_back(piece, match.start())
            wanted.append(piece[start : match.end()])
        if not wanted and len(piece) >= 4:
            wanted.append(piece)
    return wanted


# --- the entry point -----------------------------------------------------------------------


def scan(text: str | None, private: PrivateValues | None = None) -> list[Finding]:
    """Everything in ``text`` that could identify or locate a household, left to right.

    Overlapping findings are merged into the widest; a merged span is certain when any part
    of it is.
    """
    if not text:
        return []
    norm = normalise(text)
    found: list[Finding] = [*_numbers(norm), *_addresses(norm), *_others(norm)]
    if private is not None and not private.is_empty():
        found.extend(_household(text, norm, private))
    return _merge(text, found)


def _merge(text: str, found: list[Finding]) -> list[Finding]:
    found.sort(key=lambda f: (f.start, -f.end))
    merged: list[Finding] = []
    for finding in found:
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            end = max(last.end, finding.end)
            # The more telling kind wins: a certain one over an unsure one.
            kind = last.kind if last.certain or not finding.certain else finding.kind
            merged[-1] = Finding(
                kind, last.start, end, text[last.start : end], last.certain or finding.certain
            )
        else:
            merged.append(
                Finding(
                    finding.kind,
                    finding.start,
                    finding.end,
                    text[finding.start : finding.end],
                    finding.certain,
                )
            )
    return merged


def certain(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.certain]
