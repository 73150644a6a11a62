"""Checks that the events of the end-to-end run are stored.
Usage: livekit-e2e-check.py STORE IDS_JSON
STORE is the embedded store's directory, or a mongodb:// URL (needs pymongo): then the
documents are read from the `openvidu.events` collection."""

import glob
import json
import os
import sys

store, ids_file = sys.argv[1], sys.argv[2]
ids = json.load(open(ids_file))
docs = []
if store.startswith("mongodb://"):
    import pymongo

    client = pymongo.MongoClient(store, serverSelectionTimeoutMS=10000)
    docs = list(client["openvidu"]["events"].find({"room.sid": ids["room_sid"]}))
    for d in docs:
        if not hasattr(d.get("openvidu_expire_at"), "year"):
            print(f"FAILED: {d['type']}: openvidu_expire_at is not a BSON date")
            sys.exit(1)
else:
    for path in sorted(glob.glob(os.path.join(store, "events-*.jsonl"))):
        with open(path) as f:
            docs += [json.loads(line) for line in f if line.strip()]

room = [d for d in docs if d.get("room", {}).get("sid") == ids["room_sid"]]
by_type = {}
for d in room:
    by_type.setdefault(d["type"], []).append(d)
print("stored events of the room:", {t: len(v) for t, v in sorted(by_type.items())})

failures = []


def expect(kind, **fields):
    found = by_type.get(kind, [])
    if not found:
        failures.append(f"no {kind} event")
        return
    for d in found:
        if all(d.get(k) == v for k, v in fields.items()):
            return
    failures.append(f"{kind}: none with {fields}; got {[{k: d.get(k) for k in fields} for d in found]}")


expect("ROOM_CREATED", room_id=ids["room_sid"])
expect("PARTICIPANT_ACTIVE", participant_id=ids["participant_sid"])
expect("TRACK_PUBLISHED", participant_id=ids["participant_sid"], track_id=ids["track_sid"])
expect("TRACK_UNPUBLISHED", participant_id=ids["participant_sid"], track_id=ids["track_sid"])
expect("PARTICIPANT_LEFT", participant_id=ids["participant_sid"])
expect("ROOM_ENDED", room_id=ids["room_sid"])
for d in room:
    if d.get("room", {}).get("name") != ids["room_name"]:
        failures.append(f"{d['type']}: room name {d.get('room', {}).get('name')!r}")
    if d.get("participant") and d["participant"].get("identity") != ids["identity"]:
        failures.append(f"{d['type']}: identity {d['participant'].get('identity')!r}")
ids_seen = [d["_id"] for d in room]
if len(ids_seen) != len(set(ids_seen)):
    failures.append("duplicate _id in the store (a redelivery stored twice?)")

if failures:
    print("FAILED:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("ok: every expected event is stored with the right room, participant and track ids")
