"""notify-keyspace-events classes: parsing and Redis's canonical spelling (keyspace/notify.py)."""

from __future__ import annotations

import pytest

from keystream.keyspace.notify import EVENT_CLASSES, parse_classes, render_classes


@pytest.mark.parametrize(("text", "canonical"), [
    ("", ""), ("KEA", "AKE"), ("AKE", "AKE"), ("gKE$", "g$KE"), ("EKg$lshzxetd", "AKE"),
    ("lshzxetdg$", "A"), ("n", "n"), ("m", "m"), ("AmnKE", "AKEm"), ("xe", "xe"), ("Ag", "A"),
    ("d", "d"), ("tn", "tn"),
])
def test_canonical_spelling(text: str, canonical: str) -> None:
    assert render_classes(parse_classes(text)) == canonical


@pytest.mark.parametrize("text", ["Q", "KE!", "a", " "])
def test_bad_letters(text: str) -> None:
    with pytest.raises(ValueError, match="Invalid event class character"):
        parse_classes(text)


def test_every_event_has_one_class_letter() -> None:
    for event, cls in EVENT_CLASSES.items():
        assert cls and cls & (cls - 1) == 0, event
