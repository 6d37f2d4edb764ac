"""The compact de-duplication set behaves as a set of strings, through its growth."""

from hypothesis import given
from hypothesis import strategies as st

from runner.campaign.seen import FingerprintSet


@given(st.lists(st.text(max_size=20), max_size=3000), st.lists(st.text(max_size=20), max_size=50))
def test_it_agrees_with_a_python_set(added: list[str], probed: list[str]) -> None:
    compact, reference = FingerprintSet(capacity=2), set()
    for value in added:
        assert compact.add(value) == (value not in reference)
        reference.add(value)
    assert len(compact) == len(reference)
    for value in probed + added:
        assert (value in compact) == (value in reference)
