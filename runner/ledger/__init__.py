"""Every message's state, durable: the store, and the lock that keeps one sender per campaign."""
