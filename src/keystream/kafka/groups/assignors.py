"""Server-side partition assignors of KIP-848 consumer groups: `uniform` and `range`.

Both are pure functions from the group's members (their subscribed topic ids), the subscribed
topics' partition counts and the previous target assignment to a new target assignment. Both
are sticky: a partition stays with its previous owner while that keeps the assignment balanced,
so a rebalance moves as few partitions as it can (each moved partition costs a revocation).

- uniform (Kafka's UniformAssignor): every partition of every subscribed topic goes to one of
  the members subscribed to its topic, and no member could take a partition from another
  member with more than one partition more than it (counts differ by at most one among members
  that could swap). Kafka uses two builders (homogeneous and heterogeneous subscriptions); this
  one algorithm gives the balance both promise: keep eligible previous owners, give the rest to
  the least-loaded eligible member, then move partitions from the most to the least loaded
  eligible member until no move improves the balance.
- range (Kafka's RangeAssignor): per topic, the subscribed members in member-id order get
  contiguous shares of `n // m` partitions, the first `n % m` of them one more; a member keeps
  previous partitions of the topic up to its share, the remaining partitions fill the shares in
  order. Rack awareness is not implemented (no racks on a single node).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping

__all__ = ["ASSIGNORS", "MemberSubscription", "range_assign", "uniform_assign"]

Assignment = dict[uuid.UUID, frozenset[int]]
MemberSubscription = frozenset[uuid.UUID]      # the topic ids a member subscribes to (existing topics)


def uniform_assign(members: Mapping[str, MemberSubscription], topics: Mapping[uuid.UUID, tuple[str, int]],
                   previous: Mapping[str, Assignment]) -> dict[str, Assignment]:
    """topics: topic id -> (name, partition count). Returns member id -> assignment."""
    order = sorted(members)
    eligible: dict[uuid.UUID, list[str]] = {tid: [m for m in order if tid in members[m]] for tid in topics}
    owner: dict[tuple[uuid.UUID, int], str] = {}
    load = dict.fromkeys(order, 0)
    partitions = [(tid, p) for tid in sorted(topics, key=lambda t: topics[t][0]) if eligible[tid]
                  for p in range(topics[tid][1])]
    wanted = set(partitions)
    for m in order:
        for tid, ps in previous.get(m, {}).items():
            if tid in members[m]:
                for p in ps:
                    if (tid, p) in wanted and (tid, p) not in owner:
                        owner[(tid, p)] = m
                        load[m] += 1
    for tp in partitions:
        if tp not in owner:
            m = min(eligible[tp[0]], key=lambda x: load[x])
            owner[tp] = m
            load[m] += 1
    moved = True
    while moved:
        moved = False
        for tp in partitions:
            m = owner[tp]
            target = min(eligible[tp[0]], key=lambda x: load[x])
            if load[target] + 1 < load[m]:
                owner[tp] = target
                load[m] -= 1
                load[target] += 1
                moved = True
    return _collect(order, owner)


def range_assign(members: Mapping[str, MemberSubscription], topics: Mapping[uuid.UUID, tuple[str, int]],
                 previous: Mapping[str, Assignment]) -> dict[str, Assignment]:
    order = sorted(members)
    owner: dict[tuple[uuid.UUID, int], str] = {}
    for tid, (_name, n) in topics.items():
        subs = [m for m in order if tid in members[m]]
        if not subs:
            continue
        base, extra = divmod(n, len(subs))
        share = {m: base + (1 if i < extra else 0) for i, m in enumerate(subs)}
        taken: set[int] = set()
        for m in subs:
            keep = sorted(p for p in previous.get(m, {}).get(tid, ()) if p < n and p not in taken)[:share[m]]
            for p in keep:
                owner[(tid, p)] = m
                taken.add(p)
            share[m] -= len(keep)
        free = iter(p for p in range(n) if p not in taken)
        for m in subs:
            for _ in range(share[m]):
                owner[(tid, next(free))] = m
    return _collect(order, owner)


def _collect(order: list[str], owner: dict[tuple[uuid.UUID, int], str]) -> dict[str, Assignment]:
    out: dict[str, dict[uuid.UUID, set[int]]] = {m: {} for m in order}
    for (tid, p), m in owner.items():
        out[m].setdefault(tid, set()).add(p)
    return {m: {t: frozenset(ps) for t, ps in a.items()} for m, a in out.items()}


ASSIGNORS: dict[str, Callable[[Mapping[str, MemberSubscription], Mapping[uuid.UUID, tuple[str, int]],
                               Mapping[str, Assignment]], dict[str, Assignment]]] = {
    "uniform": uniform_assign,
    "range": range_assign,
}
