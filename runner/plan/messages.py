"""What the messages to send look like, gathered in one pass with bounded memory: a few samples
(the first recipient, the longest texts, a seeded random few), every text template and the
variables it uses, Viber text and button lengths against what Viber shows, and the SMS fallback's
encoding, segments and the characters that forced UCS-2 (docs/plan.md, "Messages")."""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from pathlib import Path

import jinja2
from jinja2 import meta

from runner.campaign.expansion import Message
from runner.campaign.render import Renderer
from runner.campaign.request import VIBER_CAPTION_LIMIT, VIBER_TEXT_LIMIT
from runner.campaign.sms import ucs2_characters
from runner.plan import git
from runner.plan.model import Character, Messages, Sample, Template

RANDOM_SAMPLES = 3
SEED = 12  # fixed: the same inputs give the same samples, so a plan's diff shows real changes
MAX_CHARACTERS = 20


def hide_phone(phone: str) -> str:
    """A phone for a pull-request comment: the country code and the last three digits."""
    return phone if len(phone) < 8 else phone[:3] + "•" * (len(phone) - 6) + phone[-3:]


def _sample(why: str, message: Message) -> Sample:
    r, texts, shape = message.recipient, message.texts, message.sms
    return Sample(
        why=why,
        recipient=r.recipient_id or hide_phone(r.phone),
        line=f"{git.shown(Path(r.source))}:{r.line}",
        viber_text=texts.viber_text,
        url=texts.url,
        url_text=texts.url_text,
        sms_text=texts.sms_text,
        sms=None
        if shape is None
        else f"{shape.encoding}, {shape.segments} segment{'s' if shape.segments != 1 else ''}",
    )


class MessageStats:
    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self.counted = 0
        self.first: Message | None = None
        self.longest_viber: Message | None = None
        self.longest_sms: Message | None = None
        self.reservoir: list[Message] = []
        self.rng = random.Random(SEED)
        self.viber_longest = self.viber_over = self.button_longest = self.button_over = 0
        self.encodings: Counter[str] = Counter()
        self.segments: Counter[int] = Counter()
        self.characters: Counter[str] = Counter()

    def add(self, message: Message) -> None:
        self.counted += 1
        texts, shape = message.texts, message.sms
        if self.first is None:
            self.first = message
        viber = len(texts.viber_text)
        if viber > self.viber_longest:
            self.viber_longest, self.longest_viber = viber, message
        self.viber_over += viber > VIBER_TEXT_LIMIT
        button = len(texts.url_text)
        self.button_longest = max(self.button_longest, button)
        self.button_over += button > VIBER_CAPTION_LIMIT
        if shape is not None:
            self.encodings[shape.encoding] += 1
            self.segments[shape.segments] += 1
            if self.longest_sms is None or shape.units > (self.longest_sms.sms.units if self.longest_sms.sms else 0):
                self.longest_sms = message
            if shape.encoding == "UCS-2" and texts.sms_text is not None:
                for character in ucs2_characters(texts.sms_text):
                    if character in self.characters or len(self.characters) < MAX_CHARACTERS:
                        self.characters[character] += 1
        # Reservoir sampling: each message has the same chance, in one pass, whatever the size.
        if len(self.reservoir) < RANDOM_SAMPLES:
            self.reservoir.append(message)
        else:
            slot = self.rng.randrange(self.counted)
            if slot < RANDOM_SAMPLES:
                self.reservoir[slot] = message

    def result(self) -> Messages:
        samples: list[Sample] = []
        seen: set[str] = set()
        picks = [
            ("first recipient", self.first),
            ("longest Viber text", self.longest_viber),
            ("longest SMS", self.longest_sms),
            *((f"random (seed {SEED})", m) for m in self.reservoir),
        ]
        for why, message in picks:
            if message is not None and message.external_id not in seen:
                seen.add(message.external_id)
                samples.append(_sample(why, message))
        return Messages(
            counted=self.counted,
            samples=samples,
            templates=templates(self.renderer),
            viber_text_longest=self.viber_longest,
            viber_text_limit=VIBER_TEXT_LIMIT,
            viber_text_over=self.viber_over,
            button_longest=self.button_longest,
            button_limit=VIBER_CAPTION_LIMIT,
            button_over=self.button_over,
            sms_encodings=dict(sorted(self.encodings.items())),
            sms_segments=dict(sorted(self.segments.items())),
            ucs2_characters=[
                Character(character=c, name=unicodedata.name(c, f"U+{ord(c):04X}"), messages=n)
                for c, n in self.characters.most_common()
            ],
        )


def templates(renderer: Renderer) -> list[Template]:
    """Each text template of the campaign as written, and the variables it reads."""
    spec = renderer.campaign.spec
    fields: list[tuple[str, str | None, str | None]] = [
        ("viber.text", spec.viber.text, spec.viber.text_template),
        ("viber.url", spec.viber.url, None),
        ("viber.url_text", spec.viber.url_text, None),
        ("viber.url_id", spec.viber.url_id, None),
    ]
    if spec.sms is not None:
        fields.append(("sms.text", spec.sms.text, spec.sms.text_template))
    found: list[Template] = []
    for name, inline, file_name in fields:
        if inline is not None:
            source, where = inline, f"{renderer.campaign.path.name} [{name.replace('.', '] ')}"
        elif file_name is not None and renderer.templates_folder is not None:
            source = (renderer.templates_folder / file_name).read_text(encoding="utf-8")
            where = f"templates/{file_name}"
        else:
            continue
        try:
            variables = sorted(meta.find_undeclared_variables(renderer.env.parse(source)))
        except jinja2.TemplateSyntaxError:  # the Renderer refused it already; never reached
            variables = []
        found.append(Template(field=name, source=source, where=where, variables=variables))
    return found
