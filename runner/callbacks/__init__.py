"""Telesign's callbacks: the receiver, its durable log, reading logs, the delivery rules, enrichment."""
