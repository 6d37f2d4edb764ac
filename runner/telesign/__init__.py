"""Talking to Telesign: the HTTP client, its authentication, the settings from the environment."""
