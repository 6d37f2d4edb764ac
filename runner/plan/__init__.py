"""`campaign plan`: what a send would do right now, computed by the send's own code path, and the
saved plan that `campaign send --plan` applies only while nothing it depends on has changed
(docs/plan.md)."""
