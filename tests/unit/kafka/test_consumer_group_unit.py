"""KIP-848 pieces alone: the group records' encoding (Kafka 4.0's schemas, golden bytes), the
uniform and range assignors (balance, stickiness), and the reconciliation state machine
(revoke before assign, unreleased partitions, epochs)."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from keystream.kafka.groups import consumer_records as crec
from keystream.kafka.groups.assignors import range_assign, uniform_assign
from keystream.kafka.groups.consumer_group import ConsumerGroup, MemberState, reconcile

T1 = uuid.UUID(int=1)
T2 = uuid.UUID(int=2)


# -- records -----------------------------------------------------------------------------------------

def test_keys_are_the_record_type_and_non_flexible_strings() -> None:
    assert crec.encode_key(crec.GROUP_METADATA, "g") == b"\x00\x03\x00\x01g"
    assert crec.encode_key(crec.CURRENT_ASSIGNMENT, "g", "m1") == b"\x00\x08\x00\x01g\x00\x02m1"
    assert crec.decode_key(b"\x00\x10\x00\x01g\x00\x02a.") == (crec.REGULAR_EXPRESSION, "g", "a.")
    assert crec.decode_key(b"\x00\x01\x00\x01g") is None          # an offset key: records.py's


def test_values_are_version_0_flexible() -> None:
    # ConsumerGroupMetadataValue: version 0, Epoch 7, no tagged fields
    assert crec.encode_value(crec.GROUP_METADATA, 7) == b"\x00\x00\x00\x00\x00\x07\x00"
    # ConsumerGroupTargetAssignmentMemberValue: one topic, partitions [0, 2]
    assert crec.encode_value(crec.TARGET_MEMBER, {T1: frozenset({2, 0})}) == (
        b"\x00\x00" + b"\x02" + T1.bytes + b"\x03" + b"\x00\x00\x00\x00\x00\x00\x00\x02" + b"\x00" + b"\x00")
    # a tagged field written by a later Kafka (MetadataHash, tag 0) is skipped
    tagged = b"\x00\x00\x00\x00\x00\x07" + b"\x01\x00\x08" + b"\x00" * 8
    assert crec.decode_value(crec.GROUP_METADATA, tagged) == 7


def test_every_value_round_trips() -> None:
    values: list[tuple[int, object]] = [
        (crec.GROUP_METADATA, 12),
        (crec.TARGET_METADATA, 11),
        (crec.PARTITION_METADATA, {"a": crec.TopicMetadata(T1, "a", 3), "b": crec.TopicMetadata(T2, "b", 1)}),
        (crec.MEMBER_METADATA, crec.MemberMetadataRecord("inst", None, "client", "/127.0.0.1", ("a", "b"), "x.*",
                                                         45000, "range")),
        (crec.TARGET_MEMBER, {T1: frozenset({0, 1}), T2: frozenset({5})}),
        (crec.CURRENT_ASSIGNMENT, crec.CurrentAssignmentRecord(3, 2, 1, {T1: frozenset({0})}, {T2: frozenset({1})})),
        (crec.REGULAR_EXPRESSION, crec.RegexRecord(frozenset({"a", "b"}), 4, 1_700_000_000_000)),
    ]
    for rtype, value in values:
        assert crec.decode_value(rtype, crec.encode_value(rtype, value)) == value


def test_replay_tracks_partition_epochs_and_deletes() -> None:
    cg = ConsumerGroup("g")
    meta = crec.MemberMetadataRecord(None, None, "c", "h", ("a",), None, 1000, None)
    cg.replay(crec.MEMBER_METADATA, "m", meta)
    cg.replay(crec.CURRENT_ASSIGNMENT, "m", crec.CurrentAssignmentRecord(
        4, 3, int(MemberState.UNREVOKED_PARTITIONS), {T1: frozenset({0})}, {T1: frozenset({1})}))
    assert cg.partition_epoch(T1, 0) == cg.partition_epoch(T1, 1) == 4 and cg.partition_epoch(T1, 2) == -1
    assert cg.subscribed_topic_names() == {"a"}
    cg.replay(crec.CURRENT_ASSIGNMENT, "m", None)
    cg.replay(crec.MEMBER_METADATA, "m", None)
    assert cg.members == {} and cg.partition_epochs == {} and cg.subscribed_topic_names() == set()


# -- assignors ---------------------------------------------------------------------------------------

members_st = st.dictionaries(st.sampled_from([f"m{i}" for i in range(8)]),
                             st.frozensets(st.sampled_from([T1, T2]), min_size=1), min_size=1)
topics = {T1: ("a", 7), T2: ("b", 5)}


def _owners(result: dict[str, dict[uuid.UUID, frozenset[int]]]) -> dict[tuple[uuid.UUID, int], str]:
    out: dict[tuple[uuid.UUID, int], str] = {}
    for m, a in result.items():
        for tid, ps in a.items():
            for p in ps:
                assert (tid, p) not in out
                out[(tid, p)] = m
    return out


@settings(max_examples=150, deadline=None)
@given(members=members_st, later=members_st)
def test_uniform_is_complete_balanced_and_sticky(members: dict, later: dict) -> None:
    first = uniform_assign(members, topics, {})
    for result, subs in ((first, members), (uniform_assign(later, topics, first), later)):
        owners = _owners(result)
        for tid, (_n, count) in topics.items():
            subscribed = [m for m in subs if tid in subs[m]]
            for p in range(count):
                assert ((tid, p) in owners) == bool(subscribed)
                if subscribed:
                    assert tid in subs[owners[(tid, p)]]
        load = {m: sum(len(ps) for ps in result[m].values()) for m in subs}
        for (tid, _p), m in owners.items():      # nobody eligible could take one and be better balanced
            for other in subs:
                if tid in subs[other]:
                    assert load[other] + 1 >= load[m]
    # the same members again: nothing moves
    assert uniform_assign(members, topics, first) == first


def test_uniform_moves_only_what_balance_needs() -> None:
    subs = {f"m{i}": frozenset({T1}) for i in range(3)}
    three = uniform_assign(subs, {T1: ("a", 9)}, {})
    four = uniform_assign({**subs, "m3": frozenset({T1})}, {T1: ("a", 9)}, three)
    moved = sum(len(three[m][T1] - four[m][T1]) for m in three)
    assert moved == 2 and sorted(len(a[T1]) for a in four.values()) == [2, 2, 2, 3]


def test_range_gives_contiguous_shares_in_member_order_and_is_sticky() -> None:
    subs = {"b": frozenset({T1}), "a": frozenset({T1, T2}), "c": frozenset({T1})}
    r = range_assign(subs, topics, {})
    assert r["a"] == {T1: frozenset({0, 1, 2}), T2: frozenset(range(5))}
    assert r["b"] == {T1: frozenset({3, 4})} and r["c"] == {T1: frozenset({5, 6})}
    prev = {"a": {T1: frozenset({5, 6})}, "b": {T1: frozenset({0, 1})}, "c": {T1: frozenset({2, 3, 4})}}
    r = range_assign({"a": frozenset({T1}), "b": frozenset({T1}), "c": frozenset({T1})}, {T1: ("a", 7)}, prev)
    assert r["a"][T1] >= {5, 6} and r["b"][T1] == frozenset({0, 1}) and r["c"][T1] <= {2, 3, 4}
    assert sorted(len(x[T1]) for x in r.values()) == [2, 2, 3]


# -- reconciliation ----------------------------------------------------------------------------------

def cur(epoch: int, state: MemberState, assigned: dict, pending: dict | None = None,
        previous: int = 0) -> crec.CurrentAssignmentRecord:
    return crec.CurrentAssignmentRecord(epoch, previous, int(state), assigned, pending or {})


def free(_t: uuid.UUID, _p: int) -> int:
    return -1


def test_revoke_first_then_move_to_the_target_epoch() -> None:
    c = cur(1, MemberState.STABLE, {T1: frozenset({0, 1, 2, 3})})
    target = {T1: frozenset({0, 1, 4})}
    r = reconcile(c, 2, target, free, {T1: frozenset({0, 1, 2, 3})})
    assert (r.member_epoch, MemberState(r.state)) == (1, MemberState.UNREVOKED_PARTITIONS)
    assert r.assigned == {T1: frozenset({0, 1})} and r.pending_revocation == {T1: frozenset({2, 3})}
    assert reconcile(r, 2, target, free, {T1: frozenset({0, 1, 2})}) is r      # still owns 2: wait
    assert reconcile(r, 2, target, free, None) is r                            # no owned list: wait
    done = reconcile(r, 2, target, free, {T1: frozenset({0, 1})})
    assert (done.member_epoch, done.previous_epoch, MemberState(done.state)) == (2, 1, MemberState.STABLE)
    assert done.assigned == {T1: frozenset({0, 1, 4})}


def test_partitions_owned_elsewhere_stay_unreleased() -> None:
    def owned_by_other(_t: uuid.UUID, p: int) -> int:
        return 3 if p == 5 else -1

    c = cur(2, MemberState.STABLE, {T1: frozenset({0})})
    r = reconcile(c, 3, {T1: frozenset({0, 5, 6})}, owned_by_other, {T1: frozenset({0})})
    assert (r.member_epoch, MemberState(r.state)) == (3, MemberState.UNRELEASED_PARTITIONS)
    assert r.assigned == {T1: frozenset({0, 6})}
    r2 = reconcile(r, 3, {T1: frozenset({0, 5, 6})}, free, None)               # 5 released
    assert MemberState(r2.state) is MemberState.STABLE and r2.assigned == {T1: frozenset({0, 5, 6})}


def test_a_member_that_no_longer_owns_revoked_partitions_skips_the_revoking_state() -> None:
    c = cur(1, MemberState.STABLE, {T1: frozenset({0, 1})})
    r = reconcile(c, 2, {T1: frozenset({0})}, free, {T1: frozenset({0})})
    assert (r.member_epoch, MemberState(r.state), r.assigned) == (2, MemberState.STABLE, {T1: frozenset({0})})


# -- offsets expiry and deletion of consumer groups, across reloads (fake clock) ------------------------

def test_consumer_group_offsets_expire_and_the_empty_group_is_deleted() -> None:
    """Kafka 4.0: a consumer group's offsets of topics it does not subscribe to expire
    offsets.retention.minutes after their commit; once the group is empty and has no offsets
    left, its records are deleted (tombstones) and a reload does not bring it back."""
    import asyncio
    import tempfile
    from types import SimpleNamespace

    from keystream.config import Config
    from keystream.kafka.groups.coordinator import GroupCoordinator
    from keystream.log.manager import LogManager

    config = Config()
    config.set_text("offsets.topic.num.partitions", "1")
    config.set_text("offsets.retention.minutes", "1")
    clock = [1_700_000_000_000]
    with tempfile.TemporaryDirectory(prefix="ks-848-") as tmp:
        logs = LogManager(tmp, config)
        logs.load()
        broker = SimpleNamespace(config=config, logs=logs, now_ms=lambda: clock[0], notify_append=lambda t, p: None)
        logs.create_topic("a", 2, {})
        logs.create_topic("b", 1, {})

        async def loaded() -> GroupCoordinator:
            coord = GroupCoordinator(broker)  # type: ignore[arg-type]
            coord.start()
            while coord.loading:
                await asyncio.sleep(0)
            return coord

        async def scenario() -> None:
            coord = await loaded()
            r = coord.consumer.heartbeat(1, "cg", "m", 0, None, None, 30000, "c", "/h", ("a",), None, None, {})
            assert r.error == 0 and r.member_epoch == 1
            assert coord.commit_offsets("cg", 1, "m", None, [("a", 0, 5, -1, None), ("b", 0, 6, -1, None)]) == \
                {("a", 0): 0, ("b", 0): 0}
            assert coord.delete_offsets("cg", [("a", 0)]) == (0, {("a", 0): 86})   # GROUP_SUBSCRIBED_TO_TOPIC
            assert coord.delete_group("cg") == 68                                  # NON_EMPTY_GROUP
            clock[0] += 61_000
            coord.expire_offsets(clock[0])
            assert set(coord.groups["cg"].offsets) == {("a", 0)}
            await coord.stop()

            again = await loaded()
            cg = again.groups["cg"].consumer
            assert cg is not None and set(cg.members) == {"m"} and cg.members["m"].member_epoch == 1
            assert set(again.groups["cg"].offsets) == {("a", 0)}
            left = again.consumer.heartbeat(1, "cg", "m", -1, None, None, -1, "c", "/h", None, None, None, None)
            assert (left.error, left.member_epoch) == (0, -1)
            clock[0] += 61_000
            again.expire_offsets(clock[0])
            assert "cg" not in again.groups
            await again.stop()

            third = await loaded()
            assert third.groups == {}
            await third.stop()

        asyncio.run(scenario())
        logs.close()


# -- the coordinator driven by random clients --------------------------------------------------------

client_ops = st.lists(st.tuples(st.sampled_from(["join", "hb", "hb", "hb", "hb_null", "resubscribe", "leave",
                                                 "expire", "bounce"]),
                                st.integers(0, 4), st.sampled_from([("a",), ("a", "b"), ("b",)])),
                      min_size=1, max_size=80)


def _state(coord: object) -> object:
    group = coord.groups.get("g")  # type: ignore[attr-defined]
    cg = group.consumer if group is not None else None
    if cg is None:
        return None
    members = {mid: (m.member_epoch, m.previous_epoch, m.state, m.assigned, m.pending_revocation,
                     m.subscribed_names, m.server_assignor) for mid, m in cg.members.items()}
    return (cg.group_epoch, cg.assignment_epoch, members, cg.targets, cg.partition_epochs, cg.subscription,
            dict(+cg.name_refs))


@settings(max_examples=100, deadline=None)
@given(script=client_ops, assignor=st.sampled_from(["uniform", "range"]))
def test_random_clients_never_own_a_partition_twice_and_converge(script: list, assignor: str) -> None:
    """Clients (three dynamic, two static) that join, heartbeat (with their owned partitions, or
    null when unchanged), change their subscriptions, leave, vanish (their session expires) or
    restart (a static member leaving with epoch -2 and rejoining) in random order: at every step no partition is owned by two
    clients, none is assigned or pending revocation at two members on the server; once every
    client keeps heartbeating, all subscribed partitions are owned and the group is Stable; a
    coordinator loading the records back has the same state."""
    import asyncio
    import tempfile
    from types import SimpleNamespace

    from keystream.config import Config
    from keystream.kafka.groups.coordinator import GroupCoordinator
    from keystream.log.manager import LogManager

    config = Config()
    config.set_text("offsets.topic.num.partitions", "1")
    with tempfile.TemporaryDirectory(prefix="ks-848-") as tmp:
        logs = LogManager(tmp, config)
        logs.load()
        broker = SimpleNamespace(config=config, logs=logs, now_ms=lambda: 1_700_000_000_000,
                                 notify_append=lambda t, p: None)
        logs.create_topic("a", 6, {})
        logs.create_topic("b", 3, {})

        async def scenario() -> None:
            coord = GroupCoordinator(broker)  # type: ignore[arg-type]
            coord.start()
            # client name -> [member id, epoch, owned, subscription]; m3 and m4 are static members
            clients: dict[str, list] = {}
            incarnation = [0]

            def instance(name: str) -> str | None:
                return f"i-{name}" if name in ("m3", "m4") else None

            def check() -> None:
                seen: set[tuple[uuid.UUID, int]] = set()
                for _mid, _e, owned, _s in clients.values():
                    for tid, ps in owned.items():
                        for p in ps:
                            assert (tid, p) not in seen
                            seen.add((tid, p))
                cg = coord.groups["g"].consumer if "g" in coord.groups else None
                if cg is not None:
                    held: set[tuple[uuid.UUID, int]] = set()
                    for m in cg.members.values():
                        for a in (m.assigned, m.pending_revocation):
                            for tid, ps in a.items():
                                for p in ps:
                                    assert (tid, p) not in held
                                    held.add((tid, p))
                    assert held == set(cg.partition_epochs)

            def join(name: str, subs: tuple[str, ...]) -> None:
                incarnation[0] += 1
                mid = f"{name}-{incarnation[0]}"
                r = coord.consumer.heartbeat(1, "g", mid, 0, instance(name), None, 30000, "c", "/h", subs, None,
                                             assignor, {})
                assert r.error == 0, r
                clients[name] = [mid, r.member_epoch, dict(r.assignment or {}), subs]
                check()

            def beat(name: str, null: bool = False, names: tuple[str, ...] | None = None) -> None:
                mid, epoch, owned, subs = clients[name]
                r = coord.consumer.heartbeat(1, "g", mid, epoch, instance(name), None, -1, "c", "/h", names, None,
                                             None, None if null else owned)
                assert r.error == 0, r
                clients[name] = [mid, r.member_epoch, dict(r.assignment) if r.assignment is not None else owned,
                                 names or subs]
                check()

            def leave(name: str, epoch: int) -> None:
                r = coord.consumer.heartbeat(1, "g", clients[name][0], epoch, instance(name), None, -1, "c", "/h",
                                             None, None, None, None)
                assert (r.error, r.member_epoch) == (0, epoch)
                del clients[name]
                check()

            for op, i, subs in script:
                name = f"m{i}"
                if op == "join" and name not in clients:
                    join(name, subs)
                elif name not in clients:
                    continue
                elif op in ("hb", "hb_null"):
                    beat(name, op == "hb_null")
                elif op == "resubscribe":
                    beat(name, names=subs)
                elif op == "leave":
                    leave(name, -1)
                elif op == "expire":                         # the client vanished; its session runs out
                    group = coord.groups["g"]
                    assert group.consumer is not None
                    coord.consumer._session_expired(group, group.consumer, group.consumer.members[clients[name][0]])
                    del clients[name]
                    check()
                elif op == "bounce" and instance(name) is not None:    # static restart: leave -2, new member id
                    keep = clients[name][3]
                    leave(name, -2)
                    join(name, keep)
            for _ in range(6):
                for name in sorted(clients):
                    beat(name)
            if clients:
                cg = coord.groups["g"].consumer
                assert cg is not None and cg.state_name() == "Stable"
                wanted = {s for _m, _e, _o, subs in clients.values() for s in subs}
                owned_all = {(tid, p) for _m, _e, owned, _s in clients.values() for tid, ps in owned.items()
                             for p in ps}
                total = sum(logs.topics[t].num_partitions for t in wanted)
                assert len(owned_all) == total
            served = _state(coord)
            await coord.stop()
            again = GroupCoordinator(broker)  # type: ignore[arg-type]
            again.start()
            while again.loading:
                await asyncio.sleep(0)
            assert _state(again) == served            # what is loaded is what was served
            await again.stop()

        asyncio.run(scenario())
        logs.close()


# -- classic members in a consumer group (online migration) ------------------------------------

def test_classic_member_metadata_is_tagged_field_0() -> None:
    """ClassicMemberMetadata as Kafka's generated code writes a nullable struct in a tagged field:
    tag, size, 1 (not null), SessionTimeoutMs, SupportedProtocols [Name, Metadata], tagged fields."""
    classic = crec.ClassicMemberMetadata(10000, (("range", b"\x00\x01"),))
    meta = crec.MemberMetadataRecord(None, None, "c", "/h", ("t",), None, 30000, None, classic)
    value = crec.encode_value(crec.MEMBER_METADATA, meta)
    plain = crec.encode_value(crec.MEMBER_METADATA, crec.MemberMetadataRecord(None, None, "c", "/h", ("t",), None,
                                                                             30000, None))
    struct_ = b"\x01" + (10000).to_bytes(4, "big") + b"\x02" + b"\x06range" + b"\x03\x00\x01" + b"\x00" + b"\x00"
    assert value == plain[:-1] + b"\x01" + b"\x00" + bytes([len(struct_)]) + struct_
    assert crec.decode_value(crec.MEMBER_METADATA, value) == meta
    assert crec.decode_value(crec.MEMBER_METADATA, plain).classic is None


def test_embedded_consumer_protocol() -> None:
    sub_v0 = b"\x00\x00" + b"\x00\x00\x00\x01" + b"\x00\x01t" + b"\xff\xff\xff\xff"
    assert crec.parse_subscription(sub_v0) == crec.Subscription(0, ("t",), {}, None)
    sub_v3 = b"\x00\x03" + b"\x00\x00\x00\x01" + b"\x00\x01t" + b"\x00\x00\x00\x00" + \
        b"\x00\x00\x00\x01" + b"\x00\x01t" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x03" + \
        b"\x00\x00\x00\x07" + b"\x00\x02r1"
    assert crec.parse_subscription(sub_v3) == crec.Subscription(3, ("t",), {"t": frozenset({0, 3})}, "r1")
    data = crec.encode_assignment({"t": frozenset({2, 1})}, 7)           # versions above 3 are written as 3
    assert data == b"\x00\x03" + b"\x00\x00\x00\x01" + b"\x00\x01t" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x01" + \
        b"\x00\x00\x00\x02" + b"\xff\xff\xff\xff"
    assert crec.parse_assignment(data) == {"t": frozenset({1, 2})} and crec.parse_assignment(b"") == {}
    assert crec.protocol_version(sub_v3) == 3


def test_classic_protocols_a_new_classic_member_must_share() -> None:
    cg = ConsumerGroup("g")
    assert cg.supports_classic("consumer", {"range"}) and not cg.supports_classic("connect", {"range"})
    tid = uuid.uuid4()
    cg.replay(crec.MEMBER_METADATA, "k", crec.MemberMetadataRecord(
        None, None, "c", "/h", ("t",), None, 1000, None, crec.ClassicMemberMetadata(6000, (("range", b""),
                                                                                            ("roundrobin", b"")))))
    cg.replay(crec.MEMBER_METADATA, "n", crec.MemberMetadataRecord(None, None, "c", "/h", ("t",), None, 1000, None))
    assert cg.supports_classic("consumer", {"roundrobin", "sticky"}) and not cg.supports_classic("consumer", {"x"})
    cg.replay(crec.TARGET_MEMBER, "k", {tid: frozenset({0, 1})})
    cg.replay(crec.CURRENT_ASSIGNMENT, "k", crec.CurrentAssignmentRecord(2, 1, int(MemberState.UNRELEASED_PARTITIONS),
                                                                         {tid: frozenset({0})}, {}))
    cg.replay(crec.CURRENT_ASSIGNMENT, "n", crec.CurrentAssignmentRecord(1, 1, int(MemberState.UNREVOKED_PARTITIONS),
                                                                         {}, {tid: frozenset({1})}))
    assert cg.waiting_on_unreleased(cg.members["k"])                  # partition 1 is still n's
    cg.replay(crec.CURRENT_ASSIGNMENT, "n", crec.CurrentAssignmentRecord(2, 1, int(MemberState.STABLE), {}, {}))
    assert not cg.waiting_on_unreleased(cg.members["k"])
