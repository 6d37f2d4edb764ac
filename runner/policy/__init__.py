"""The repository policy (campaigns/policy.toml) and what it governs for every campaign: send
windows in the recipient's local time, replies that opt out, frequency caps (docs/policy.md)."""
