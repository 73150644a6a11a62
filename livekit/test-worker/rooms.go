package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/twitchtv/twirp"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
)

// roomLookup finds a room's sid through livekit-server's RoomService, as an ingress
// learns it when it joins the room (the test worker joins none). A nil roomLookup finds
// nothing.
type roomLookup struct {
	client      livekit.RoomService
	key, secret string
}

func newRoomLookup(url, key, secret string) *roomLookup {
	if url == "" || key == "" || secret == "" {
		return nil
	}
	return &roomLookup{
		client: livekit.NewRoomServiceProtobufClient(url, &http.Client{Timeout: 10 * time.Second}),
		key:    key,
		secret: secret,
	}
}

// sid is the sid of the room named name ("" when there is no lookup or no such room).
func (l *roomLookup) sid(name string) (string, error) {
	if l == nil || name == "" {
		return "", nil
	}
	token, err := auth.NewAccessToken(l.key, l.secret).
		SetVideoGrant(&auth.VideoGrant{RoomList: true}).
		SetValidFor(time.Minute).
		ToJWT()
	if err != nil {
		return "", fmt.Errorf("signing a token: %w", err)
	}
	header := http.Header{}
	header.Set("Authorization", "Bearer "+token)
	ctx, err := twirp.WithHTTPRequestHeaders(context.Background(), header)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rooms, err := l.client.ListRooms(ctx, &livekit.ListRoomsRequest{Names: []string{name}})
	if err != nil {
		return "", fmt.Errorf("listing room %s: %w", name, err)
	}
	for _, room := range rooms.Rooms {
		if room.Name == name {
			return room.Sid, nil
		}
	}
	return "", nil
}
