"""Reply keywords: which replies opt a phone out of every campaign, and which opt it back in
(docs/policy.md, "Replies").

The matching rule: a reply and a keyword are compared after Unicode NFKC normalisation, case
folding, and removing everything that is not a letter or a digit (spaces, punctuation, emoji), so
"Stop.", " stop ", "STOP!!" and "S.T.O.P" all read "stop", and "opt out" reads "optout". A reply
opts out when the whole of it, or its first word (or two), is an opt-out keyword ("STOP", "Stop please",
"unsubscribe me"); it opts in only when the whole of it is an opt-in keyword ("START", "Unstop"),
because reading a first word too generously there would message someone who asked to stop."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

# The FCC's 2024 list ("stop, quit, end, revoke, opt out, cancel, unsubscribe") and the industry's STOPALL.
DEFAULT_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
DEFAULT_OPT_IN = ("START", "UNSTOP")

Meaning = Literal["opt_out", "opt_in", "other"]
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


@dataclass(frozen=True)
class Keywords:
    opt_out: frozenset[str]
    opt_in: frozenset[str]

    @classmethod
    def of(cls, opt_out: Iterable[str], opt_in: Iterable[str]) -> Keywords:
        return cls(frozenset(normalise(w) for w in opt_out), frozenset(normalise(w) for w in opt_in))

    def meaning(self, text: str | None) -> Meaning:
        if not text:
            return "other"
        whole = normalise(text)
        if whole in self.opt_in:
            return "opt_in"
        if whole in self.opt_out:
            return "opt_out"
        words = _WORD.findall(unicodedata.normalize("NFKC", text))
        # the first word, or the first two ("opt out please")
        if any(normalise("".join(words[:n])) in self.opt_out for n in (1, 2) if len(words) >= n):
            return "opt_out"
        return "other"


DEFAULT_KEYWORDS = Keywords.of(DEFAULT_OPT_OUT, DEFAULT_OPT_IN)
