"""A recording relay for the analytics export end-to-end test, so that it can deliver the
same messages a second time.

  livekit-export-tap.py serve PORT UPSTREAM RECORD
      listens on 127.0.0.1:PORT for livekit.AnalyticsRecorderService client streams,
      forwards every stream to UPSTREAM (host:port) message by message with the caller's
      `authorization` metadata, answers with UPSTREAM's answer (so the caller's
      acknowledgements stay the host's), and appends every message, as received, to RECORD;
  livekit-export-tap.py replay UPSTREAM RECORD TOKEN
      sends every recorded message to UPSTREAM again (one stream per method, in order) and
      prints {"events": n, "stats": n, "node_rooms": n, "messages": n} (records replayed).

Messages stay bytes: nothing is decoded on the way, only counted on replay."""

import json
import struct
import sys
import threading
from concurrent import futures

import grpc

SERVICE = "/livekit.AnalyticsRecorderService/"
METHODS = ["IngestEvents", "IngestStats", "IngestNodeRoomStates"]


def serve(port: int, upstream: str, record: str) -> None:
    channel = grpc.insecure_channel(upstream)
    lock = threading.Lock()
    out = open(record, "ab", buffering=0)

    def handler(method: str):
        call = channel.stream_unary(SERVICE + method)  # bytes in, bytes out

        def forward(request_iterator, context):
            metadata = [(k, v) for k, v in context.invocation_metadata() if k == "authorization"]

            def messages():
                for message in request_iterator:
                    with lock:
                        out.write(struct.pack(">BI", METHODS.index(method), len(message)) + message)
                    yield message

            try:
                return call(messages(), metadata=metadata)
            except grpc.RpcError as err:
                context.abort(err.code(), err.details() or "")

        return grpc.stream_unary_rpc_method_handler(forward)

    handlers = {m: handler(m) for m in METHODS}
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("livekit.AnalyticsRecorderService", handlers)]
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


def replay(upstream: str, record: str, token: str) -> None:
    from livekit.protocol import analytics

    recorded = {m: [] for m in METHODS}
    with open(record, "rb") as f:
        data = f.read()
    at = 0
    while at < len(data):
        index, length = struct.unpack_from(">BI", data, at)
        at += 5
        recorded[METHODS[index]].append(data[at : at + length])
        at += length
    channel = grpc.insecure_channel(upstream)
    metadata = [("authorization", f"Bearer {token}")] if token else []
    for method, messages in recorded.items():
        if messages:
            channel.stream_unary(SERVICE + method)(iter(messages), metadata=metadata, timeout=30)
    print(json.dumps({
        "events": sum(len(analytics.AnalyticsEvents.FromString(m).events) for m in recorded["IngestEvents"]),
        "stats": sum(len(analytics.AnalyticsStats.FromString(m).stats) for m in recorded["IngestStats"]),
        "node_rooms": len(recorded["IngestNodeRoomStates"]),
        "messages": sum(len(v) for v in recorded.values()),
    }))


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        replay(sys.argv[2], sys.argv[3], sys.argv[4])
