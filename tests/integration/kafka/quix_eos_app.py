"""A quixstreams application with processing_guarantee="exactly-once", run as a subprocess by
test_quixstreams.py: consume JSON {"n": int} from the input topic, count records per key in a
state store (changelogged), produce {"n": n, "count": running count of the key} to the output.

Usage: python quix_eos_app.py BOOTSTRAP INPUT OUTPUT GROUP STATE_DIR TIMEOUT_S
It stops after TIMEOUT_S seconds without a new message (quixstreams' run(timeout=...)).
"""

from __future__ import annotations

import sys
from typing import Any

from quixstreams import Application, State


def main() -> None:
    bootstrap, input_topic, output_topic, group, state_dir, timeout = sys.argv[1:7]
    app = Application(broker_address=bootstrap, consumer_group=group, auto_offset_reset="earliest",
                      processing_guarantee="exactly-once", state_dir=state_dir, commit_interval=0.5,
                      loglevel="WARNING")
    source = app.topic(input_topic, value_deserializer="json")
    sink = app.topic(output_topic, value_serializer="json")

    def count(value: dict[str, Any], state: State) -> dict[str, Any]:
        seen = int(state.get("count", 0)) + 1
        state.set("count", seen)
        return {"n": value["n"], "count": seen}

    sdf = app.dataframe(source).apply(count, stateful=True)
    sdf.to_topic(sink)
    app.run(timeout=float(timeout))


if __name__ == "__main__":
    main()
