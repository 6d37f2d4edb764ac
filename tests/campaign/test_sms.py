"""SMS encoding and segment counting: hand cases at every boundary, and the gsm0338 codec as an
oracle for which texts are GSM-7 and how many septets they take."""

from __future__ import annotations

import gsm0338  # noqa: F401  (importing it registers the "gsm03.38" codec)
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.campaign.sms import BASIC_CHARACTERS, EXTENSION_CHARACTERS, SmsShape, measure

# What the oracle codec has in its tables, read back by decoding every septet and every escape
# pair, so the strategies below do not depend on runner.campaign.sms's own tables.
# The codec's one departure from the standard: it lists 0x1B (ESC) itself as a character and
# encodes U+001B as a single byte. On the wire 0x1B always starts an extension pair, so a literal
# ESC cannot be sent as GSM-7; runner.campaign.sms calls it UCS-2 and the strategies leave it out.
# Otherwise the codec is a strict table lookup (no transliteration: "ç" or "’" raise
# UnicodeEncodeError under errors="strict"), which is exactly the rule we want.
ESC = "\x1b"
ORACLE_BASIC = [bytes([b]).decode("gsm03.38") for b in range(128) if b != 0x1B]


def _oracle_extension() -> list[str]:
    found = []
    for b in range(256):
        try:
            found.append(bytes([0x1B, b]).decode("gsm03.38"))
        except UnicodeDecodeError:
            pass
    return found


ORACLE_EXTENSION = _oracle_extension()
GSM_ALPHABET = ORACLE_BASIC + ORACLE_EXTENSION


def oracle_is_gsm(text: str) -> bool:
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        return False
    return True


def greedy_parts(widths: list[int], single: int, part: int) -> int:
    """A plain model of how a sender splits: fill each part character by character and start a
    new part when the next character does not fit whole."""
    if sum(widths) <= single:
        return 1
    parts, used = 1, 0
    for width in widths:
        if used + width > part:
            parts, used = parts + 1, 0
        used += width
    return parts


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --- the tables ---------------------------------------------------------------------------


def test_tables_match_the_gsm0338_codec() -> None:
    assert BASIC_CHARACTERS == frozenset(ORACLE_BASIC)
    assert EXTENSION_CHARACTERS == frozenset(ORACLE_EXTENSION)
    assert EXTENSION_CHARACTERS == frozenset("^{}\\[~]|€\f")


# --- hand cases at each boundary ----------------------------------------------------------


def test_empty_text_is_one_segment_of_nothing() -> None:
    assert measure("") == SmsShape("GSM-7", units=0, segments=1, characters=0)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (153 * 2, 2), (153 * 2 + 1, 3), (153 * 3, 3), (153 * 3 + 1, 4)],
)
def test_gsm7_plain_boundaries(length: int, segments: int) -> None:
    assert measure("a" * length) == SmsShape("GSM-7", length, segments, length)


def test_euro_sign_counts_two_septets() -> None:
    shape = measure("Now 5€ off")
    assert (shape.encoding, shape.units, shape.characters) == ("GSM-7", 11, 10)


def test_every_extension_character_counts_two() -> None:
    text = "^{}\\[~]|€\f"
    assert measure(text) == SmsShape("GSM-7", units=20, segments=1, characters=10)


def test_eighty_euro_signs_fill_one_sms_and_one_more_needs_two() -> None:
    assert measure("€" * 80).segments == 1
    assert measure("€" * 81) == SmsShape("GSM-7", units=162, segments=2, characters=81)


def test_extension_character_straddling_153_moves_to_the_next_part() -> None:
    # The € would take septets 153 and 154 of part one: it goes whole into part two, so 306
    # septets need three parts, not ceil(306 / 153) = 2.
    straddling = "a" * 152 + "€" + "a" * 152
    assert measure(straddling) == SmsShape("GSM-7", units=306, segments=3, characters=305)
    # One character earlier the € ends part one exactly: two parts.
    fitting = "a" * 151 + "€" + "a" * 153
    assert measure(fitting) == SmsShape("GSM-7", units=306, segments=2, characters=305)


def test_straddles_add_up_over_several_parts() -> None:
    # 153 / 2 is not whole: all-€ parts hold 76 each and waste a septet at every boundary.
    assert measure("€" * 152).segments == 2  # 304 septets, two parts of 76 €
    assert measure("€" * 153).segments == 3  # 306 septets, but only 76 € fit per part


def test_straddle_does_not_matter_in_a_single_sms() -> None:
    assert measure("a" * 152 + "€" + "a" * 6) == SmsShape("GSM-7", 160, 1, 159)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (67 * 2, 2), (67 * 2 + 1, 3), (67 * 3, 3), (67 * 3 + 1, 4)],
)
def test_ucs2_plain_boundaries(length: int, segments: int) -> None:
    assert measure("ж" * length) == SmsShape("UCS-2", length, segments, length)


