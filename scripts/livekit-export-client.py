"""A real LiveKit session for the analytics export end-to-end test.

alice publishes a microphone track (a 440 Hz tone) and a camera track (synthetic frames of
a solid colour that changes every second, 15 fps); bob subscribes to both. The script
that runs this steers it with files in LK_CTL_DIR:

  ids.json   written by the client once bob has subscribed to both tracks (the sids);
  mute       the client waits for it (at most LK_MUTE_WAIT s), then alice mutes her
             microphone, unmutes it a second later, and the client writes `muted`;
  stop       the client waits for it (at most LK_HOLD_MAX s) with media flowing, then bob
             and alice leave and the room is deleted.

Prints the ids as JSON on stdout at the end."""

import asyncio
import json
import math
import os
import sys
import time

import numpy as np
from livekit import api, rtc

WIDTH, HEIGHT, FPS = 320, 240, 15
COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]


def say(text: str) -> None:
    print(f"client: {text}", file=sys.stderr, flush=True)


async def wait_file(path: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def pump_audio(source: rtc.AudioSource, stop: asyncio.Event) -> None:
    frame = rtc.AudioFrame.create(48000, 1, 480)  # 10 ms
    samples = np.frombuffer(frame.data, dtype=np.int16)
    tone = (np.sin(2 * math.pi * 440 * np.arange(480) / 48000) * 8000).astype(np.int16)
    while not stop.is_set():
        np.copyto(samples, tone)
        await source.capture_frame(frame)  # paced by the source's queue


async def pump_video(source: rtc.VideoSource, stop: asyncio.Event) -> None:
    frames = [
        rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, bytes([*c, 255]) * (WIDTH * HEIGHT))
        for c in COLOURS
    ]
    n = 0
    while not stop.is_set():
        source.capture_frame(frames[(n // FPS) % len(frames)])
        n += 1
        await asyncio.sleep(1 / FPS)


async def main() -> None:
    http_url = os.environ["LK_URL"]
    ws_url = http_url.replace("http://", "ws://")
    key, secret = os.environ["LK_API_KEY"], os.environ["LK_API_SECRET"]
    ctl = os.environ["LK_CTL_DIR"]
    room_name = os.environ.get("LK_ROOM", "export-room")

    lkapi = api.LiveKitAPI(http_url, key, secret)
    created = await lkapi.room.create_room(api.CreateRoomRequest(name=room_name, empty_timeout=60))
    say(f"room created: {created.sid}")

    def token(identity: str) -> str:
        grants = api.VideoGrants(room_join=True, room=room_name)
        return api.AccessToken(key, secret).with_identity(identity).with_grants(grants).to_jwt()

    alice, bob = rtc.Room(), rtc.Room()
    subscribed: dict[str, str] = {}
    both = asyncio.Event()

    @bob.on("track_subscribed")
    def _on_subscribed(track, publication, participant) -> None:
        subscribed[publication.sid] = track.kind
        if len(subscribed) >= 2:
            both.set()

    await asyncio.wait_for(alice.connect(ws_url, token("alice")), 20)
    await asyncio.wait_for(bob.connect(ws_url, token("bob")), 20)
    say(f"joined: alice {alice.local_participant.sid}, bob {bob.local_participant.sid}")

    stop = asyncio.Event()
    audio_source = rtc.AudioSource(48000, 1)
    audio = rtc.LocalAudioTrack.create_audio_track("mic", audio_source)
    audio_pub = await asyncio.wait_for(alice.local_participant.publish_track(
        audio, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)), 20)
    video_source = rtc.VideoSource(WIDTH, HEIGHT)
    video = rtc.LocalVideoTrack.create_video_track("cam", video_source)
    video_pub = await asyncio.wait_for(alice.local_participant.publish_track(
        video, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA, simulcast=False)), 20)
    pumps = [asyncio.create_task(pump_audio(audio_source, stop)),
             asyncio.create_task(pump_video(video_source, stop))]
    say(f"published audio {audio_pub.sid}, video {video_pub.sid}")

    await asyncio.wait_for(both.wait(), 30)
    ids = {
        "room_name": room_name,
        "room_sid": created.sid,
        "participants": {"alice": alice.local_participant.sid, "bob": bob.local_participant.sid},
        "tracks": {"audio": audio_pub.sid, "video": video_pub.sid},
    }
    with open(os.path.join(ctl, "ids.json.tmp"), "w") as f:
        json.dump(ids, f)
    os.rename(os.path.join(ctl, "ids.json.tmp"), os.path.join(ctl, "ids.json"))
    say("bob subscribed to both tracks")

    if not await wait_file(os.path.join(ctl, "mute"), float(os.environ.get("LK_MUTE_WAIT", "30"))):
        say("no `mute` file in time; muting anyway")
    audio.mute()
    await asyncio.sleep(1)
    audio.unmute()
    await asyncio.sleep(1)
    open(os.path.join(ctl, "muted"), "w").close()
    say("muted and unmuted the microphone")

    if not await wait_file(os.path.join(ctl, "stop"), float(os.environ.get("LK_HOLD_MAX", "60"))):
        say("no `stop` file in time; leaving anyway")
    stop.set()
    await asyncio.gather(*pumps)
    await bob.disconnect()
    await alice.disconnect()
    say("both left")
    await asyncio.sleep(1)
    await lkapi.room.delete_room(api.DeleteRoomRequest(room=room_name))
    say("room deleted")
    await lkapi.aclose()
    print(json.dumps(ids))


if __name__ == "__main__":
    asyncio.run(main())
