"""runner.heap.frozen: what is alive is kept out of the collector's walks for a block, and a
freeze nested in another (a send inside a test's simulator) leaves the outer one in place."""

from __future__ import annotations

import gc

from runner.heap import frozen


def test_a_nested_freeze_leaves_the_outer_one_in_place() -> None:
    assert gc.get_freeze_count() == 0
    alive = [object() for _ in range(100)]
    with frozen():
        frozen_before = gc.get_freeze_count()
        assert frozen_before >= len(alive)
        with frozen():  # (as CampaignSender.run inside make_simulator's)
            made_inside: list[list[int]] = [[] for _ in range(10)]
        assert gc.get_freeze_count() >= frozen_before  # still frozen: the outer block is not over
        assert made_inside
    assert gc.get_freeze_count() == 0
