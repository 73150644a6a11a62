"""Reads what the analytics export end-to-end test stored and checks it.

  livekit-export-check.py ready STORE IDS WHAT   exit 0 once WHAT is stored (subscribed,
                                                 stats, room_ended, node_rooms)
  livekit-export-check.py check STORE IDS        every expected event with its ids, stats
                                                 with scores, node room snapshots, no
                                                 happening stored twice; prints a summary
  livekit-export-check.py counts STORE           {collection: {"docs", "distinct"}} as JSON
  livekit-export-check.py check-events-stats STORE IDS
                                                 `check` without node rooms (Redis and the
                                                 plugins store events and stats only)
  livekit-export-check.py api TELEMETRY_URL IDS  the host's read API tells the session: the
                                                 room listed and ended, its participants and
                                                 tracks, quality series with scores

STORE is the embedded store's directory (or a plugin's JSON Lines folder, same layout), a
mongodb:// URL (needs pymongo): then the `openvidu` database, or a redis://HOST:PORT URL:
the `event:*` and `stat:*` keys. IDS is the client's ids.json."""

import glob
import json
import os
import socket
import sys
from collections import Counter

COLLECTIONS = ["events", "stats", "node_rooms"]


def redis_call(sock, reader, *args) -> object:
    """One RESP command on an open connection."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)

    def read():
        line = reader.readline()
        kind, rest = line[:1], line[1:-2]
        if kind in (b"+", b":"):
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else reader.read(n + 2)[:-2]
        if kind == b"*":
            return [read() for _ in range(int(rest))]
        raise RuntimeError(f"bad reply {line!r}")

    return read()


def load_redis(url: str) -> dict:
    host, port = url[len("redis://"):].rstrip("/").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    reader = sock.makefile("rb")
    docs = {c: [] for c in COLLECTIONS}
    for collection, prefix in (("events", "event:"), ("stats", "stat:")):
        cursor = "0"
        while True:
            cursor, keys = redis_call(sock, reader, "SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000")
            cursor = cursor.decode()
            for key in keys:
                value = redis_call(sock, reader, "GET", key)
                docs[collection].append(json.loads(value))
            if cursor == "0":
                break
    sock.close()
    return docs


def load(store: str) -> dict:
    if store.startswith("redis://"):
        return load_redis(store)
    if store.startswith("mongodb://"):
        import pymongo

        db = pymongo.MongoClient(store, serverSelectionTimeoutMS=10000)["openvidu"]
        return {c: list(db[c].find()) for c in COLLECTIONS}
    docs = {}
    for c in COLLECTIONS:
        docs[c] = []
        for path in sorted(glob.glob(os.path.join(store, f"{c}-*.jsonl"))):
            with open(path) as f:
                docs[c] += [json.loads(line) for line in f if line.strip()]
    return docs


def room_events(docs: dict, ids: dict) -> list:
    sid = ids["room_sid"]
    return [d for d in docs["events"] if d.get("room", {}).get("sid") == sid or d.get("room_id") == sid]


def room_stats(docs: dict, ids: dict) -> list:
    return [s for s in docs["stats"] if s.get("room_id") == ids["room_sid"]]


def stats_complete(docs: dict, ids: dict) -> list:
    """What is missing: for each track, an UPSTREAM stat of alice and a DOWNSTREAM stat of
    bob with a score between 1 and 5."""
    stats = room_stats(docs, ids)
    missing = []
    alice, bob = ids["participants"]["alice"], ids["participants"]["bob"]
    for name, track in ids["tracks"].items():
        for kind, who in (("UPSTREAM", alice), ("DOWNSTREAM", bob)):
            ok = [s for s in stats if s.get("track_id") == track and s.get("kind") == kind
                  and s.get("participant_id") == who and 1 <= (s.get("score") or 0) <= 5]
            if not ok:
                seen = [(s.get("kind"), s.get("participant_id"), s.get("score"))
                        for s in stats if s.get("track_id") == track]
                missing.append(f"{name} {kind} stat of {who} with a score in [1, 5] (got {seen})")
    return missing


def node_rooms_with_room(docs: dict, ids: dict) -> list:
    return [d for d in docs["node_rooms"]
            if any(r.get("id") == ids["room_sid"] for r in d.get("rooms") or [])]


def ready(store: str, ids_file: str, what: str) -> bool:
    if not os.path.exists(ids_file):
        return False
    ids = json.load(open(ids_file))
    docs = load(store)
    events = room_events(docs, ids)
    if what == "subscribed":
        tracks = {e.get("track_id") for e in events if e["type"] == "TRACK_SUBSCRIBED"}
        return set(ids["tracks"].values()) <= tracks
    if what == "stats":
        return not stats_complete(docs, ids)
    if what == "room_ended":
        return any(e["type"] == "ROOM_ENDED" for e in events)
    if what == "node_rooms":
        return bool(node_rooms_with_room(docs, ids))
    raise SystemExit(f"unknown condition {what}")


# (type, participant, track): each happening of the session, stored exactly once.
def expected(ids: dict) -> list:
    a, b = ids["participants"]["alice"], ids["participants"]["bob"]
    ta, tv = ids["tracks"]["audio"], ids["tracks"]["video"]
    return [
        ("ROOM_CREATED", None, None),
        ("ROOM_ENDED", None, None),
        ("PARTICIPANT_JOINED", a, None), ("PARTICIPANT_JOINED", b, None),
        ("PARTICIPANT_ACTIVE", a, None), ("PARTICIPANT_ACTIVE", b, None),
        ("PARTICIPANT_LEFT", a, None), ("PARTICIPANT_LEFT", b, None),
        ("TRACK_PUBLISH_REQUESTED", a, ta), ("TRACK_PUBLISH_REQUESTED", a, tv),
        ("TRACK_PUBLISHED", a, ta), ("TRACK_PUBLISHED", a, tv),
        ("TRACK_SUBSCRIBE_REQUESTED", b, ta), ("TRACK_SUBSCRIBE_REQUESTED", b, tv),
        ("TRACK_SUBSCRIBED", b, ta), ("TRACK_SUBSCRIBED", b, tv),
        ("TRACK_MUTED", a, ta), ("TRACK_UNMUTED", a, ta),
        ("TRACK_UNPUBLISHED", a, ta), ("TRACK_UNPUBLISHED", a, tv),
        ("TRACK_UNSUBSCRIBED", b, ta), ("TRACK_UNSUBSCRIBED", b, tv),
    ]


# RTP stats events, sent when a track closes: at least one per layer.
def expected_some(ids: dict) -> list:
    a, b = ids["participants"]["alice"], ids["participants"]["bob"]
    ta, tv = ids["tracks"]["audio"], ids["tracks"]["video"]
    return [("TRACK_PUBLISH_STATS", a, ta), ("TRACK_PUBLISH_STATS", a, tv),
            ("TRACK_SUBSCRIBE_STATS", b, ta), ("TRACK_SUBSCRIBE_STATS", b, tv)]


def check(store: str, ids_file: str, node_rooms: bool = True) -> list:
    ids = json.load(open(ids_file))
    docs = load(store)
    events = room_events(docs, ids)
    failures = []
    happenings = Counter((e["type"], e.get("participant_id") or None, e.get("track_id") or None)
                         for e in events)
    for key in expected(ids):
        n = happenings[key]
        if n != 1:
            failures.append(f"{key}: stored {n} times, expected once")
    for key in expected_some(ids):
        if happenings[key] < 1:
            failures.append(f"{key}: not stored")
    for e in events:
        if "turn_password" in e.get("room", {}):
            failures.append(f"{e['type']}: the room's turn_password left the node")
        if e.get("room", {}).get("name", ids["room_name"]) != ids["room_name"]:
            failures.append(f"{e['type']}: room name {e['room'].get('name')!r}")
        if not e.get("node_id", "").startswith("ND_"):
            failures.append(f"{e['type']}: node_id {e.get('node_id')!r}")
    failures += stats_complete(docs, ids)
    snapshots = node_rooms_with_room(docs, ids) if node_rooms else []
    if not node_rooms:
        pass
    elif not snapshots:
        failures.append("no node_rooms snapshot lists the room")
    else:
        people = {p.get("id") for d in snapshots for r in d["rooms"] if r.get("id") == ids["room_sid"]
                  for p in r.get("participants") or []}
        if not set(ids["participants"].values()) <= people:
            failures.append(f"node_rooms: participants {people}, expected {ids['participants']}")
    for c in COLLECTIONS:
        all_ids = [d["_id"] for d in docs[c]]
        if len(all_ids) != len(set(all_ids)):
            failures.append(f"{c}: {len(all_ids) - len(set(all_ids))} _id(s) stored twice")
    stats = room_stats(docs, ids)
    print(json.dumps({
        "events_of_the_room": len(events),
        "event_types": dict(sorted(Counter(e["type"] for e in events).items())),
        "stats_of_the_room": len(stats),
        "stats": sorted((s["kind"], s["track_id"], round(s.get("score", 0), 2)) for s in stats),
        "node_rooms": len(docs["node_rooms"]),
        "node_rooms_listing_the_room": len(snapshots),
    }))
    return failures


def api(base: str, ids: dict) -> list:
    """What the host's read API answers about the session (from MongoDB when configured)."""
    import time
    import urllib.request

    def get(path):
        with urllib.request.urlopen(base + path, timeout=10) as answer:
            return json.load(answer)

    failures = []
    sid = ids["room_sid"]
    now = int(time.time())
    listed = [r for r in get(f"/api/rooms?from={now - 3600}&to={now + 60}")["rooms"] if r["sid"] == sid]
    if not listed:
        return [f"/api/rooms does not list {sid}"]
    room = listed[0]
    if room["open"] or room["name"] != ids["room_name"]:
        failures.append(f"/api/rooms: {room}")
    if room["participants"] < 2 or room["tracks"] < 2 or room["worst_score"] is None:
        failures.append(f"/api/rooms: participants, tracks or score missing: {room}")
    detail = get(f"/api/rooms/{sid}")
    people = {p["sid"] for p in detail["participants"]}
    if not set(ids["participants"].values()) <= people:
        failures.append(f"/api/rooms/{sid}: participants {people}, expected {ids['participants']}")
    tracks = {t["sid"] for t in detail["tracks"]}
    if not set(ids["tracks"].values()) <= tracks:
        failures.append(f"/api/rooms/{sid}: tracks {tracks}, expected {ids['tracks']}")
    if not any(p["left_at"] for p in detail["participants"]):
        failures.append(f"/api/rooms/{sid}: nobody left: {detail['participants']}")
    quality = get(f"/api/rooms/{sid}/quality?bucket=30s")
    scored = [s for s in quality["series"] if any(v is not None for v in s["score"]["mean"])]
    if not scored or not {s["track_sid"] for s in scored} <= set(ids["tracks"].values()):
        failures.append(f"/api/rooms/{sid}/quality: {quality}")
    if not failures:
        print(json.dumps({"api_room": room, "quality_series": len(quality["series"]),
                          "stats": quality["stats"]}))
    return failures


def counts(store: str) -> dict:
    docs = load(store)
    return {c: {"docs": len(docs[c]), "distinct": len({d["_id"] for d in docs[c]})} for c in COLLECTIONS}


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "ready":
        sys.exit(0 if ready(sys.argv[2], sys.argv[3], sys.argv[4]) else 1)
    if mode == "counts":
        print(json.dumps(counts(sys.argv[2])))
        sys.exit(0)
    if mode == "api":
        with open(sys.argv[3]) as f:
            problems = api(sys.argv[2], json.load(f))
        if problems:
            print("FAILED:\n  " + "\n  ".join(problems))
            sys.exit(1)
        print(f"ok: {sys.argv[2]}/api tells the session")
        sys.exit(0)
    problems = check(sys.argv[2], sys.argv[3], node_rooms=(mode == "check"))
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems))
        sys.exit(1)
    what = ", node rooms" if mode == "check" else " (no node rooms here)"
    print(f"ok: {sys.argv[2]}: every event of the session stored once with its ids, stats with scores{what}")
