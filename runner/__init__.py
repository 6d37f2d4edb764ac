"""campaign-runner: declarative Viber + SMS campaigns over Telesign omnichannel."""

__version__ = "0.1.0"
