"""The stream datatype alone (keyspace/datatypes/stream.py): packing, node splits, ranges,
deletion and trimming against a plain sorted model, groups and Redis 7.0's lag arithmetic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from keystream.keyspace.datatypes.stream import (
    ID_MAX,
    MAX64,
    Group,
    Stream,
    _encode_entry,
    _lp_entry_size,
    format_id,
    make_id,
    rax_node_count,
)


def _filled(n: int, max_entries: int = 100, max_bytes: int = 4096) -> Stream:
    s = Stream()
    for i in range(1, n + 1):
        s.append(make_id(i, 0), [b"f", b"%d" % i], max_bytes, max_entries)
    return s


def test_ids_render_and_order() -> None:
    assert format_id(make_id(5, 7)) == b"5-7"
    assert format_id(ID_MAX) == b"18446744073709551615-18446744073709551615"
    assert make_id(1, MAX64) < make_id(2, 0)


def test_entries_round_trip_with_and_without_master_fields() -> None:
    s = Stream()
    s.append(make_id(1, 5), [b"a", b"1", b"b", b""], 4096, 100)
    s.append(make_id(1, 6), [b"a", b"x" * 300, b"b", b"y"], 4096, 100)  # same fields: values only
    s.append(make_id(2, 0), [b"c", b"3"], 4096, 100)  # other fields: stored with the entry
    s.append(make_id(2**40, 2**63), [b"a", b"1", b"b", b"2", b"z", b"9"], 4096, 100)
    assert s.range() == [
        (make_id(1, 5), [b"a", b"1", b"b", b""]),
        (make_id(1, 6), [b"a", b"x" * 300, b"b", b"y"]),
        (make_id(2, 0), [b"c", b"3"]),
        (make_id(2**40, 2**63), [b"a", b"1", b"b", b"2", b"z", b"9"]),
    ]
    assert s.node_count() == 1
    # master-field entries cost their values only: 1 flag + 2 id bytes + 2 length bytes + 2 values
    node = s.nodes[0]
    assert len(node.buf) < 4 + 1 + 2 + 300 + 2 + 1 + 20 + 40


def test_nodes_split_on_entries_and_on_listpack_bytes() -> None:
    assert _filled(250, max_entries=100).node_count() == 3
    assert _filled(250, max_entries=0, max_bytes=4096).node_count() == 1
    s = Stream()
    for i in range(1, 100):
        s.append(make_id(i, 0), [b"field", b"v" * 100], 1000, 0)
    # each entry is ~108 listpack bytes: a node of 1000 bytes holds 8 of them
    assert [n.live for n in s.nodes][:3] == [8, 8, 8]
    assert _lp_entry_size(b"127") == 2 and _lp_entry_size(b"128") == 3 and _lp_entry_size(b"0127") == 6


def test_ranges_match_a_sorted_model() -> None:
    s = _filled(1000, max_entries=7)
    ids = [make_id(i, 0) for i in range(1, 1001)]
    for lo, hi, count in [(0, ID_MAX, 0), (make_id(10, 1), make_id(500, 0), 0), (make_id(7, 0), ID_MAX, 5),
                          (make_id(999, 0), make_id(2000, 0), 0), (make_id(3, 0), make_id(2, 0), 0)]:
        want = [i for i in ids if lo <= i <= hi]
        assert [i for i, _ in s.range(lo, hi, count)] == (want[:count] if count else want)
        rev = want[::-1]
        assert [i for i, _ in s.rev_range(lo, hi, count)] == (rev[:count] if count else rev)


def test_delete_marks_then_drops_empty_nodes() -> None:
    s = _filled(10, max_entries=5)
    assert s.xdel([make_id(2, 0), make_id(2, 0), make_id(99, 0)]) == 1
    assert s.max_deleted == make_id(2, 0) and s.length == 9
    assert s.xdel([make_id(i, 0) for i in (1, 3, 4, 5)]) == 4
    assert s.node_count() == 1 and s.first_id == make_id(6, 0)
    assert s.edge_id(True, False) == make_id(6, 0)
    assert s.xdel([make_id(i, 0) for i in range(6, 11)]) == 5
    assert s.length == 0 and s.first_id == 0 and s.node_count() == 0 and s.last_id == make_id(10, 0)


def test_trim_exact_and_approximate() -> None:
    s = _filled(100, max_entries=10)
    assert s.trim(95, None, True, 10000) == 0  # ~: whole nodes only
    assert s.trim(85, None, True, 10000) == 10
    assert s.trim(85, None, False, 0) == 5 and s.length == 85
    assert s.first_id == make_id(16, 0)
    assert s.trim(None, make_id(40, 0), True, 10000) == 15  # nodes ending before 40 go
    assert s.trim(None, make_id(40, 0), False, 0) == 9
    assert s.trim(0, None, True, 20) == 11  # LIMIT caps the work: the next node would pass 20
    assert s.range(0, ID_MAX, 1)[0][0] == make_id(51, 0)


def test_groups_pel_and_lag() -> None:
    s = _filled(5)
    g = s.groups[b"g"] = Group(0, None)
    c = g.create_consumer(b"alice", 1000)
    assert c is not None and g.create_consumer(b"alice", 1000) is None
    assert s.lag(g) == 5
    for sid, _ in s.range(0, ID_MAX, 2):
        s.advance_group(g, sid)
        g.deliver(sid, c, 2000)
    assert g.entries_read == 2 and s.lag(g) == 3
    bob = g.create_consumer(b"bob", 1000)
    assert bob is not None
    nack = g.deliver(make_id(1, 0), bob, 3000)  # redelivered: moved, count reset
    assert nack.consumer is bob and list(c.pel) == [make_id(2, 0)] and nack.delivery_count == 1
    s.xdel([make_id(4, 0)])  # a tombstone ahead of the group: lag unknown
    assert s.lag(g) is None
    s.advance_group(g, make_id(3, 0))  # before the tombstone: the counter becomes unknown
    assert g.entries_read is None
    s.advance_group(g, make_id(5, 0))  # the last ID: known again
    assert g.last_id == make_id(5, 0) and g.entries_read == 5 and s.lag(g) == 0
    assert g.ack(make_id(1, 0)) and not g.ack(make_id(1, 0)) and not bob.pel
    assert g.delete_consumer(c) == 1 and not g.pel
    copy = s.copy()
    copy.xdel([make_id(5, 0)])
    assert s.length == 4 and copy.length == 3 and copy.groups[b"g"] is not g


def test_reply_cache_is_bounded_and_follows_changes(monkeypatch) -> None:
    from keystream.keyspace.datatypes import stream as mod

    monkeypatch.setattr(mod, "ENCODED_NODES_MAX", 3)
    s = _filled(100, max_entries=10)
    assert s.range_encoded(0, ID_MAX, 0)[0] == [make_id(i, 0) for i in range(1, 101)]
    assert sum(n.enc is not None for n in s.nodes) == 3  # only the last nodes built keep theirs
    s.append(make_id(101, 0), [b"f", b"x"], 4096, 10)  # a new node
    s.append(make_id(102, 0), [b"f", b"y"], 4096, 10)
    s.nodes[-1].encoded()
    s.append(make_id(103, 0), [b"g", b"z"], 4096, 10)  # extends the cached node
    assert s.range_encoded(make_id(101, 0))[1] == [_encode_entry(make_id(101, 0), [b"f", b"x"]),
                                                  _encode_entry(make_id(102, 0), [b"f", b"y"]),
                                                  _encode_entry(make_id(103, 0), [b"g", b"z"])]
    s.xdel([make_id(102, 0)])
    assert s.range_encoded(make_id(101, 0))[0] == [make_id(101, 0), make_id(103, 0)]
    assert s.entry_reply(make_id(103, 0)) is not None and s.entry_reply(make_id(102, 0)) is None


def test_rax_node_count() -> None:
    assert rax_node_count([]) == 1
    assert rax_node_count([make_id(1, 0)]) == 2
    assert rax_node_count([make_id(1, 0), make_id(1, 1)]) == 4
    assert rax_node_count([make_id(1, 0), make_id(1, 1), make_id(1, 2)]) == 5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "del", "trim", "minid"]), st.integers(0, 40)), max_size=60),
       st.integers(1, 6))
def test_operations_against_a_model(ops, max_entries) -> None:
    s = Stream()
    model: list[int] = []
    nxt = 1
    for op, arg in ops:
        if op == "add":
            s.append(make_id(nxt, arg), [b"f", b"%d" % arg], 4096, max_entries)
            model.append(make_id(nxt, arg))
            nxt += 1
        elif op == "del" and model:
            victim = model[arg % len(model)]
            assert s.xdel([victim]) == 1
            model.remove(victim)
        elif op == "trim":
            removed = s.trim(arg, None, False, 0)
            assert removed == max(0, len(model) - arg)
            model = model[len(model) - min(len(model), arg):] if arg else []
        elif op == "minid":
            bound = make_id(arg, 0)
            removed = s.trim(None, bound, False, 0)
            assert removed == sum(1 for i in model if i < bound)
            model = [i for i in model if i >= bound]
        assert [i for i, _ in s.range()] == model
        ids, replies = s.range_encoded()
        assert ids == model and replies == [_encode_entry(i, p) for i, p in s.range()]
        assert s.range_encoded(0, ID_MAX, 3, rev=True)[0] == model[::-1][:3]
        assert len(s) == len(model)
        assert s.last_valid_id() == (model[-1] if model else 0)
