"""Quality watcher: a livekit:analytics sink plugin written in Python.

It stores nothing. It keeps a rolling average of the connection-quality `score`
of each participant (over its last `window` scored stats, up- and downstream
together) and of each room (the mean of its participants' averages), and logs a
warning through the host's `log` import when one drops under `threshold`:
once per drop; it re-arms when the average recovers to `threshold + hysteresis`
(and logs that at info level).

State lives in module globals: componentize-py creates a fresh object for each
exported call, and the host keeps one instance alive between batches (a rebuilt
instance starts from scratch, which only forgets the averages).
"""

from collections import deque

import componentize_py_types
from wit_world import WitWorld as _WitWorldProtocol  # noqa: F401  (documents the world)
from wit_world.imports import log
from wit_world.imports.log import Level

# ---- configuration (set by initialize_database) -------------------------------
DEFAULTS = {
    "threshold": 3.0,     # alert when the average score is under this (1.0 .. 5.0)
    "hysteresis": 0.25,   # re-arm when the average is back at threshold + hysteresis
    "window": 10,         # scored stats per participant in its rolling average
    "min_samples": 3,     # scored stats a participant needs before it is judged
    "scope": "both",      # "room", "participant" or "both"
    "idle_seconds": 600,  # forget a participant whose last stat is older than this
}
CFG = dict(DEFAULTS)

# ---- state ----------------------------------------------------------------------
# (room_id, participant_id) -> {"scores": deque, "last": seconds, "name": room name}
PARTICIPANTS = {}
# set of keys currently under the threshold (alert sent, not yet recovered):
# ("room", room_id) or ("participant", room_id, participant_id)
ALERTED = set()
ROOM_NAMES = {}
STATS_SEEN = 0


def _log(level, msg):
    log.log(level, msg)


def _parse_config(config):
    cfg = dict(DEFAULTS)
    known = set(DEFAULTS)
    for key, value in config:
        if key not in known:
            raise componentize_py_types.Err(
                f"unknown config key {key!r} (known: {', '.join(sorted(known))})")
        if key == "scope":
            if value not in ("room", "participant", "both"):
                raise componentize_py_types.Err(
                    f"config scope: {value!r} is not one of room, participant, both")
            cfg[key] = value
            continue
        try:
            number = float(value) if key in ("threshold", "hysteresis") else int(value)
        except ValueError:
            raise componentize_py_types.Err(f"config {key}: {value!r} is not a number")
        if number < 0 or (key in ("window", "min_samples") and number < 1):
            raise componentize_py_types.Err(f"config {key}: {value!r} is out of range")
        cfg[key] = number
    if cfg["min_samples"] > cfg["window"]:
        raise componentize_py_types.Err("config min_samples must not exceed window")
    return cfg


def _check(key, label, average, over):
    """Fire once when `average` drops under the threshold, re-arm on recovery."""
    threshold = CFG["threshold"]
    if key in ALERTED:
        if average >= threshold + CFG["hysteresis"]:
            ALERTED.discard(key)
            _log(Level.INFO, f"quality recovered: {label} average score {average:.2f} "
                             f">= {threshold + CFG['hysteresis']:.2f}")
    elif average < threshold:
        ALERTED.add(key)
        _log(Level.WARN, f"quality dropped: {label} average score {average:.2f} < "
                         f"{threshold:.2f} (over {over})")


def _room_label(room_id):
    name = ROOM_NAMES.get(room_id, "")
    return f"room {name!r} ({room_id})" if name else f"room {room_id}"


def _forget_room(room_id):
    for key in [k for k in PARTICIPANTS if k[0] == room_id]:
        del PARTICIPANTS[key]
    for key in [k for k in ALERTED if k[1] == room_id]:
        ALERTED.discard(key)
    ROOM_NAMES.pop(room_id, None)


def _forget_participant(room_id, participant_id):
    PARTICIPANTS.pop((room_id, participant_id), None)
    ALERTED.discard(("participant", room_id, participant_id))


class WitWorld:
    def initialize_database(self, config):
        global CFG
        CFG = _parse_config(config)
        PARTICIPANTS.clear()
        ALERTED.clear()
        ROOM_NAMES.clear()
        _log(Level.INFO, "quality watcher ready: threshold {threshold}, window {window}, "
                         "scope {scope}".format(**CFG))

    def send_batch(self, events, stats):
        global STATS_SEEN
        # Rooms and participants that are gone are forgotten (and re-armed).
        for ev in events:
            if ev.event_type in ("ROOM_ENDED",):
                _forget_room(ev.room_sid)
            elif ev.event_type in ("PARTICIPANT_LEFT",):
                _forget_participant(ev.room_sid, ev.participant_sid)

        touched_rooms = set()
        newest = None
        for st in stats:
            STATS_SEEN += 1
            if st.score <= 0.0 or not st.room_id:
                continue  # no score in this stat
            key = (st.room_id, st.participant_id)
            entry = PARTICIPANTS.get(key)
            if entry is None:
                entry = {"scores": deque(maxlen=CFG["window"]), "last": 0}
                PARTICIPANTS[key] = entry
            entry["scores"].append(st.score)
            entry["last"] = max(entry["last"], st.timestamp.seconds)
            newest = st.timestamp.seconds if newest is None else max(newest, st.timestamp.seconds)
            if st.room_name:
                ROOM_NAMES[st.room_id] = st.room_name
            touched_rooms.add(st.room_id)

        # Forget participants that stopped sending stats long ago.
        if newest is not None:
            horizon = newest - CFG["idle_seconds"]
            for key in [k for k, e in PARTICIPANTS.items() if e["last"] < horizon]:
                _forget_participant(*key)

        scope = CFG["scope"]
        for room_id in sorted(touched_rooms):
            averages = []
            for (rid, pid), entry in PARTICIPANTS.items():
                if rid != room_id or len(entry["scores"]) < CFG["min_samples"]:
                    continue
                avg = sum(entry["scores"]) / len(entry["scores"])
                averages.append(avg)
                if scope in ("participant", "both"):
                    _check(("participant", rid, pid),
                           f"participant {pid} in {_room_label(rid)}", avg,
                           f"its last {len(entry['scores'])} stats")
            if averages and scope in ("room", "both"):
                _check(("room", room_id), _room_label(room_id),
                       sum(averages) / len(averages), f"{len(averages)} participants")
        # Never fails: a watcher has nothing to retry.
