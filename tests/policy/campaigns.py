"""The campaign file the policy tests send: a short marketing offer on Viber, whatever the policy
under test holds back or lets through."""

from __future__ import annotations


def offer(campaign_id: str, audience: str, sections: str = "", message_type: str = "MKT") -> str:
    """The campaign file's text: `audience` is its CSV's name; `sections`, TOML tables put before
    [audience] ([schedule], [sending])."""
    return f"""id = "{campaign_id}"
message_type = "{message_type}"
{sections}[audience]
file = "{audience}"
[viber]
text = "Offer"
url = "https://shop.example/"
url_text = "Shop"
url_id = "shop"
"""
