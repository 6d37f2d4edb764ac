"""The SQLite ledger (the default): one file per campaign, <outputs>/<campaign-id>/ledger.sqlite,
in WAL mode. The only modules that speak SQLite's SQL."""