def test_one_non_gsm_character_makes_the_whole_text_ucs2() -> None:
    shape = measure("a" * 100 + "ç")
    assert shape == SmsShape("UCS-2", units=101, segments=2, characters=101)


def test_emoji_is_two_utf16_units() -> None:
    assert measure("Hi 😀") == SmsShape("UCS-2", units=5, segments=1, characters=4)
    assert measure("😀" * 35).segments == 1
    assert measure("😀" * 36) == SmsShape("UCS-2", units=72, segments=2, characters=36)


def test_emoji_straddling_67_moves_to_the_next_part() -> None:
    straddling = "ж" * 66 + "😀" + "ж" * 66
    assert measure(straddling) == SmsShape("UCS-2", units=134, segments=3, characters=133)
    fitting = "ж" * 65 + "😀" + "ж" * 67
    assert measure(fitting) == SmsShape("UCS-2", units=134, segments=2, characters=133)


def test_euro_sign_is_one_unit_once_the_text_is_ucs2() -> None:
    assert measure("€ж") == SmsShape("UCS-2", units=2, segments=1, characters=2)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Ç", "GSM-7"),  # the table has the capital only
        ("ç", "UCS-2"),
        ("é", "GSM-7"),  # precomposed é is in the table
        ("e\u0301", "UCS-2"),  # decomposed é: the combining accent is not
        ("it\u2019s", "UCS-2"),  # a typographic apostrophe, common in pasted copy
        ("`", "UCS-2"),  # the one printable ASCII character missing from GSM 03.38
        ("line\r\nbreak", "GSM-7"),
        (ESC, "UCS-2"),  # the codec accepts it; the wire cannot carry it as a character
    ],
)
def test_which_characters_force_ucs2(text: str, encoding: str) -> None:
    assert measure(text).encoding == encoding


def test_lone_surrogate_counts_one_unit_instead_of_raising() -> None:
    assert measure("a\ud800") == SmsShape("UCS-2", units=2, segments=1, characters=2)


# --- the codec as oracle ------------------------------------------------------------------


def runs_of(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Texts made of runs of repeated characters: Hypothesis's plain text() rarely goes past
    160 characters, and runs make long texts with wide characters at every offset, including
    the last unit of a part."""
    runs = st.lists(st.tuples(alphabet, st.integers(min_value=1, max_value=90)), max_size=8)
    return runs.map(lambda pairs: "".join(c * n for c, n in pairs))


def filled_to_a_part_boundary(text: str) -> str:
    """The text with plain "a"s appended until its units are a whole number of parts: then one
    wide character moved past a boundary costs one more part, so a counter that splits a pair
    (or ignores the rule) is caught, not hidden by slack in the last part."""
    if oracle_is_gsm(text):
        return text + "a" * (-len(text.encode("gsm03.38")) % 153)
    return text + "a" * (-utf16_units(text) % 67)


def texts_of(alphabet: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    base = st.one_of(st.text(alphabet=alphabet, max_size=400), runs_of(alphabet))
    return st.one_of(base, base.map(filled_to_a_part_boundary))


gsm_characters = st.one_of(st.sampled_from(ORACLE_BASIC), st.sampled_from(ORACLE_EXTENSION))
gsm_texts = texts_of(gsm_characters)

# Mostly GSM with some of everything else (BMP and astral), so that both outcomes, long texts
# and surrogate pairs at part boundaries all come up. ESC is excluded: see the note above.
any_characters = st.one_of(
    st.sampled_from(GSM_ALPHABET),
    st.sampled_from(GSM_ALPHABET),
    st.characters(exclude_characters=ESC),
    st.characters(min_codepoint=0x10000),
)
mixed_texts = texts_of(any_characters)


@given(gsm_texts)
def test_gsm_texts_take_as_many_septets_as_the_codec_writes(text: str) -> None:
    shape = measure(text)
    assert shape.encoding == "GSM-7"
    assert shape.units == len(text.encode("gsm03.38"))
    assert shape.characters == len(text)
    widths = [len(c.encode("gsm03.38")) for c in text]
    assert shape.segments == greedy_parts(widths, 160, 153)


@given(mixed_texts)
def test_ucs2_exactly_when_the_codec_refuses(text: str) -> None:
    shape = measure(text)
    assert (shape.encoding == "UCS-2") == (not oracle_is_gsm(text))
    if shape.encoding == "UCS-2":
        assert shape.units == utf16_units(text)
        assert shape.segments == greedy_parts([utf16_units(c) for c in text], 70, 67)
    else:
        assert shape.units == len(text.encode("gsm03.38"))


@given(mixed_texts, mixed_texts)
def test_a_longer_text_never_takes_fewer_segments(text: str, more: str) -> None:
    # Holds across encodings too: a GSM-7 part holds at least 76 characters, a UCS-2 one at most 67.
    assert measure(text).segments <= measure(text + more).segments
