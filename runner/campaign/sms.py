"""The SMS fallback text's encoding and how many SMS segments it costs.

An SMS carries 140 bytes. Text written only with the GSM 03.38 default alphabet goes as GSM-7:
160 septets in one message, or 153 per part once it is split (the 6-byte concatenation header
takes 7 septets). Ten characters live in the alphabet's extension table and are sent as an
escape septet plus one more, so each costs two: ^ { } \\ [ ~ ] | € and form feed. Any other
character (an emoji, a Cyrillic letter, even a lower-case ç or a typographic quote) switches
the whole text to UCS-2 (UTF-16 on the wire): 70 code units in one message, 67 per part.

A part boundary never splits an escape pair or a UTF-16 surrogate pair (neither half decodes
on its own), so senders move the whole character into the next part, wasting one unit; a plain
ceil(units / 153) or ceil(units / 67) undercounts such texts by a part.

The text is measured as written, without Unicode normalisation: a decomposed "e" + combining
acute is sent as UCS-2, while the precomposed "é" is GSM-7.

`measure` runs once per recipient over audiences of a million rows, so a GSM-7 text is checked
and its extension characters counted in one pass of a compiled regular expression built from
the frozen tables (a C loop, not a per-character Python loop), and the result objects, which are
immutable and few, are shared through a small cache instead of built anew each time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet, positions 0x00..0x7F in order. 0x1B is left out: it is the escape
# into the extension table, not a character, so a literal U+001B in a text cannot go as GSM-7
# (the gsm0338 codec maps it to a bare 0x1B byte, which a handset would read as an escape).
BASIC_CHARACTERS = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"  # 0x10..0x1F without 0x1B
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)

# The basic character set extension table: each is sent as ESC + one septet, so counts two.
EXTENSION_CHARACTERS = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE = 160  # septets in one unsplit SMS
GSM7_PART = 153  # septets per part of a concatenated SMS
UCS2_SINGLE = 70  # UTF-16 code units in one unsplit SMS
UCS2_PART = 67  # UTF-16 code units per part of a concatenated SMS


def _character_class(characters: frozenset[str]) -> str:
    return "[" + "".join(re.escape(c) for c in sorted(characters)) + "]"


# Every character outside the basic table: in a GSM-7 text these are its extension characters.
_OUTSIDE_BASIC = re.compile("[^" + _character_class(BASIC_CHARACTERS)[1:])
# Characters beyond the Basic Multilingual Plane: two UTF-16 code units (a surrogate pair).
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


@dataclass(frozen=True, slots=True)
class SmsShape:
    """How an SMS text goes on the wire.

    units: septets for GSM-7 (an extension character counts two), UTF-16 code units for UCS-2.
    characters: Unicode code points in the text (what len() says, what a marketer counts).
    An empty text is 1 segment of 0 units: it is still one message if sent, and refusing an
    empty SMS is the campaign checks' job, not this counter's.
    """

    encoding: Encoding
    units: int
    segments: int
    characters: int


def measure(text: str) -> SmsShape:
    """The encoding, length in units and segment count of an SMS text."""
    characters = len(text)
    # One regex pass finds the characters outside the basic table: none or a few extension
    # characters in a GSM-7 text; in any other text the first one seen usually ends the pass.
    extension_at: list[int] = []
    for match in _OUTSIDE_BASIC.finditer(text):
        if match.group() not in EXTENSION_CHARACTERS:
            break
        extension_at.append(match.start())
    else:
        septets = characters + len(extension_at)
        segments = _segments(septets, GSM7_SINGLE, GSM7_PART, extension_at)
        return _shape("GSM-7", septets, segments, characters)
    # "surrogatepass": a lone surrogate (possible in a Python str, never in valid UTF-8 input)
    # still costs one code unit instead of raising.
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    # Looked for only when the text needs splitting and has a pair (units > characters).
    pairs_at = (match.start() for match in _ASTRAL.finditer(text)) if units > characters else ()
    segments = _segments(units, UCS2_SINGLE, UCS2_PART, pairs_at)
    return _shape("UCS-2", units, segments, characters)


# Building a frozen dataclass costs about 1 µs (object.__setattr__ per field), more than the
# measuring itself; the distinct shapes of a campaign are few (one per length), so share them.
@lru_cache(maxsize=4096)
def _shape(encoding: Encoding, units: int, segments: int, characters: int) -> SmsShape:
    return SmsShape(encoding, units, segments, characters)


def _segments(units: int, single: int, part: int, wide_at: Iterable[int]) -> int:
    """Parts needed when filling each `part` units greedily, never splitting a two-unit
    character (at the character indexes `wide_at`, in order) across a boundary."""
    if units <= single:
        return 1
    wasted = 0
    for earlier_wide, index in enumerate(wide_at):
        # Where this character's first unit lands: one unit per earlier character, one more per
        # earlier wide character, plus the units already wasted at earlier boundaries.
        offset = index + earlier_wide + wasted
        if offset % part == part - 1:
            wasted += 1  # it would straddle: the boundary's last unit stays empty
    return -(-(units + wasted) // part)


def ucs2_characters(text: str) -> list[str]:
    """The characters of `text` in neither GSM-7 table, in order of first appearance: any one of
    them is what makes the whole SMS go as UCS-2 (what `campaign plan` names for a reviewer)."""
    found = (m.group() for m in _OUTSIDE_BASIC.finditer(text))
    return list(dict.fromkeys(c for c in found if c not in EXTENSION_CHARACTERS))
