"""Load for livekit/bench.sh: LK_PUBLISHERS participants each publish a microphone track
(a 440 Hz tone) and a camera track (solid-colour frames, 320x240, 15 fps) and mute/unmute
the microphone every second (two analytics events per second each); one more participant
subscribes to everything. Runs until LK_DURATION seconds have passed, then everyone leaves
and the room is deleted."""

import asyncio
import math
import os
import sys
import time

import numpy as np
from livekit import api, rtc

WIDTH, HEIGHT, FPS = 320, 240, 15


async def publisher(url: str, token: str, until: float) -> None:
    room = rtc.Room()
    await asyncio.wait_for(room.connect(url, token), 30)
    audio_source = rtc.AudioSource(48000, 1)
    audio = rtc.LocalAudioTrack.create_audio_track("mic", audio_source)
    await room.local_participant.publish_track(
        audio, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    video_source = rtc.VideoSource(WIDTH, HEIGHT)
    video = rtc.LocalVideoTrack.create_video_track("cam", video_source)
    await room.local_participant.publish_track(
        video, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=False))

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
        while time.monotonic() < until:
            video_source.capture_frame(colours[(n // FPS) % 3])
            n += 1
            await asyncio.sleep(1 / FPS)

    async def mutes() -> None:
        while time.monotonic() < until:
            await asyncio.sleep(0.5)
            audio.mute()
            await asyncio.sleep(0.5)
            audio.unmute()

    await asyncio.gather(tone(), frames(), mutes())
    await room.disconnect()


async def main() -> None:
    http_url = os.environ["LK_URL"]
    ws_url = http_url.replace("http://", "ws://")
    key, secret = os.environ["LK_API_KEY"], os.environ["LK_API_SECRET"]
    n = int(os.environ.get("LK_PUBLISHERS", "4"))
    until = time.monotonic() + float(os.environ.get("LK_DURATION", "60"))
    room_name = "bench-room"

    def token(identity: str) -> str:
        grants = api.VideoGrants(room_join=True, room=room_name)
        return api.AccessToken(key, secret).with_identity(identity).with_grants(grants).to_jwt()

    lkapi = api.LiveKitAPI(http_url, key, secret)
    await lkapi.room.create_room(api.CreateRoomRequest(name=room_name))
    viewer = rtc.Room()
    await asyncio.wait_for(viewer.connect(ws_url, token("viewer")), 30)
    print(f"bench client: {n} publishers until the deadline", file=sys.stderr, flush=True)
    await asyncio.gather(*(publisher(ws_url, token(f"pub-{i}"), until) for i in range(n)))
    await viewer.disconnect()
    await lkapi.room.delete_room(api.DeleteRoomRequest(room=room_name))
    await lkapi.aclose()


if __name__ == "__main__":
    asyncio.run(main())
