"""Sending one campaign: the run, the concurrent sender, ledger bookkeeping, pacing, progress."""
