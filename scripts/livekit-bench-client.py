"""Load for livekit/bench.sh and livekit/load.sh: in each of LK_ROOMS rooms (1),
LK_PUBLISHERS participants each publish a microphone track (a 440 Hz tone) and a camera
track (solid-colour frames, LK_WIDTH x LK_HEIGHT, 320x240, 15 fps; simulcast when
LK_SIMULCAST=1) and mute/unmute the microphone every LK_MUTE_EVERY seconds (1: two
analytics events per second each); one more participant per room subscribes to
everything. Runs until LK_DURATION seconds have passed, then everyone leaves and the rooms
are deleted."""

import asyncio
import math
import os
import sys
import time

import numpy as np
from livekit import api, rtc

WIDTH = int(os.environ.get("LK_WIDTH", "320"))
HEIGHT = int(os.environ.get("LK_HEIGHT", "240"))
FPS = 15
SIMULCAST = os.environ.get("LK_SIMULCAST", "0") == "1"
MUTE_EVERY = float(os.environ.get("LK_MUTE_EVERY", "1"))


async def publisher(url: str, token: str, until: float) -> float:
    """Joins, publishes until `until` and leaves; returns the video frames per second it
    managed to capture (FPS when the machine keeps up)."""
    room = rtc.Room()
    await asyncio.wait_for(room.connect(url, token), 30)
    audio_source = rtc.AudioSource(48000, 1)
    audio = rtc.LocalAudioTrack.create_audio_track("mic", audio_source)
    await room.local_participant.publish_track(
        audio, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    video_source = rtc.VideoSource(WIDTH, HEIGHT)
    video = rtc.LocalVideoTrack.create_video_track("cam", video_source)
    await room.local_participant.publish_track(
        video, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=SIMULCAST))

    async def tone() -> None:
        frame = rtc.AudioFrame.create(48000, 1, 480)
        samples = np.frombuffer(frame.data, dtype=np.int16)
        np.copyto(samples, (np.sin(2 * math.pi * 440 * np.arange(480) / 48000) * 8000).astype(np.int16))
        while time.monotonic() < until:
            await audio_source.capture_frame(frame)

    async def frames() -> None:
        colours = [rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, bytes([*c, 255]) * (WIDTH * HEIGHT))
                   for c in ((200, 30, 30), (30, 200, 30), (30, 30, 200))]
        n = 0
        start = time.monotonic()
        while time.monotonic() < until:
            video_source.capture_frame(colours[(n // FPS) % 3])
            n += 1
            await asyncio.sleep(1 / FPS)
        return n / max(time.monotonic() - start, 1e-9)

    async def mutes() -> None:
        while time.monotonic() < until:
            await asyncio.sleep(MUTE_EVERY / 2)
            audio.mute()
            await asyncio.sleep(MUTE_EVERY / 2)
            audio.unmute()

    _, fps, _ = await asyncio.gather(tone(), frames(), mutes())
    await room.disconnect()
    return fps


async def main() -> None:
    http_url = os.environ["LK_URL"]
    ws_url = http_url.replace("http://", "ws://")
    key, secret = os.environ["LK_API_KEY"], os.environ["LK_API_SECRET"]
    n = int(os.environ.get("LK_PUBLISHERS", "4"))
    rooms = int(os.environ.get("LK_ROOMS", "1"))
    until = time.monotonic() + float(os.environ.get("LK_DURATION", "60"))
    names = ["bench-room"] if rooms == 1 else [f"load-room-{r}" for r in range(rooms)]

    def token(room_name: str, identity: str) -> str:
        grants = api.VideoGrants(room_join=True, room=room_name)
        return api.AccessToken(key, secret).with_identity(identity).with_grants(grants).to_jwt()

    lkapi = api.LiveKitAPI(http_url, key, secret)
    viewers = []
    for name in names:
        await lkapi.room.create_room(api.CreateRoomRequest(name=name))
        viewer = rtc.Room()
        await asyncio.wait_for(viewer.connect(ws_url, token(name, "viewer")), 30)
        viewers.append(viewer)
    print(f"bench client: {len(names)} room(s) of {n} publishers until the deadline",
          file=sys.stderr, flush=True)
    rates = await asyncio.gather(*(publisher(ws_url, token(name, f"pub-{i}"), until)
                                   for name in names for i in range(n)))
    # Whether the clients kept up: a publisher that captures fewer than FPS frames a
    # second is starved of CPU (the load then no longer grows with N x M).
    print(f"bench client: video fps min {min(rates):.1f} mean {sum(rates) / len(rates):.1f} "
          f"(target {FPS})", file=sys.stderr, flush=True)
    for viewer in viewers:
        await viewer.disconnect()
    for name in names:
        await lkapi.room.delete_room(api.DeleteRoomRequest(room=name))
    await lkapi.aclose()


if __name__ == "__main__":
    asyncio.run(main())
