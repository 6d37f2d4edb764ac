"""Every message's state, durable.

states (State and its groupings), records (what goes in and out), interface (the Protocols the
rest of the runner uses), backend (which ledger a campaign has), tally (counting, whatever the
backend), sqlite/ (the default backend), lock (one sender per campaign on one machine)."""
