"""A real LiveKit client for the end-to-end test: creates a room, joins it, publishes an
audio track, unpublishes it, leaves, deletes the room, and prints the ids it saw as JSON."""

import asyncio
import json
import os
import sys

from livekit import api, rtc


async def main() -> None:
    http_url = os.environ["LK_URL"]
    ws_url = http_url.replace("http://", "ws://")
    key = os.environ["LK_API_KEY"]
    secret = os.environ["LK_API_SECRET"]
    room_name = os.environ.get("LK_ROOM", "e2e-room")

    lkapi = api.LiveKitAPI(http_url, key, secret)
    created = await lkapi.room.create_room(api.CreateRoomRequest(name=room_name, empty_timeout=30))
    print(f"room created: {created.sid}", file=sys.stderr)

    token = (
        api.AccessToken(key, secret)
        .with_identity("alice")
        .with_grants(api.VideoGrants(room_join=True, room=room_name))
        .to_jwt()
    )
    room = rtc.Room()
    await asyncio.wait_for(room.connect(ws_url, token), 20)
    participant_sid = room.local_participant.sid
    print(f"joined as {participant_sid}", file=sys.stderr)

    source = rtc.AudioSource(48000, 1)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    publication = await asyncio.wait_for(room.local_participant.publish_track(track, options), 20)
    track_sid = publication.sid
    print(f"published {track_sid}", file=sys.stderr)
    frame = rtc.AudioFrame.create(48000, 1, 480)
    for _ in range(150):  # 1.5 s of silence, so media really flows
        await source.capture_frame(frame)
    await asyncio.sleep(1)

    await room.local_participant.unpublish_track(track_sid)
    print("unpublished", file=sys.stderr)
    await asyncio.sleep(1)
    await room.disconnect()
    print("left", file=sys.stderr)
    await asyncio.sleep(1)
    await lkapi.room.delete_room(api.DeleteRoomRequest(room=room_name))
    print("room deleted", file=sys.stderr)
    await lkapi.aclose()

    print(json.dumps({
        "room_name": room_name,
        "room_sid": created.sid,
        "participant_sid": participant_sid,
        "identity": "alice",
        "track_sid": track_sid,
    }))


if __name__ == "__main__":
    asyncio.run(main())
