"""`--recipient ID-OR-PHONE` (preview, send --test-to): which audience row the user means.

A phone is written the way people write them ("07911 123410", "+44 7911 123410"): it is read
with the campaign's `default_region` and compared in E.164, as the audience's own numbers are.
When the row asked for is not messaged (suppressed, a duplicate, invalid), the answer says why,
naming the suppression list that holds the number, rather than "no recipient"."""

from __future__ import annotations

from runner.campaign.audience import Recipient, Skipped, read_csv
from runner.campaign.phones import BadNumber, to_e164
from runner.campaign.schema import Campaign


class RecipientChoice:
    def __init__(self, campaign: Campaign, wanted: str):
        self.campaign = campaign
        self.wanted = wanted.strip()
        try:
            self.phone: str | None = to_e164(self.wanted, campaign.spec.audience.default_region, "possible")
        except BadNumber:
            self.phone = None  # an id, not a phone number
        self.passed_over: Skipped | None = None  # the first not-messaged row that matched

    def matches(self, recipient: Recipient) -> bool:
        return self.wanted in (recipient.recipient_id, recipient.key, recipient.phone) or (
            self.phone is not None and self.phone == recipient.phone
        )

    def note_skipped(self, row: Skipped) -> None:
        """Remember a row that is not messaged but is the one asked for, to say why later."""
        if self.passed_over is None and (
            self.wanted in (row.recipient_id, row.phone) or (self.phone is not None and self.phone == row.phone)
        ):
            self.passed_over = row

    def not_found(self) -> str:
        """What to tell the user when no message matched (after the whole audience was read)."""
        file = self.campaign.path
        row = self.passed_over
        if row is None:
            return f"{file}: no recipient with id or phone {self.wanted!r} among the messages"
        where = f"{row.source}:{row.line}"
        who = row.recipient_id or row.phone
        if row.state == "suppressed":
            lists = ", ".join(self._lists_holding(row.phone)) or "a suppression list"
            return f"{file}: recipient {who} ({where}) is suppressed by {lists}: no message for it"
        return f"{file}: recipient {who} ({where}) is not messaged: {row.reason}"

    def _lists_holding(self, phone: str) -> list[str]:
        """The campaign's suppression files that list `phone` (read only for this answer)."""
        found = []
        region = self.campaign.spec.audience.default_region
        for name in self.campaign.spec.audience.suppress:
            path = self.campaign.resolve(name)
            for _, header, row in read_csv(path, name):
                column = next((c for c in header if c.strip().lower() == "phone"), None)
                if not row or column is None:
                    continue
                try:
                    if to_e164(row.get(column) or "", region, "possible") == phone:
                        found.append(name)
                        break
                except BadNumber:
                    continue
        return found
