"""The PostgreSQL ledger (CAMPAIGN_LEDGER_URL=postgresql://..., docs/scaling-out.md): every
campaign's ledger in one database, shared by any number of senders on any hosts. The only
modules that import psycopg; the SQLite path never does."""
