// Golden-data corpus for livekit-analytics-host (own code, not part of the fork).
//
// This file goes, together with golden_test.go and coverage_test.go, into the
// fork's openvidu/analytics/ package directory. It only builds protobuf
// messages with the fork's pinned github.com/livekit/protocol types; it calls
// nothing of the fork.

package analytics

import (
	"math"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type corpusCase struct {
	Name string
	Kind string // "event" | "stat"
	Msg  proto.Message
}

// Base time: 2024-10-21T08:40:00Z
const t0 = int64(1729500000)

func ts(sec int64, nanos int32) *timestamppb.Timestamp {
	return &timestamppb.Timestamp{Seconds: sec, Nanos: nanos}
}

func strp(s string) *string { return &s }
func u32p(v uint32) *uint32 { return &v }
func boolp(b bool) *bool    { return &b }

const (
	roomSid   = "RM_pK8sT3mWq2Lx"
	roomName  = "daily-standup"
	partSid   = "PA_Hq7vZbN4cR2k"
	partSid2  = "PA_9fJx2LmQwE5t"
	trackSid  = "TR_VCm3xN8pQ2sZ"
	trackSid2 = "TR_AMk2pL9sW4qR"
	nodeID    = "ND_Xw3fK9aLp2Qe"
	egressID  = "EG_Tz8kLq2WmN5x"
	ingressID = "IN_Bq4nXz7PkL2m"
)

func fullRoom() *livekit.Room {
	return &livekit.Room{
		Sid:              roomSid,
		Name:             roomName,
		EmptyTimeout:     300,
		DepartureTimeout: 20,
		MaxParticipants:  50,
		CreationTime:     t0,
		EnabledCodecs: []*livekit.Codec{
			{Mime: "audio/opus"}, {Mime: "audio/red"}, {Mime: "video/VP8"},
			{Mime: "video/H264", FmtpLine: "profile-level-id=42e01f;packetization-mode=1"},
		},
		Metadata:        `{"topic":"standup","tags":["a","b"]}`,
		NumParticipants: 2,
		NumPublishers:   1,
		ActiveRecording: true,
		Version:         &livekit.TimedVersion{UnixMicro: 1729500000123456, Ticks: 3},
	}
}

func shortRoom() *livekit.Room { return &livekit.Room{Sid: roomSid, Name: roomName} }

func simulcastLayers() []*livekit.VideoLayer {
	return []*livekit.VideoLayer{
		{Quality: livekit.VideoQuality_LOW, Width: 320, Height: 180, Bitrate: 150000, Ssrc: 1111111111},
		{Quality: livekit.VideoQuality_MEDIUM, Width: 640, Height: 360, Bitrate: 500000, Ssrc: 2222222222},
		{Quality: livekit.VideoQuality_HIGH, Width: 1280, Height: 720, Bitrate: 1700000, Ssrc: 3333333333},
	}
}

func videoTrack() *livekit.TrackInfo {
	return &livekit.TrackInfo{
		Sid:       trackSid,
		Type:      livekit.TrackType_VIDEO,
		Name:      "camera",
		Width:     1280,
		Height:    720,
		Simulcast: true,
		Source:    livekit.TrackSource_CAMERA,
		Layers:    simulcastLayers(),
		MimeType:  "video/VP8",
		Mid:       "1",
		Codecs: []*livekit.SimulcastCodecInfo{
			{MimeType: "video/VP8", Mid: "1", Cid: "camera-vp8", Layers: simulcastLayers()},
		},
		Encryption: livekit.Encryption_NONE,
		Stream:     "camera",
		Version:    &livekit.TimedVersion{UnixMicro: 1729500012000001, Ticks: 0},
	}
}

func audioTrack() *livekit.TrackInfo {
	return &livekit.TrackInfo{
		Sid:           trackSid2,
		Type:          livekit.TrackType_AUDIO, // zero value
		Name:          "microphone",
		Muted:         true,
		Source:        livekit.TrackSource_MICROPHONE,
		MimeType:      "audio/red",
		Mid:           "0",
		Stereo:        true,
		DisableDtx:    true,
		DisableRed:    false,
		Encryption:    livekit.Encryption_GCM,
		Stream:        "microphone",
		AudioFeatures: []livekit.AudioTrackFeature{livekit.AudioTrackFeature_TF_STEREO, livekit.AudioTrackFeature_TF_NO_DTX, livekit.AudioTrackFeature_TF_ECHO_CANCELLATION},
	}
}

func fullParticipant(state livekit.ParticipantInfo_State) *livekit.ParticipantInfo {
	return &livekit.ParticipantInfo{
		Sid:      partSid,
		Identity: "alice@example.com",
		State:    state,
		Tracks:   []*livekit.TrackInfo{audioTrack(), videoTrack()},
		Metadata: `{"avatar":"https://example.com/a.png?x=1&y=<2>"}`,
		JoinedAt: t0 + 12,
		Name:     "Alice Müller 👩‍💻",
		Version:  7,
		Permission: &livekit.ParticipantPermission{
			CanSubscribe:      true,
			CanPublish:        true,
			CanPublishData:    true,
			CanPublishSources: []livekit.TrackSource{livekit.TrackSource_CAMERA, livekit.TrackSource_MICROPHONE, livekit.TrackSource_SCREEN_SHARE},
		},
		Region:      "eu-west",
		IsPublisher: true,
		Kind:        livekit.ParticipantInfo_STANDARD,
		Attributes:  map[string]string{"role": "host", "team": "core"},
	}
}

func jsClient() *livekit.ClientInfo {
	return &livekit.ClientInfo{
		Sdk:            livekit.ClientInfo_JS,
		Version:        "2.5.7",
		Protocol:       15,
		Os:             "macOS",
		OsVersion:      "14.6.1",
		Browser:        "Chrome",
		BrowserVersion: "129.0.0",
		Address:        "203.0.113.7",
		Network:        "wifi",
	}
}

func eventBase(t livekit.AnalyticsEventType, id string, tsv *timestamppb.Timestamp) *livekit.AnalyticsEvent {
	return &livekit.AnalyticsEvent{Id: id, Type: t, Timestamp: tsv, NodeId: nodeID}
}

// roomEv mimics the server's newRoomEvent / newParticipantEvent / newTrackEvent helpers.
func roomEv(t livekit.AnalyticsEventType, id string, tsv *timestamppb.Timestamp, room *livekit.Room) *livekit.AnalyticsEvent {
	ev := eventBase(t, id, tsv)
	if room != nil {
		ev.Room = room
		ev.RoomId = room.Sid
	}
	return ev
}

func partEv(t livekit.AnalyticsEventType, id string, tsv *timestamppb.Timestamp, room *livekit.Room, p *livekit.ParticipantInfo) *livekit.AnalyticsEvent {
	ev := roomEv(t, id, tsv, room)
	ev.ParticipantId = p.Sid
	ev.Participant = p
	return ev
}

func trackEv(t livekit.AnalyticsEventType, id string, tsv *timestamppb.Timestamp, track *livekit.TrackInfo) *livekit.AnalyticsEvent {
	ev := partEv(t, id, tsv, shortRoom(), &livekit.ParticipantInfo{Sid: partSid})
	ev.TrackId = track.Sid
	ev.Track = track
	return ev
}

func s3Upload() *livekit.S3Upload {
	return &livekit.S3Upload{
		AccessKey:          "AKIAEXAMPLE",
		Secret:             "s3cr3t",
		Region:             "eu-west-1",
		Endpoint:           "https://s3.example.com",
		Bucket:             "recordings",
		ForcePathStyle:     true,
		Metadata:           map[string]string{"room": roomName, "x-amz-meta-owner": "ops"},
		Tagging:            "env=prod&team=media",
		ContentDisposition: "attachment; filename=\"rec.mp4\"",
		Proxy:              &livekit.ProxyConfig{Url: "http://proxy.local:3128", Username: "p", Password: "q"},
	}
}

func egressEv(t livekit.AnalyticsEventType, id string, tsv *timestamppb.Timestamp, info *livekit.EgressInfo) *livekit.AnalyticsEvent {
	ev := eventBase(t, id, tsv)
	ev.EgressId = info.EgressId
	ev.RoomId = info.RoomId
	ev.Egress = info
	return ev
}

func ingressEv(t livekit.AnalyticsEventType, id string, tsv *timestamppb.Timestamp, info *livekit.IngressInfo) *livekit.AnalyticsEvent {
	ev := eventBase(t, id, tsv)
	ev.IngressId = info.IngressId
	ev.Ingress = info
	return ev
}

// nanosecond timestamps as used by egress/ingress (> 2^53)
const ns0 = int64(1729500000) * 1_000_000_000

func rtpStats() *livekit.RTPStats {
	return &livekit.RTPStats{
		StartTime:            ts(t0+10, 250000000),
		EndTime:              ts(t0+70, 0),
		Duration:             60.000123,
		Packets:              5400,
		PacketRate:           90,
		Bytes:                9007199254740993, // 2^53 + 1
		HeaderBytes:          18446744073709551615,
		Bitrate:              1200000.5,
		PacketsLost:          12,
		PacketLossRate:       0.2,
		PacketLossPercentage: 0.22222222,
		PacketsDuplicate:     1,
		PacketDuplicateRate:  0.016666666666666666,
		BytesDuplicate:       1200,
		BitratePadding:       0.1,
		PacketsPadding:       30,
		BytesPadding:         7680,
		PacketsOutOfOrder:    2,
		Frames:               1800,
		FrameRate:            29.97,
		JitterCurrent:        3.5,
		JitterMax:            17.25,
		GapHistogram:         map[int32]uint32{1: 3, 2: 1, -1: 7},
		Nacks:                20,
		NackAcks:             18,
		NackMisses:           2,
		Plis:                 3,
		LastPli:              ts(t0+65, 1),
		Firs:                 0,
		RttCurrent:           42,
		RttMax:               180,
		KeyFrames:            4,
		LastKeyFrame:         ts(t0+66, 999999999),
		PacketDrift: &livekit.RTPDrift{
			StartTime:      ts(t0+10, 0),
			EndTime:        ts(t0+70, 0),
			Duration:       60,
			StartTimestamp: 3000000000,
			EndTimestamp:   3005400000,
			RtpClockTicks:  5400000,
			DriftSamples:   -9007199254740993, // -(2^53+1)
			DriftMs:        -0.125,
			ClockRate:      90000.00001,
		},
	}
}

func buildEvents() []corpusCase {
	var cs []corpusCase
	add := func(name string, ev *livekit.AnalyticsEvent) {
		cs = append(cs, corpusCase{Name: name, Kind: "event", Msg: ev})
	}

	// ---------- room ----------
	{
		// like the server: ROOM_CREATED has timestamp = room creation time, no room_id
		ev := eventBase(livekit.AnalyticsEventType_ROOM_CREATED, "AE_RoomCreated01", ts(t0, 0))
		ev.Room = fullRoom()
		add("room_created_full_room_nanos0", ev)
	}
	{
		r := fullRoom()
		r.NumParticipants = 0
		r.NumPublishers = 0
		r.ActiveRecording = false
		add("room_ended_nanos_gt0", roomEv(livekit.AnalyticsEventType_ROOM_ENDED, "AE_RoomEnded0001", ts(t0+3600, 123456789), r))
	}
	{
		// room present but with an empty sid (only a name)
		ev := roomEv(livekit.AnalyticsEventType_ROOM_CREATED, "AE_RoomNoSid0001", ts(t0+1, 0), &livekit.Room{Name: "no-sid-room"})
		add("room_created_room_without_sid", ev)
	}
	{
		// room present but completely empty message (encodes as a zero-length field)
		ev := eventBase(livekit.AnalyticsEventType_ROOM_ENDED, "AE_RoomEmpty0001", ts(t0+2, 5))
		ev.Room = &livekit.Room{}
		add("room_ended_empty_room_message_nanos5", ev)
	}

	// ---------- participants ----------
	{
		ev := partEv(livekit.AnalyticsEventType_PARTICIPANT_JOINED, "AE_PartJoined001", ts(t0+12, 500000000), shortRoom(), fullParticipant(livekit.ParticipantInfo_JOINING))
		ev.ClientInfo = jsClient()
		ev.ClientMeta = &livekit.AnalyticsClientMeta{
			Region:            "eu-west",
			Node:              nodeID,
			ClientAddr:        "203.0.113.7:53211",
			ClientConnectTime: 412,
			ConnectionType:    "udp",
			GeoHash:           strp("u09tvw"),
			Country:           strp("FR"),
			IspAsn:            u32p(3215),
		}
		add("participant_joined_state0_kind0_js_client_meta_optionals", ev)
	}
	{
		p := fullParticipant(livekit.ParticipantInfo_ACTIVE)
		p.Kind = livekit.ParticipantInfo_AGENT
		p.Permission.Agent = true
		p.Permission.CanSubscribeMetrics = true
		ev := partEv(livekit.AnalyticsEventType_PARTICIPANT_ACTIVE, "AE_PartActive001", ts(t0+13, 1), shortRoom(), p)
		ev.ClientMeta = &livekit.AnalyticsClientMeta{
			ClientConnectTime: 950,
			ConnectionType:    "turn",
			// proto3 optional fields explicitly set to their zero value
			GeoHash: strp(""),
			Country: strp(""),
			IspAsn:  u32p(0),
		}
		add("participant_active_kind_agent_optional_zero_values", ev)
	}
	{
		ev := partEv(livekit.AnalyticsEventType_PARTICIPANT_RESUMED, "AE_PartResume001", ts(t0+20, 0), shortRoom(), &livekit.ParticipantInfo{Sid: partSid, Identity: "alice@example.com", State: livekit.ParticipantInfo_JOINED})
		ev.ClientMeta = &livekit.AnalyticsClientMeta{Node: nodeID, ReconnectReason: livekit.ReconnectReason_RR_SUBSCRIBER_FAILED}
		add("participant_resumed_reconnect_reason", ev)
	}
	{
		ev := partEv(livekit.AnalyticsEventType_PARTICIPANT_RESUMED, "AE_PartResume002", ts(t0+21, 0), shortRoom(), &livekit.ParticipantInfo{Sid: partSid})
		ev.ClientMeta = &livekit.AnalyticsClientMeta{Node: nodeID, ReconnectReason: livekit.ReconnectReason_RR_UNKNOWN}
		add("participant_resumed_reconnect_reason0", ev)
	}
	{
		p := fullParticipant(livekit.ParticipantInfo_DISCONNECTED)
		p.DisconnectReason = livekit.DisconnectReason_CLIENT_INITIATED
		p.Tracks = nil
		add("participant_left_disconnected_reason", partEv(livekit.AnalyticsEventType_PARTICIPANT_LEFT, "AE_PartLeft00001", ts(t0+1800, 42), shortRoom(), p))
	}
	{
		p := &livekit.ParticipantInfo{
			Sid: partSid2, Identity: "sip_+15105550100", State: livekit.ParticipantInfo_JOINED,
			Kind: livekit.ParticipantInfo_SIP, DisconnectReason: livekit.DisconnectReason_UNKNOWN_REASON,
			Attributes: map[string]string{"sip.callID": "SCL_abc", "sip.phoneNumber": "+15105550100", "$weird": "dollar key"},
			Permission: &livekit.ParticipantPermission{},
		}
		ev := partEv(livekit.AnalyticsEventType_RECONNECTED, "AE_Reconnected01", ts(t0+22, 0), shortRoom(), p)
		ev.ClientInfo = &livekit.ClientInfo{Sdk: livekit.ClientInfo_UNKNOWN, Version: "0.0.1"}
		add("reconnected_sip_kind_sdk0_empty_permission_dot_and_dollar_map_keys", ev)
	}
	{
		p := &livekit.ParticipantInfo{Sid: partSid2, Identity: "ingress-bot", State: livekit.ParticipantInfo_JOINED, Kind: livekit.ParticipantInfo_INGRESS, IsPublisher: true}
		ev := partEv(livekit.AnalyticsEventType_PARTICIPANT_JOINED, "AE_PartJoined002", ts(t0+30, 0), shortRoom(), p)
		ev.ClientInfo = &livekit.ClientInfo{Sdk: livekit.ClientInfo_GO, Version: "1.8.0", OtherSdks: "livekit-ingress"}
		add("participant_joined_kind_ingress_sdk_go", ev)
	}
	{
		p := &livekit.ParticipantInfo{Sid: partSid2, Identity: "EG_recorder", State: livekit.ParticipantInfo_ACTIVE, Kind: livekit.ParticipantInfo_EGRESS, Permission: &livekit.ParticipantPermission{CanSubscribe: true, Hidden: true, Recorder: true}}
		ev := partEv(livekit.AnalyticsEventType_PARTICIPANT_ACTIVE, "AE_PartActive002", ts(t0+31, 0), shortRoom(), p)
		ev.ClientInfo = &livekit.ClientInfo{Sdk: livekit.ClientInfo_NODE, Protocol: -1}
		add("participant_active_kind_egress_sdk_node_negative_protocol", ev)
	}
	{
		// unknown enum numbers everywhere the fork converts names, and elsewhere
		p := &livekit.ParticipantInfo{Sid: partSid, Identity: "future", State: 99, Kind: 99, DisconnectReason: 99, JoinedAt: t0}
		ev := partEv(99, "AE_UnknownEnum01", ts(t0+40, 0), shortRoom(), p)
		ev.ClientInfo = &livekit.ClientInfo{Sdk: 99}
		ev.ClientMeta = &livekit.AnalyticsClientMeta{ReconnectReason: 99}
		ev.Track = &livekit.TrackInfo{Sid: trackSid, Type: 99, Source: 99, Encryption: 99, AudioFeatures: []livekit.AudioTrackFeature{99},
			Layers: []*livekit.VideoLayer{{Quality: 99, Width: 1}}}
		ev.TrackId = trackSid
		ev.MaxSubscribedVideoQuality = 99
		add("unknown_enum_values_99_incl_event_type", ev)
	}
	{
		// no room at all, but participant id set
		ev := eventBase(livekit.AnalyticsEventType_PARTICIPANT_LEFT, "AE_NoRoom0000001", ts(t0+50, 0))
		ev.ParticipantId = partSid
		ev.Participant = &livekit.ParticipantInfo{Sid: partSid, State: livekit.ParticipantInfo_DISCONNECTED, DisconnectReason: livekit.DisconnectReason_SIGNAL_CLOSE}
		add("participant_left_no_room", ev)
	}
	{
		// room is nil but room_id string set; participant present with only zero values
		ev := eventBase(livekit.AnalyticsEventType_PARTICIPANT_JOINED, "AE_EmptyPart0001", ts(t0+51, 0))
		ev.RoomId = roomSid
		ev.Participant = &livekit.ParticipantInfo{}
		ev.ClientInfo = &livekit.ClientInfo{}
		add("participant_joined_empty_participant_and_client_info_messages", ev)
	}

	// ---------- tracks ----------
	{
		ev := trackEv(livekit.AnalyticsEventType_TRACK_PUBLISH_REQUESTED, "AE_TrkPubReq0001", ts(t0+14, 100), &livekit.TrackInfo{Sid: trackSid, Type: livekit.TrackType_VIDEO, Name: "camera", Source: livekit.TrackSource_CAMERA})
		ev.Participant.Identity = "alice@example.com"
		add("track_publish_requested", ev)
	}
	{
		ev := trackEv(livekit.AnalyticsEventType_TRACK_PUBLISHED, "AE_TrkPub0000001", ts(t0+15, 0), videoTrack())
		ev.Participant = fullParticipant(livekit.ParticipantInfo_ACTIVE)
		add("track_published_video_simulcast_full_participant", ev)
	}
	add("track_published_audio_type0", trackEv(livekit.AnalyticsEventType_TRACK_PUBLISHED, "AE_TrkPub0000002", ts(t0+15, 1), audioTrack()))
	{
		tr := &livekit.TrackInfo{Sid: trackSid, Type: livekit.TrackType_VIDEO, Source: livekit.TrackSource_SCREEN_SHARE, Width: 1920, Height: 1080, Encryption: livekit.Encryption_CUSTOM,
			Layers: []*livekit.VideoLayer{{Quality: livekit.VideoQuality_OFF}, {Quality: livekit.VideoQuality_LOW, Width: 1920, Height: 1080}}}
		add("track_published_update_screen_share_quality_off_and_low", trackEv(livekit.AnalyticsEventType_TRACK_PUBLISHED_UPDATE, "AE_TrkPubUpd0001", ts(t0+16, 0), tr))
	}
	{
		tr := audioTrack()
		tr.Muted = true
		add("track_muted", trackEv(livekit.AnalyticsEventType_TRACK_MUTED, "AE_TrkMuted00001", ts(t0+17, 0), tr))
	}
	{
		tr := &livekit.TrackInfo{Sid: trackSid2, Type: livekit.TrackType_AUDIO, Source: livekit.TrackSource_SCREEN_SHARE_AUDIO}
		add("track_unmuted_screen_share_audio", trackEv(livekit.AnalyticsEventType_TRACK_UNMUTED, "AE_TrkUnmuted001", ts(t0+18, 0), tr))
	}
	{
		tr := &livekit.TrackInfo{Sid: trackSid, Type: livekit.TrackType_DATA, Source: livekit.TrackSource_UNKNOWN}
		add("track_unpublished_data_type_source0", trackEv(livekit.AnalyticsEventType_TRACK_UNPUBLISHED, "AE_TrkUnpub00001", ts(t0+900, 0), tr))
	}
	{
		ev := trackEv(livekit.AnalyticsEventType_TRACK_SUBSCRIBE_REQUESTED, "AE_TrkSubReq0001", ts(t0+19, 0), videoTrack())
		ev.ParticipantId = partSid2
		ev.Participant.Sid = partSid2
		add("track_subscribe_requested", ev)
	}
	{
		ev := trackEv(livekit.AnalyticsEventType_TRACK_SUBSCRIBED, "AE_TrkSub0000001", ts(t0+19, 700000000), videoTrack())
		ev.ParticipantId = partSid2
		ev.Participant.Sid = partSid2
		ev.Publisher = fullParticipant(livekit.ParticipantInfo_ACTIVE)
		add("track_subscribed_with_publisher", ev)
	}
	{
		ev := trackEv(livekit.AnalyticsEventType_TRACK_SUBSCRIBE_FAILED, "AE_TrkSubFail001", ts(t0+19, 800000000), &livekit.TrackInfo{Sid: trackSid})
		ev.Error = "could not find published track: \"TR_VCm3xN8pQ2sZ\"\n<retry>"
		add("track_subscribe_failed_error_string", ev)
	}
	add("track_unsubscribed", trackEv(livekit.AnalyticsEventType_TRACK_UNSUBSCRIBED, "AE_TrkUnsub00001", ts(t0+901, 0), audioTrack()))
	{
		ev := trackEv(livekit.AnalyticsEventType_TRACK_MAX_SUBSCRIBED_VIDEO_QUALITY, "AE_TrkMaxQ000001", ts(t0+25, 0), videoTrack())
		ev.MaxSubscribedVideoQuality = livekit.VideoQuality_HIGH
		ev.Mime = "video/VP8"
		add("track_max_subscribed_video_quality_high", ev)
	}
	{
		ev := trackEv(livekit.AnalyticsEventType_TRACK_MAX_SUBSCRIBED_VIDEO_QUALITY, "AE_TrkMaxQ000002", ts(t0+26, 0), &livekit.TrackInfo{Sid: trackSid})
		ev.MaxSubscribedVideoQuality = livekit.VideoQuality_LOW
		ev.Mime = "video/H264"
		add("track_max_subscribed_video_quality_low0", ev)
	}
	{
		ev := roomEv(livekit.AnalyticsEventType_TRACK_PUBLISH_STATS, "AE_TrkPubStats01", ts(t0+70, 0), shortRoom())
		ev.ParticipantId = partSid
		ev.TrackId = trackSid
		ev.Mime = "video/VP8"
		ev.VideoLayer = 2
		ev.RtpStats = rtpStats()
		add("track_publish_stats_rtp_stats_big_ints_gap_histogram", ev)
	}
	{
		ev := roomEv(livekit.AnalyticsEventType_TRACK_SUBSCRIBE_STATS, "AE_TrkSubStats01", ts(t0+70, 1), shortRoom())
		ev.ParticipantId = partSid2
		ev.TrackId = trackSid2
		ev.Mime = "audio/opus"
		ev.VideoLayer = -1
		ev.RtpStats = &livekit.RTPStats{
			StartTime: ts(t0+10, 0), EndTime: ts(t0+70, 0), Duration: 60, Packets: 3000, PacketRate: 50,
			Bytes: 240000, HeaderBytes: 36000, Bitrate: 32000, JitterCurrent: 0.5, JitterMax: 2,
			RttCurrent: 30, RttMax: 45, LayerLockPlis: 1, LastLayerLockPli: ts(t0+11, 0),
			LastFir:            ts(0, 0), // present but zero timestamp
			NtpReportDrift:     &livekit.RTPDrift{DriftSamples: 12, DriftMs: 0.25, ClockRate: 48000},
			RebasedReportDrift: &livekit.RTPDrift{},
			ReceivedReportDrift: &livekit.RTPDrift{StartTimestamp: 18446744073709551615, EndTimestamp: 9007199254740992,
				RtpClockTicks: 9007199254740993},
			PacketLossPercentage: 3.3,
		}
		add("track_subscribe_stats_negative_video_layer_drifts_zero_ts", ev)
	}
	{
		// empty rtp_stats message, no room
		ev := eventBase(livekit.AnalyticsEventType_TRACK_PUBLISH_STATS, "AE_TrkPubStats02", ts(t0+71, 0))
		ev.ParticipantId = partSid
		ev.TrackId = trackSid
		ev.RtpStats = &livekit.RTPStats{}
		add("track_publish_stats_empty_rtp_stats_no_room", ev)
	}

	// ---------- egress ----------
	{
		// room composite, preset (non-zero), file output to S3 (file_outputs list)
		info := &livekit.EgressInfo{
			EgressId: egressID, RoomId: roomSid, RoomName: roomName, Status: livekit.EgressStatus_EGRESS_STARTING,
			StartedAt: 0, UpdatedAt: ns0 + 1,
			Request: &livekit.EgressInfo_RoomComposite{RoomComposite: &livekit.RoomCompositeEgressRequest{
				RoomName: roomName, Layout: "grid", CustomBaseUrl: "https://layouts.example.com/?a=1&b=2",
				Options: &livekit.RoomCompositeEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset_H264_1080P_30},
				FileOutputs: []*livekit.EncodedFileOutput{{
					FileType: livekit.EncodedFileType_MP4, Filepath: "{room_name}/{time}.mp4",
					Output: &livekit.EncodedFileOutput_S3{S3: s3Upload()},
				}},
			}},
		}
		add("egress_started_room_composite_preset_file_s3", egressEv(livekit.AnalyticsEventType_EGRESS_STARTED, "AE_EgrStarted001", ts(t0+100, 0), info))
	}
	{
		// room composite, preset 0 (H264_720P_30), stream + segments (GCP) + images (Azure) lists
		info := &livekit.EgressInfo{
			EgressId: egressID, RoomId: roomSid, RoomName: roomName, Status: livekit.EgressStatus_EGRESS_ACTIVE,
			StartedAt: ns0 + 123456789, UpdatedAt: ns0 + 5_000_000_001,
			Request: &livekit.EgressInfo_RoomComposite{RoomComposite: &livekit.RoomCompositeEgressRequest{
				RoomName: roomName, AudioOnly: false, VideoOnly: true,
				Options:       &livekit.RoomCompositeEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset_H264_720P_30},
				StreamOutputs: []*livekit.StreamOutput{{Protocol: livekit.StreamProtocol_RTMP, Urls: []string{"rtmp://a.example.com/live/k1", "rtmp://b.example.com/live/k2"}}},
				SegmentOutputs: []*livekit.SegmentedFileOutput{{
					Protocol: livekit.SegmentedFileProtocol_HLS_PROTOCOL, FilenamePrefix: "seg/", PlaylistName: "index.m3u8", LivePlaylistName: "live.m3u8",
					SegmentDuration: 6, FilenameSuffix: livekit.SegmentedFileSuffix_TIMESTAMP,
					Output: &livekit.SegmentedFileOutput_Gcp{Gcp: &livekit.GCPUpload{Credentials: `{"type":"service_account"}`, Bucket: "gcs-bucket"}},
				}},
				ImageOutputs: []*livekit.ImageOutput{{
					CaptureInterval: 10, Width: 640, Height: 360, FilenamePrefix: "thumb", FilenameSuffix: livekit.ImageFileSuffix_IMAGE_SUFFIX_TIMESTAMP,
					ImageCodec: livekit.ImageCodec_IC_JPEG, DisableManifest: true,
					Output: &livekit.ImageOutput_Azure{Azure: &livekit.AzureBlobUpload{AccountName: "acct", AccountKey: "key==", ContainerName: "thumbs"}},
				}},
			}},
			StreamResults: []*livekit.StreamInfo{{Url: "rtmp://a.example.com/live/k1", StartedAt: ns0 + 200000000, Status: livekit.StreamInfo_ACTIVE},
				{Url: "rtmp://b.example.com/live/k2", StartedAt: ns0 + 300000000, Status: livekit.StreamInfo_FAILED, Error: "connection refused"}},
		}
		add("egress_updated_room_composite_preset0_stream_segments_gcp_images_azure", egressEv(livekit.AnalyticsEventType_EGRESS_UPDATED, "AE_EgrUpdated001", ts(t0+105, 0), info))
	}
	{
		// room composite, advanced, zero enums in outputs, deprecated `file` output oneof, no upload (Output null)
		info := &livekit.EgressInfo{
			EgressId: egressID, RoomId: roomSid, RoomName: roomName, Status: livekit.EgressStatus_EGRESS_COMPLETE,
			StartedAt: ns0, EndedAt: ns0 + 3_600_000_000_007, UpdatedAt: ns0 + 3_600_000_000_007,
			Request: &livekit.EgressInfo_RoomComposite{RoomComposite: &livekit.RoomCompositeEgressRequest{
				RoomName: roomName, AudioOnly: true,
				Output: &livekit.RoomCompositeEgressRequest_File{File: &livekit.EncodedFileOutput{FileType: livekit.EncodedFileType_OGG, Filepath: "audio.ogg"}},
				Options: &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{
					Width: 1920, Height: 1080, Depth: 24, Framerate: 30, AudioCodec: livekit.AudioCodec_AAC, AudioBitrate: 128, AudioQuality: 0, AudioFrequency: 44100,
					VideoCodec: livekit.VideoCodec_H264_HIGH, VideoBitrate: 4500, VideoQuality: 0, KeyFrameInterval: 4.5,
				}},
				FileOutputs:    []*livekit.EncodedFileOutput{{FileType: livekit.EncodedFileType_DEFAULT_FILETYPE, Filepath: "x.mp4"}},
				StreamOutputs:  []*livekit.StreamOutput{{Protocol: livekit.StreamProtocol_DEFAULT_PROTOCOL}},
				SegmentOutputs: []*livekit.SegmentedFileOutput{{Protocol: livekit.SegmentedFileProtocol_DEFAULT_SEGMENTED_FILE_PROTOCOL, FilenameSuffix: livekit.SegmentedFileSuffix_INDEX}},
				ImageOutputs:   []*livekit.ImageOutput{{FilenameSuffix: livekit.ImageFileSuffix_IMAGE_SUFFIX_INDEX, ImageCodec: livekit.ImageCodec_IC_DEFAULT}},
			}},
			Result: &livekit.EgressInfo_File{File: &livekit.FileInfo{Filename: "audio.ogg", StartedAt: ns0, EndedAt: ns0 + 3_600_000_000_007, Duration: 3_600_000_000_007, Size: 57_600_123, Location: "https://s3/rec/audio.ogg"}},
			FileResults: []*livekit.FileInfo{{Filename: "x.mp4", Size: 9007199254740993, Duration: 3_600_000_000_007}},
		}
		add("egress_ended_room_composite_advanced_zero_enum_outputs_deprecated_file_result_file", egressEv(livekit.AnalyticsEventType_EGRESS_ENDED, "AE_EgrEnded00001", ts(t0+3700, 0), info))
	}
	{
		// room composite, advanced with zero codecs, no outputs
		info := &livekit.EgressInfo{
			EgressId: egressID, RoomId: roomSid, Status: livekit.EgressStatus_EGRESS_STARTING,
			Request: &livekit.EgressInfo_RoomComposite{RoomComposite: &livekit.RoomCompositeEgressRequest{
				RoomName: roomName,
				Options:  &livekit.RoomCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{Width: 1280, Height: 720}},
			}},
		}
		add("egress_started_room_composite_advanced_zero_codecs", egressEv(livekit.AnalyticsEventType_EGRESS_STARTED, "AE_EgrStarted002", ts(t0+101, 0), info))
	}
	{
		// room composite without options (Options oneof absent) and deprecated stream output
		info := &livekit.EgressInfo{
			EgressId: egressID, RoomId: roomSid, Status: livekit.EgressStatus_EGRESS_ABORTED, Error: "aborted by user", ErrorCode: 499,
			Request: &livekit.EgressInfo_RoomComposite{RoomComposite: &livekit.RoomCompositeEgressRequest{
				RoomName: roomName,
				Output:   &livekit.RoomCompositeEgressRequest_Stream{Stream: &livekit.StreamOutput{Protocol: livekit.StreamProtocol_SRT, Urls: []string{"srt://srt.example.com:9000"}}},
			}},
			Result: &livekit.EgressInfo_Stream{Stream: &livekit.StreamInfoList{Info: []*livekit.StreamInfo{{Url: "srt://srt.example.com:9000", Status: livekit.StreamInfo_FINISHED, Duration: 1, EndedAt: ns0 + 9}}}},
		}
		add("egress_ended_room_composite_no_options_deprecated_stream_result_stream", egressEv(livekit.AnalyticsEventType_EGRESS_ENDED, "AE_EgrEnded00002", ts(t0+3701, 0), info))
	}
	{
		// web egress, advanced, deprecated segments output, result segments, aliOSS
		info := &livekit.EgressInfo{
			EgressId: "EG_WebEgress001", Status: livekit.EgressStatus_EGRESS_FAILED, Error: "chrome crashed", ErrorCode: 500, Details: "pipeline error",
			StartedAt: ns0, EndedAt: ns0 + 10,
			Request: &livekit.EgressInfo_Web{Web: &livekit.WebEgressRequest{
				Url: "https://example.com/dashboard?x=1", AwaitStartSignal: true,
				Output: &livekit.WebEgressRequest_Segments{Segments: &livekit.SegmentedFileOutput{
					Protocol: livekit.SegmentedFileProtocol_HLS_PROTOCOL, PlaylistName: "p.m3u8", SegmentDuration: 4,
					Output: &livekit.SegmentedFileOutput_AliOSS{AliOSS: &livekit.AliOSSUpload{AccessKey: "LTAI", Secret: "s", Region: "oss-cn-hangzhou", Endpoint: "https://oss.example.com", Bucket: "b"}},
				}},
				Options: &livekit.WebEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{AudioCodec: livekit.AudioCodec_OPUS, VideoCodec: livekit.VideoCodec_VP8, Framerate: 60, KeyFrameInterval: 2}},
				FileOutputs: []*livekit.EncodedFileOutput{
					{FileType: livekit.EncodedFileType_MP4, Output: &livekit.EncodedFileOutput_Gcp{Gcp: &livekit.GCPUpload{Bucket: "g", Proxy: &livekit.ProxyConfig{Url: "http://p"}}}},
					{FileType: livekit.EncodedFileType_OGG, Output: &livekit.EncodedFileOutput_AliOSS{AliOSS: &livekit.AliOSSUpload{Bucket: "o"}}},
				},
			}},
			Result:         &livekit.EgressInfo_Segments{Segments: &livekit.SegmentsInfo{PlaylistName: "p.m3u8", Duration: 10, Size: 1 << 40, SegmentCount: 3, StartedAt: ns0, EndedAt: ns0 + 10, PlaylistLocation: "https://x/p.m3u8"}},
			SegmentResults: []*livekit.SegmentsInfo{{PlaylistName: "p.m3u8", LivePlaylistName: "l.m3u8", LivePlaylistLocation: "https://x/l.m3u8", SegmentCount: 3}},
			ImageResults:   []*livekit.ImagesInfo{{FilenamePrefix: "img", ImageCount: 12, StartedAt: ns0, EndedAt: ns0 + 12_000_000_000}},
		}
		add("egress_ended_web_advanced_deprecated_segments_alioss_result_segments", egressEv(livekit.AnalyticsEventType_EGRESS_ENDED, "AE_EgrEnded00003", ts(t0+3702, 0), info))
	}
	{
		// web egress, preset, deprecated file output with S3
		info := &livekit.EgressInfo{
			EgressId: "EG_WebEgress002", Status: livekit.EgressStatus_EGRESS_ENDING,
			Request: &livekit.EgressInfo_Web{Web: &livekit.WebEgressRequest{
				Url: "https://example.com", VideoOnly: true,
				Output:  &livekit.WebEgressRequest_File{File: &livekit.EncodedFileOutput{FileType: livekit.EncodedFileType_MP4, Filepath: "web.mp4", DisableManifest: true, Output: &livekit.EncodedFileOutput_S3{S3: &livekit.S3Upload{Bucket: "b", Region: "us-east-1"}}}},
				Options: &livekit.WebEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset_PORTRAIT_H264_1080P_60},
			}},
		}
		add("egress_updated_web_preset_deprecated_file_s3", egressEv(livekit.AnalyticsEventType_EGRESS_UPDATED, "AE_EgrUpdated002", ts(t0+110, 0), info))
	}
	{
		// participant egress, preset, image outputs (S3) + segments (Azure)
		info := &livekit.EgressInfo{
			EgressId: "EG_PartEgress01", RoomId: roomSid, RoomName: roomName, Status: livekit.EgressStatus_EGRESS_ACTIVE, StartedAt: ns0 + 1,
			Request: &livekit.EgressInfo_Participant{Participant: &livekit.ParticipantEgressRequest{
				RoomName: roomName, Identity: "alice@example.com", ScreenShare: true,
				Options:        &livekit.ParticipantEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset_H264_720P_60},
				ImageOutputs:   []*livekit.ImageOutput{{CaptureInterval: 5, Output: &livekit.ImageOutput_S3{S3: &livekit.S3Upload{Bucket: "img"}}}},
				SegmentOutputs: []*livekit.SegmentedFileOutput{{Protocol: livekit.SegmentedFileProtocol_HLS_PROTOCOL, Output: &livekit.SegmentedFileOutput_Azure{Azure: &livekit.AzureBlobUpload{ContainerName: "c"}}}},
			}},
		}
		add("egress_started_participant_preset_images_s3_segments_azure", egressEv(livekit.AnalyticsEventType_EGRESS_STARTED, "AE_EgrStarted003", ts(t0+120, 0), info))
	}
	{
		// participant egress, advanced, stream outputs
		info := &livekit.EgressInfo{
			EgressId: "EG_PartEgress02", RoomId: roomSid, Status: livekit.EgressStatus_EGRESS_LIMIT_REACHED,
			Request: &livekit.EgressInfo_Participant{Participant: &livekit.ParticipantEgressRequest{
				Identity:      "bob",
				Options:       &livekit.ParticipantEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{VideoCodec: livekit.VideoCodec_H264_MAIN, AudioCodec: livekit.AudioCodec_DEFAULT_AC}},
				StreamOutputs: []*livekit.StreamOutput{{Protocol: livekit.StreamProtocol_SRT, Urls: []string{"srt://x:1"}}, {Protocol: livekit.StreamProtocol_RTMP}},
				ImageOutputs:  []*livekit.ImageOutput{{ImageCodec: livekit.ImageCodec_IC_JPEG, Output: &livekit.ImageOutput_Gcp{Gcp: &livekit.GCPUpload{Bucket: "g"}}}, {Output: &livekit.ImageOutput_AliOSS{AliOSS: &livekit.AliOSSUpload{Bucket: "a"}}}},
			}},
		}
		add("egress_ended_participant_advanced_streams_images_gcp_alioss", egressEv(livekit.AnalyticsEventType_EGRESS_ENDED, "AE_EgrEnded00004", ts(t0+3703, 0), info))
	}
	{
		// track composite, advanced, deprecated segments output (S3)
		info := &livekit.EgressInfo{
			EgressId: "EG_TrkCompEgr01", RoomId: roomSid, Status: livekit.EgressStatus_EGRESS_ACTIVE,
			Request: &livekit.EgressInfo_TrackComposite{TrackComposite: &livekit.TrackCompositeEgressRequest{
				RoomName: roomName, AudioTrackId: trackSid2, VideoTrackId: trackSid,
				Output:  &livekit.TrackCompositeEgressRequest_Segments{Segments: &livekit.SegmentedFileOutput{FilenameSuffix: livekit.SegmentedFileSuffix_TIMESTAMP, Output: &livekit.SegmentedFileOutput_S3{S3: &livekit.S3Upload{Bucket: "seg"}}}},
				Options: &livekit.TrackCompositeEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{AudioCodec: livekit.AudioCodec_OPUS, VideoCodec: livekit.VideoCodec_H264_BASELINE, KeyFrameInterval: 0.1}},
				FileOutputs: []*livekit.EncodedFileOutput{{FileType: livekit.EncodedFileType_MP4, Output: &livekit.EncodedFileOutput_Azure{Azure: &livekit.AzureBlobUpload{AccountName: "a"}}}},
			}},
		}
		add("egress_updated_track_composite_advanced_deprecated_segments_file_azure", egressEv(livekit.AnalyticsEventType_EGRESS_UPDATED, "AE_EgrUpdated003", ts(t0+130, 0), info))
	}
	{
		// track composite, preset, deprecated stream output, result stream
		info := &livekit.EgressInfo{
			EgressId: "EG_TrkCompEgr02", RoomId: roomSid, Status: livekit.EgressStatus_EGRESS_STARTING,
			Request: &livekit.EgressInfo_TrackComposite{TrackComposite: &livekit.TrackCompositeEgressRequest{
				RoomName: roomName, AudioTrackId: trackSid2,
				Output:  &livekit.TrackCompositeEgressRequest_Stream{Stream: &livekit.StreamOutput{Protocol: livekit.StreamProtocol_RTMP, Urls: []string{"rtmp://x/y"}}},
				Options: &livekit.TrackCompositeEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset_PORTRAIT_H264_720P_30},
			}},
		}
		add("egress_started_track_composite_preset_deprecated_stream", egressEv(livekit.AnalyticsEventType_EGRESS_STARTED, "AE_EgrStarted004", ts(t0+131, 0), info))
	}
	{
		// track egress (not handled by the fork's parseEgressRequest), direct file to GCP
		info := &livekit.EgressInfo{
			EgressId: "EG_TrackEgress1", RoomId: roomSid, Status: livekit.EgressStatus_EGRESS_COMPLETE,
			Request: &livekit.EgressInfo_Track{Track: &livekit.TrackEgressRequest{
				RoomName: roomName, TrackId: trackSid2,
				Output: &livekit.TrackEgressRequest_File{File: &livekit.DirectFileOutput{Filepath: "tracks/{track_id}.ogg", DisableManifest: true, Output: &livekit.DirectFileOutput_Gcp{Gcp: &livekit.GCPUpload{Bucket: "g"}}}},
			}},
			FileResults: []*livekit.FileInfo{{Filename: "tracks/TR_AMk2pL9sW4qR.ogg", Size: 123456}},
		}
		add("egress_ended_track_direct_file_gcp", egressEv(livekit.AnalyticsEventType_EGRESS_ENDED, "AE_EgrEnded00005", ts(t0+3704, 0), info))
	}
	{
		// track egress over websocket
		info := &livekit.EgressInfo{
			EgressId: "EG_TrackEgress2", RoomId: roomSid, Status: livekit.EgressStatus_EGRESS_ACTIVE,
			Request: &livekit.EgressInfo_Track{Track: &livekit.TrackEgressRequest{RoomName: roomName, TrackId: trackSid2, Output: &livekit.TrackEgressRequest_WebsocketUrl{WebsocketUrl: "wss://ws.example.com/audio"}}},
		}
		add("egress_updated_track_websocket", egressEv(livekit.AnalyticsEventType_EGRESS_UPDATED, "AE_EgrUpdated004", ts(t0+140, 0), info))
	}
	{
		// egress without request, status zero (EGRESS_STARTING)
		info := &livekit.EgressInfo{EgressId: "EG_NoRequest001", RoomId: roomSid}
		add("egress_started_no_request_status0", egressEv(livekit.AnalyticsEventType_EGRESS_STARTED, "AE_EgrStarted005", ts(t0+150, 0), info))
	}
	{
		// egress with unknown enums in request/options/outputs
		info := &livekit.EgressInfo{
			EgressId: "EG_Unknown00001", Status: 99,
			Request: &livekit.EgressInfo_RoomComposite{RoomComposite: &livekit.RoomCompositeEgressRequest{
				Options:        &livekit.RoomCompositeEgressRequest_Preset{Preset: 99},
				FileOutputs:    []*livekit.EncodedFileOutput{{FileType: 99}},
				StreamOutputs:  []*livekit.StreamOutput{{Protocol: 99}},
				SegmentOutputs: []*livekit.SegmentedFileOutput{{Protocol: 99, FilenameSuffix: 99}},
				ImageOutputs:   []*livekit.ImageOutput{{FilenameSuffix: 99, ImageCodec: 99}},
			}},
			StreamResults: []*livekit.StreamInfo{{Status: 99}},
		}
		add("egress_unknown_enums_99", egressEv(livekit.AnalyticsEventType_EGRESS_UPDATED, "AE_EgrUnknown001", ts(t0+160, 0), info))
	}
	{
		info := &livekit.EgressInfo{
			EgressId: "EG_Unknown00002", Status: livekit.EgressStatus_EGRESS_ACTIVE,
			Request: &livekit.EgressInfo_Web{Web: &livekit.WebEgressRequest{
				Url:     "https://example.com",
				Options: &livekit.WebEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{AudioCodec: 99, VideoCodec: 99}},
			}},
		}
		add("egress_web_advanced_unknown_codecs_99", egressEv(livekit.AnalyticsEventType_EGRESS_UPDATED, "AE_EgrUnknown002", ts(t0+161, 0), info))
	}

	// ---------- ingress ----------
	{
		info := &livekit.IngressInfo{
			IngressId: ingressID, Name: "obs-stream", StreamKey: "sk_Zx8QmN2p", Url: "rtmp://ingress.example.com/x",
			InputType: livekit.IngressInput_RTMP_INPUT, EnableTranscoding: boolp(true),
			Audio: &livekit.IngressAudioOptions{Name: "audio", Source: livekit.TrackSource_MICROPHONE,
				EncodingOptions: &livekit.IngressAudioOptions_Preset{Preset: livekit.IngressAudioEncodingPreset_OPUS_MONO_64KBS}},
			Video: &livekit.IngressVideoOptions{Name: "video", Source: livekit.TrackSource_CAMERA,
				EncodingOptions: &livekit.IngressVideoOptions_Preset{Preset: livekit.IngressVideoEncodingPreset_H264_1080P_30FPS_3_LAYERS}},
			RoomName: roomName, ParticipantIdentity: "obs", ParticipantName: "OBS", ParticipantMetadata: "{}", Reusable: true,
		}
		add("ingress_created_rtmp_presets_no_state", ingressEv(livekit.AnalyticsEventType_INGRESS_CREATED, "AE_IngCreated001", ts(t0+200, 0), info))
	}
	{
		info := &livekit.IngressInfo{
			IngressId: ingressID, Name: "whip", InputType: livekit.IngressInput_WHIP_INPUT, BypassTranscoding: true, EnableTranscoding: boolp(false),
			Audio: &livekit.IngressAudioOptions{EncodingOptions: &livekit.IngressAudioOptions_Preset{Preset: livekit.IngressAudioEncodingPreset_OPUS_STEREO_96KBPS}},
			Video: &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Preset{Preset: livekit.IngressVideoEncodingPreset_H264_720P_30FPS_3_LAYERS}},
			RoomName: roomName,
			State: &livekit.IngressState{
				Status: livekit.IngressState_ENDPOINT_PUBLISHING, RoomId: roomSid, StartedAt: ns0 + 5, UpdatedAt: ns0 + 6, ResourceId: "RS_1",
				Video:  &livekit.InputVideoState{MimeType: "video/H264", AverageBitrate: 2500000, Width: 1920, Height: 1080, Framerate: 29.97},
				Audio:  &livekit.InputAudioState{MimeType: "audio/opus", AverageBitrate: 96000, Channels: 2, SampleRate: 48000},
				Tracks: []*livekit.TrackInfo{videoTrack(), audioTrack()},
			},
		}
		add("ingress_started_whip_presets0_state_publishing_tracks_enable_transcoding_false", ingressEv(livekit.AnalyticsEventType_INGRESS_STARTED, "AE_IngStarted001", ts(t0+210, 0), info))
	}
	{
		info := &livekit.IngressInfo{
			IngressId: ingressID, Name: "url-pull", InputType: livekit.IngressInput_URL_INPUT, Url: "https://media.example.com/stream.m3u8",
			Audio: &livekit.IngressAudioOptions{Source: livekit.TrackSource_SCREEN_SHARE_AUDIO,
				EncodingOptions: &livekit.IngressAudioOptions_Options{Options: &livekit.IngressAudioEncodingOptions{AudioCodec: livekit.AudioCodec_OPUS, Bitrate: 64000, DisableDtx: true, Channels: 1}}},
			Video: &livekit.IngressVideoOptions{Source: livekit.TrackSource_SCREEN_SHARE,
				EncodingOptions: &livekit.IngressVideoOptions_Options{Options: &livekit.IngressVideoEncodingOptions{VideoCodec: livekit.VideoCodec_H264_BASELINE, FrameRate: 25.5, Layers: simulcastLayers()}}},
			State: &livekit.IngressState{Status: livekit.IngressState_ENDPOINT_BUFFERING},
		}
		add("ingress_updated_url_input_custom_options_state_buffering", ingressEv(livekit.AnalyticsEventType_INGRESS_UPDATED, "AE_IngUpdated001", ts(t0+220, 0), info))
	}
	{
		info := &livekit.IngressInfo{IngressId: ingressID, State: &livekit.IngressState{Status: livekit.IngressState_ENDPOINT_INACTIVE}}
		add("ingress_updated_state_status0", ingressEv(livekit.AnalyticsEventType_INGRESS_UPDATED, "AE_IngUpdated002", ts(t0+221, 0), info))
	}
	{
		info := &livekit.IngressInfo{IngressId: ingressID, RoomName: roomName, State: &livekit.IngressState{Status: livekit.IngressState_ENDPOINT_ERROR, Error: "input timeout", EndedAt: ns0 + 99}}
		add("ingress_ended_state_error", ingressEv(livekit.AnalyticsEventType_INGRESS_ENDED, "AE_IngEnded00001", ts(t0+230, 0), info))
	}
	{
		info := &livekit.IngressInfo{IngressId: ingressID, State: &livekit.IngressState{Status: livekit.IngressState_ENDPOINT_COMPLETE, EndedAt: ns0 + 100}}
		add("ingress_ended_state_complete", ingressEv(livekit.AnalyticsEventType_INGRESS_ENDED, "AE_IngEnded00002", ts(t0+231, 0), info))
	}
	{
		info := &livekit.IngressInfo{IngressId: ingressID, InputType: 99, State: &livekit.IngressState{Status: 99},
			Audio: &livekit.IngressAudioOptions{Source: 99, EncodingOptions: &livekit.IngressAudioOptions_Preset{Preset: 99}},
			Video: &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Options{Options: &livekit.IngressVideoEncodingOptions{VideoCodec: 99}}}}
		add("ingress_deleted_unknown_enums_99", ingressEv(livekit.AnalyticsEventType_INGRESS_DELETED, "AE_IngDeleted001", ts(t0+240, 0), info))
	}
	{
		info := &livekit.IngressInfo{IngressId: ingressID, Audio: &livekit.IngressAudioOptions{}, Video: &livekit.IngressVideoOptions{}}
		add("ingress_deleted_empty_audio_video_options", ingressEv(livekit.AnalyticsEventType_INGRESS_DELETED, "AE_IngDeleted002", ts(t0+241, 0), info))
	}

	// ---------- SIP ----------
	sipCall := func(status livekit.SIPCallStatus) *livekit.SIPCallInfo {
		return &livekit.SIPCallInfo{
			CallId: "SCL_Wq8fP2nX", TrunkId: "ST_Kx9mR4tQ", RoomName: "call-+15105550100", RoomId: roomSid, ParticipantIdentity: "sip_+15105550100",
			FromUri:    &livekit.SIPUri{User: "+15105550100", Host: "sip.carrier.example", Ip: "198.51.100.10", Port: "5060", Transport: livekit.SIPTransport_SIP_TRANSPORT_UDP},
			ToUri:      &livekit.SIPUri{User: "+15105550199", Host: "sip.livekit.example", Transport: livekit.SIPTransport_SIP_TRANSPORT_AUTO},
			CallStatus: status, StartedAt: ns0 + 777,
		}
	}
	sipEv := func(t livekit.AnalyticsEventType, id string, tsv *timestamppb.Timestamp) *livekit.AnalyticsEvent {
		ev := eventBase(t, id, tsv)
		ev.SipCallId = "SCL_Wq8fP2nX"
		return ev
	}
	{
		ev := sipEv(livekit.AnalyticsEventType_SIP_CALL_INCOMING, "AE_SipIncoming01", ts(t0+300, 0))
		ev.SipCall = sipCall(livekit.SIPCallStatus_SCS_CALL_INCOMING)
		ev.SipTrunkId = "ST_Kx9mR4tQ"
		add("sip_call_incoming_status0_transport0", ev)
	}
	{
		ev := sipEv(livekit.AnalyticsEventType_SIP_CALL_STARTED, "AE_SipStarted001", ts(t0+301, 0))
		ev.SipCall = sipCall(livekit.SIPCallStatus_SCS_ACTIVE)
		ev.RoomId = roomSid
		ev.Room = &livekit.Room{Sid: roomSid, Name: "call-+15105550100"}
		ev.ParticipantId = partSid2
		add("sip_call_started_with_room", ev)
	}
	{
		ev := sipEv(livekit.AnalyticsEventType_SIP_CALL_ENDED, "AE_SipEnded00001", ts(t0+400, 0))
		c := sipCall(livekit.SIPCallStatus_SCS_DISCONNECTED)
		c.EndedAt = ns0 + 100_000_000_777
		c.DisconnectReason = livekit.DisconnectReason_USER_REJECTED
		c.FromUri.Transport = livekit.SIPTransport_SIP_TRANSPORT_TLS
		ev.SipCall = c
		add("sip_call_ended_disconnect_reason", ev)
	}
	{
		ev := sipEv(livekit.AnalyticsEventType_SIP_PARTICIPANT_CREATED, "AE_SipPartCrt001", ts(t0+302, 0))
		ev.SipCall = sipCall(livekit.SIPCallStatus_SCS_PARTICIPANT_JOINED)
		ev.SipCall.FromUri.Transport = livekit.SIPTransport_SIP_TRANSPORT_TCP
		ev.ParticipantId = partSid2
		ev.Participant = &livekit.ParticipantInfo{Sid: partSid2, Kind: livekit.ParticipantInfo_SIP, State: livekit.ParticipantInfo_JOINING}
		add("sip_participant_created", ev)
	}
	{
		ev := eventBase(livekit.AnalyticsEventType_SIP_INBOUND_TRUNK_CREATED, "AE_SipInTrCrt001", ts(t0+290, 0))
		ev.SipTrunkId = "ST_Kx9mR4tQ"
		ev.SipInboundTrunk = &livekit.SIPInboundTrunkInfo{
			SipTrunkId: "ST_Kx9mR4tQ", Name: "carrier-in", Metadata: "m",
			Numbers: []string{"+15105550199"}, AllowedAddresses: []string{"198.51.100.0/24"}, AllowedNumbers: []string{"+15105550100", "+15105550101"},
			AuthUsername: "u", AuthPassword: "p",
			Headers:             map[string]string{"X-Carrier": "acme"},
			HeadersToAttributes: map[string]string{"X-Customer-Id": "customer.id"},
			RingingTimeout:      durationpb.New(30_000_000_000),
			MaxCallDuration:     &durationpb.Duration{Seconds: 3600, Nanos: 500},
		}
		add("sip_inbound_trunk_created_durations_maps", ev)
	}
	{
		ev := eventBase(livekit.AnalyticsEventType_SIP_INBOUND_TRUNK_DELETED, "AE_SipInTrDel001", ts(t0+291, 0))
		ev.SipTrunkId = "ST_Kx9mR4tQ"
		ev.SipInboundTrunk = &livekit.SIPInboundTrunkInfo{SipTrunkId: "ST_Kx9mR4tQ", RingingTimeout: &durationpb.Duration{}}
		add("sip_inbound_trunk_deleted_zero_duration", ev)
	}
	{
		ev := eventBase(livekit.AnalyticsEventType_SIP_OUTBOUND_TRUNK_CREATED, "AE_SipOutTrCrt01", ts(t0+292, 0))
		ev.SipTrunkId = "ST_Out9mR4tQ"
		ev.SipOutboundTrunk = &livekit.SIPOutboundTrunkInfo{
			SipTrunkId: "ST_Out9mR4tQ", Name: "carrier-out", Address: "sip.carrier.example:5061", Transport: livekit.SIPTransport_SIP_TRANSPORT_TLS,
			Numbers: []string{"+15105550199"}, AuthUsername: "u", AuthPassword: "p",
			Headers: map[string]string{"X-A": "1"}, HeadersToAttributes: map[string]string{"X-B": "b"},
		}
		add("sip_outbound_trunk_created", ev)
	}
	{
		ev := eventBase(livekit.AnalyticsEventType_SIP_OUTBOUND_TRUNK_DELETED, "AE_SipOutTrDel01", ts(t0+293, 0))
		ev.SipTrunkId = "ST_Out9mR4tQ"
		ev.SipOutboundTrunk = &livekit.SIPOutboundTrunkInfo{SipTrunkId: "ST_Out9mR4tQ", Transport: livekit.SIPTransport_SIP_TRANSPORT_AUTO}
		add("sip_outbound_trunk_deleted", ev)
	}
	{
		ev := eventBase(livekit.AnalyticsEventType_SIP_DISPATCH_RULE_CREATED, "AE_SipDrCrt00001", ts(t0+294, 0))
		ev.SipDispatchRuleId = "SDR_Mx2kP9qW"
		ev.SipDispatchRule = &livekit.SIPDispatchRuleInfo{
			SipDispatchRuleId: "SDR_Mx2kP9qW", Name: "individual", Metadata: "md",
			Rule:      &livekit.SIPDispatchRule{Rule: &livekit.SIPDispatchRule_DispatchRuleIndividual{DispatchRuleIndividual: &livekit.SIPDispatchRuleIndividual{RoomPrefix: "call-", Pin: "1234"}}},
			TrunkIds:  []string{"ST_Kx9mR4tQ"}, HidePhoneNumber: true, InboundNumbers: []string{"+15105550100"},
			Attributes: map[string]string{"k": "v"},
		}
		add("sip_dispatch_rule_created_individual", ev)
	}
	{
		ev := eventBase(livekit.AnalyticsEventType_SIP_DISPATCH_RULE_CREATED, "AE_SipDrCrt00002", ts(t0+295, 0))
		ev.SipDispatchRuleId = "SDR_Direct001"
		ev.SipDispatchRule = &livekit.SIPDispatchRuleInfo{SipDispatchRuleId: "SDR_Direct001",
			Rule: &livekit.SIPDispatchRule{Rule: &livekit.SIPDispatchRule_DispatchRuleDirect{DispatchRuleDirect: &livekit.SIPDispatchRuleDirect{RoomName: "lobby"}}}}
		add("sip_dispatch_rule_created_direct", ev)
	}
	{
		ev := eventBase(livekit.AnalyticsEventType_SIP_DISPATCH_RULE_DELETED, "AE_SipDrDel00001", ts(t0+296, 0))
		ev.SipDispatchRuleId = "SDR_Callee001"
		ev.SipDispatchRule = &livekit.SIPDispatchRuleInfo{SipDispatchRuleId: "SDR_Callee001",
			Rule: &livekit.SIPDispatchRule{Rule: &livekit.SIPDispatchRule_DispatchRuleCallee{DispatchRuleCallee: &livekit.SIPDispatchRuleCallee{RoomPrefix: "callee-", Randomize: true}}}}
		add("sip_dispatch_rule_deleted_callee", ev)
	}
	{
		ev := eventBase(livekit.AnalyticsEventType_SIP_DISPATCH_RULE_DELETED, "AE_SipDrDel00002", ts(t0+297, 0))
		ev.SipDispatchRuleId = "SDR_NoRule001"
		ev.SipDispatchRule = &livekit.SIPDispatchRuleInfo{SipDispatchRuleId: "SDR_NoRule001", Rule: &livekit.SIPDispatchRule{}}
		add("sip_dispatch_rule_deleted_rule_oneof_unset", ev)
	}

	// ---------- more egress / ingress / participant edge cases ----------
	{
		info := &livekit.EgressInfo{EgressId: "EG_TrackEgress3", RoomId: roomSid, Status: livekit.EgressStatus_EGRESS_ACTIVE,
			Request: &livekit.EgressInfo_Track{Track: &livekit.TrackEgressRequest{RoomName: roomName, TrackId: trackSid2,
				Output: &livekit.TrackEgressRequest_File{File: &livekit.DirectFileOutput{Filepath: "t.ogg", Output: &livekit.DirectFileOutput_Azure{Azure: &livekit.AzureBlobUpload{AccountName: "acct", ContainerName: "c"}}}}}}}
		add("egress_updated_track_direct_file_azure", egressEv(livekit.AnalyticsEventType_EGRESS_UPDATED, "AE_EgrUpdated005", ts(t0+141, 0), info))
	}
	{
		info := &livekit.EgressInfo{EgressId: "EG_TrackEgress4", RoomId: roomSid, Status: livekit.EgressStatus_EGRESS_STARTING,
			Request: &livekit.EgressInfo_Track{Track: &livekit.TrackEgressRequest{RoomName: roomName, TrackId: trackSid2,
				Output: &livekit.TrackEgressRequest_File{File: &livekit.DirectFileOutput{Filepath: "t.ogg", Output: &livekit.DirectFileOutput_AliOSS{AliOSS: &livekit.AliOSSUpload{Bucket: "oss", Region: "oss-eu-central-1"}}}}}}}
		add("egress_started_track_direct_file_alioss", egressEv(livekit.AnalyticsEventType_EGRESS_STARTED, "AE_EgrStarted006", ts(t0+142, 0), info))
	}
	{
		// oneof string case set to the empty string: still present on the wire
		info := &livekit.EgressInfo{EgressId: "EG_TrackEgress5", RoomId: roomSid,
			Request: &livekit.EgressInfo_Track{Track: &livekit.TrackEgressRequest{TrackId: trackSid2, Output: &livekit.TrackEgressRequest_WebsocketUrl{WebsocketUrl: ""}}}}
		add("egress_track_websocket_url_empty_string_oneof", egressEv(livekit.AnalyticsEventType_EGRESS_STARTED, "AE_EgrStarted007", ts(t0+143, 0), info))
	}
	{
		info := &livekit.EgressInfo{EgressId: "EG_RoomSegDep01", RoomId: roomSid, Status: livekit.EgressStatus_EGRESS_ACTIVE,
			Request: &livekit.EgressInfo_RoomComposite{RoomComposite: &livekit.RoomCompositeEgressRequest{RoomName: roomName, Layout: "speaker",
				Output: &livekit.RoomCompositeEgressRequest_Segments{Segments: &livekit.SegmentedFileOutput{Protocol: livekit.SegmentedFileProtocol_HLS_PROTOCOL, FilenameSuffix: livekit.SegmentedFileSuffix_TIMESTAMP, SegmentDuration: 2,
					Output: &livekit.SegmentedFileOutput_S3{S3: &livekit.S3Upload{Bucket: "hls"}}}},
				Options: &livekit.RoomCompositeEgressRequest_Preset{Preset: livekit.EncodingOptionsPreset_H264_1080P_60}}}}
		add("egress_updated_room_composite_deprecated_segments_s3", egressEv(livekit.AnalyticsEventType_EGRESS_UPDATED, "AE_EgrUpdated006", ts(t0+144, 0), info))
	}
	{
		// request oneof set to an empty message; empty list elements in outputs
		info := &livekit.EgressInfo{EgressId: "EG_EmptyReq0001", Request: &livekit.EgressInfo_RoomComposite{RoomComposite: &livekit.RoomCompositeEgressRequest{}}}
		add("egress_room_composite_empty_request_message", egressEv(livekit.AnalyticsEventType_EGRESS_STARTED, "AE_EgrStarted008", ts(t0+145, 0), info))
	}
	{
		info := &livekit.EgressInfo{EgressId: "EG_EmptyOut0001", Status: livekit.EgressStatus_EGRESS_STARTING,
			Request: &livekit.EgressInfo_Participant{Participant: &livekit.ParticipantEgressRequest{Identity: "alice",
				Options:     &livekit.ParticipantEgressRequest_Advanced{Advanced: &livekit.EncodingOptions{}},
				FileOutputs: []*livekit.EncodedFileOutput{{}}, StreamOutputs: []*livekit.StreamOutput{{}}, SegmentOutputs: []*livekit.SegmentedFileOutput{{}}, ImageOutputs: []*livekit.ImageOutput{{}}}}}
		add("egress_participant_empty_advanced_and_empty_output_elements", egressEv(livekit.AnalyticsEventType_EGRESS_STARTED, "AE_EgrStarted009", ts(t0+146, 0), info))
	}
	{
		mk := func(id string, req *livekit.EgressInfo) *livekit.AnalyticsEvent {
			return egressEv(livekit.AnalyticsEventType_EGRESS_UPDATED, id, ts(t0+147, int32(len(id))), req)
		}
		add("egress_participant_preset_99", mk("AE_EgrPreset99P", &livekit.EgressInfo{EgressId: "EG_P99", Request: &livekit.EgressInfo_Participant{Participant: &livekit.ParticipantEgressRequest{Options: &livekit.ParticipantEgressRequest_Preset{Preset: 99}}}}))
		add("egress_track_composite_preset_99", mk("AE_EgrPreset99TC", &livekit.EgressInfo{EgressId: "EG_TC99", Request: &livekit.EgressInfo_TrackComposite{TrackComposite: &livekit.TrackCompositeEgressRequest{Options: &livekit.TrackCompositeEgressRequest_Preset{Preset: 99}}}}))
		add("egress_web_preset_99", mk("AE_EgrPreset99Web", &livekit.EgressInfo{EgressId: "EG_W99", Request: &livekit.EgressInfo_Web{Web: &livekit.WebEgressRequest{Options: &livekit.WebEgressRequest_Preset{Preset: 99}}}}))
	}
	{
		info := &livekit.IngressInfo{IngressId: ingressID, InputType: livekit.IngressInput_RTMP_INPUT,
			Audio: &livekit.IngressAudioOptions{EncodingOptions: &livekit.IngressAudioOptions_Options{Options: &livekit.IngressAudioEncodingOptions{AudioCodec: livekit.AudioCodec_DEFAULT_AC, Bitrate: 48000}}},
			Video: &livekit.IngressVideoOptions{EncodingOptions: &livekit.IngressVideoOptions_Options{Options: &livekit.IngressVideoEncodingOptions{VideoCodec: livekit.VideoCodec_DEFAULT_VC}}}}
		add("ingress_created_custom_options_zero_codecs", ingressEv(livekit.AnalyticsEventType_INGRESS_CREATED, "AE_IngCreated002", ts(t0+201, 0), info))
	}
	{
		p := &livekit.ParticipantInfo{Sid: partSid, Identity: "viewer", State: livekit.ParticipantInfo_JOINED,
			Permission: &livekit.ParticipantPermission{CanSubscribe: true, CanPublishSources: []livekit.TrackSource{livekit.TrackSource_UNKNOWN}, CanUpdateMetadata: true}}
		ev := partEv(livekit.AnalyticsEventType_PARTICIPANT_JOINED, "AE_PartJoined003", ts(t0+32, 0), shortRoom(), p)
		ev.ClientInfo = &livekit.ClientInfo{Sdk: livekit.ClientInfo_ANDROID, Version: "2.9.0", DeviceModel: "Pixel 8", Os: "android", OsVersion: "14"}
		ev.ClientMeta = &livekit.AnalyticsClientMeta{ConnectionType: "tcp", ReconnectReason: livekit.ReconnectReason_RR_SIGNAL_DISCONNECTED}
		add("participant_joined_publish_sources_zero_sdk_android", ev)
	}

	// ---------- timestamps / ids ----------
	{
		// timestamp message present but zero (seconds 0, nanos 0)
		ev := roomEv(livekit.AnalyticsEventType_ROOM_CREATED, "AE_ZeroTs0000001", ts(0, 0), shortRoom())
		add("timestamp_zero_present", ev)
	}
	{
		// nanos with leading zeros are concatenated without padding in the fork's _id key
		ev := roomEv(livekit.AnalyticsEventType_ROOM_ENDED, "AE_SmallNanos001", ts(t0+5000, 7), shortRoom())
		add("timestamp_small_nanos_unpadded_in_id", ev)
	}
	{
		ev := roomEv(livekit.AnalyticsEventType_ROOM_ENDED, "AE_MaxNanos00001", ts(t0+5001, 999999999), shortRoom())
		add("timestamp_max_nanos", ev)
	}
	{
		// only the mandatory-ish bits: type 0, timestamp, nothing else
		add("minimal_event_type0_no_room", &livekit.AnalyticsEvent{Timestamp: ts(t0+6000, 0)})
	}
	{
		// participant_id + track_id + room in the _id key
		ev := roomEv(livekit.AnalyticsEventType_TRACK_UNPUBLISHED, "AE_IdAllParts001", ts(t0+6001, 10), &livekit.Room{Sid: roomSid})
		ev.ParticipantId = partSid
		ev.TrackId = trackSid
		add("id_key_room_participant_track", ev)
	}
	{
		// track_id without participant_id, empty room sid
		ev := roomEv(livekit.AnalyticsEventType_TRACK_MUTED, "AE_IdTrackOnly01", ts(t0+6002, 0), &livekit.Room{Name: "x"})
		ev.TrackId = trackSid
		add("id_key_empty_room_sid_track_only", ev)
	}

	// ---------- machine-filled: every field of every message set ----------
	for k := 0; k < 5; k++ {
		ev := &livekit.AnalyticsEvent{}
		f := &filler{oneofPick: k}
		f.fill(ev.ProtoReflect())
		ev.Type = []livekit.AnalyticsEventType{
			livekit.AnalyticsEventType_EGRESS_STARTED, livekit.AnalyticsEventType_EGRESS_UPDATED,
			livekit.AnalyticsEventType_EGRESS_ENDED, livekit.AnalyticsEventType_INGRESS_STARTED,
			livekit.AnalyticsEventType_SIP_CALL_ENDED}[k]
		ev.Timestamp = ts(t0+7000+int64(k), int32(k*111111111))
		add("all_fields_set_max_enums_oneof_pick"+string(rune('0'+k)), ev)
	}
	for k := 0; k < 2; k++ {
		ev := &livekit.AnalyticsEvent{}
		f := &filler{oneofPick: k, enumUnknown: true}
		f.fill(ev.ProtoReflect())
		ev.Timestamp = ts(t0+7100+int64(k), 0)
		add("all_fields_set_unknown_enums_oneof_pick"+string(rune('0'+k)), ev)
	}
	return cs
}

func analyticsStream(ssrc uint32) *livekit.AnalyticsStream {
	return &livekit.AnalyticsStream{
		Ssrc: ssrc, PrimaryPackets: 2700, PrimaryBytes: 3_100_000, RetransmitPackets: 12, RetransmitBytes: 14_400,
		PaddingPackets: 4, PaddingBytes: 1024, PacketsLost: 3, Frames: 300, Rtt: 42, Jitter: 7, Nacks: 9, Plis: 1, Firs: 0,
		StartTime: ts(t0+60, 0), EndTime: ts(t0+70, 0), PacketsOutOfOrder: 1,
	}
}

func buildStats() []corpusCase {
	var cs []corpusCase
	add := func(name string, st *livekit.AnalyticsStat) {
		cs = append(cs, corpusCase{Name: name, Kind: "stat", Msg: st})
	}
	base := func(id string, kind livekit.StreamType, tsv *timestamppb.Timestamp) *livekit.AnalyticsStat {
		return &livekit.AnalyticsStat{Id: id, Kind: kind, TimeStamp: tsv, Node: nodeID, RoomId: roomSid, RoomName: roomName, ParticipantId: partSid, TrackId: trackSid}
	}
	{
		st := base("AS_UpVideo000001", livekit.StreamType_UPSTREAM, ts(t0+70, 0))
		st.Score = 4.3
		st.MinScore = 3.9
		st.MedianScore = 4.35
		st.Mime = "video/VP8"
		s := analyticsStream(1111111111)
		s.VideoLayers = []*livekit.AnalyticsVideoLayer{
			{Layer: 0, Packets: 600, Bytes: 400_000, Frames: 300},
			{Layer: 1, Packets: 900, Bytes: 900_000, Frames: 300},
			{Layer: 2, Packets: 1200, Bytes: 1_800_000, Frames: 300},
		}
		st.Streams = []*livekit.AnalyticsStream{s}
		add("stat_upstream_kind0_video_layers_scores", st)
	}
	{
		st := base("AS_DownAudio0001", livekit.StreamType_DOWNSTREAM, ts(t0+70, 500000000))
		st.ParticipantId = partSid2
		st.TrackId = trackSid2
		st.Score = 5
		st.MinScore = 5
		st.MedianScore = 5
		st.Mime = "audio/opus"
		st.Streams = []*livekit.AnalyticsStream{{Ssrc: 4000000001, PrimaryPackets: 500, PrimaryBytes: 40_000, Jitter: 2, Rtt: 20}}
		add("stat_downstream_audio_integer_scores", st)
	}
	{
		st := base("AS_ZeroScore0001", livekit.StreamType_UPSTREAM, ts(t0+80, 0))
		st.Score = 0
		st.MinScore = 0
		st.MedianScore = 0
		st.Streams = []*livekit.AnalyticsStream{{Ssrc: 1, PacketsLost: 500}}
		add("stat_zero_scores", st)
	}
	{
		st := base("AS_BigInts000001", livekit.StreamType_DOWNSTREAM, ts(t0+90, 1))
		st.Score = 3.1415927
		st.MinScore = 1.0000001
		st.MedianScore = 2.7182817
		s := analyticsStream(4294967295)
		s.PrimaryBytes = 9007199254740993 // 2^53+1
		s.RetransmitBytes = 18446744073709551615
		s.PaddingBytes = 9007199254740992 // 2^53
		s.PrimaryPackets = 4294967295
		s.VideoLayers = []*livekit.AnalyticsVideoLayer{{Layer: -1, Bytes: 18446744073709551614, Packets: 4294967295, Frames: 1}}
		st.Streams = []*livekit.AnalyticsStream{s}
		add("stat_ints_above_2pow53_and_uint32_max", st)
	}
	{
		st := base("AS_MultiStream01", livekit.StreamType_UPSTREAM, ts(t0+100, 123))
		st.Score = 4.1
		st.MinScore = 2.2
		st.MedianScore = 4.4
		st.Mime = "video/H264"
		s1 := analyticsStream(10)
		s1.VideoLayers = []*livekit.AnalyticsVideoLayer{{Layer: 0, Packets: 1}}
		s2 := analyticsStream(20)
		s2.StartTime = ts(t0+60, 1)
		s2.EndTime = ts(0, 0)
		st.Streams = []*livekit.AnalyticsStream{s1, s2, {}}
		add("stat_multiple_streams_incl_empty_stream_and_zero_ts", st)
	}
	{
		st := base("AS_NoStreams0001", livekit.StreamType_DOWNSTREAM, ts(t0+110, 0))
		st.Score = 0.5
		add("stat_no_streams_nanos0", st)
	}
	{
		st := &livekit.AnalyticsStat{TimeStamp: ts(t0+120, 0)}
		add("stat_minimal_all_ids_empty_kind0", st)
	}
	{
		st := &livekit.AnalyticsStat{Kind: 99, TimeStamp: ts(t0+130, 9), RoomId: roomSid, Node: nodeID, Score: 1}
		add("stat_unknown_kind_99", st)
	}
	{
		st := base("AS_ZeroTs0000001", livekit.StreamType_UPSTREAM, ts(0, 0))
		st.Score = 4
		add("stat_timestamp_zero_present", st)
	}
	{
		st := base("AS_AnalyticsKey1", livekit.StreamType_DOWNSTREAM, ts(t0+140, 999999999))
		st.AnalyticsKey = "ak_live_123"
		st.Node = ""
		st.Score = 4.5
		st.MinScore = 4.25
		st.MedianScore = 4.5
		add("stat_analytics_key_no_node_max_nanos", st)
	}
	{
		st := base("AS_NegScore00001", livekit.StreamType_UPSTREAM, ts(t0+150, 0))
		st.Score = -1.5
		st.MinScore = float32(math.SmallestNonzeroFloat32)
		st.MedianScore = math.MaxFloat32
		add("stat_negative_and_extreme_float_scores", st)
	}
	{
		st := base("AS_Screen0000001", livekit.StreamType_UPSTREAM, ts(t0+160, 0))
		st.TrackId = "TR_ScreenShare01"
		st.Mime = "video/VP9"
		st.Score = 2.8
		st.MinScore = 1.2
		st.MedianScore = 3.0
		s := analyticsStream(77)
		s.VideoLayers = []*livekit.AnalyticsVideoLayer{{Layer: 0, Packets: 0, Bytes: 0, Frames: 0}}
		st.Streams = []*livekit.AnalyticsStream{s}
		add("stat_video_layer_all_zero_values", st)
	}
	{
		st := base("AS_Subscriber001", livekit.StreamType_DOWNSTREAM, ts(t0+170, 1000))
		st.ParticipantId = partSid2
		st.Score = 3.7
		st.MinScore = 3.0
		st.MedianScore = 3.8
		st.Mime = "video/VP8"
		s := analyticsStream(2222222222)
		s.VideoLayers = []*livekit.AnalyticsVideoLayer{{Layer: 1, Packets: 900, Bytes: 900_000, Frames: 300}}
		st.Streams = []*livekit.AnalyticsStream{s}
		add("stat_downstream_video_single_layer", st)
	}
	{
		st := base("AS_PartOnly00001", livekit.StreamType_DOWNSTREAM, ts(t0+180, 0))
		st.TrackId = ""
		st.Score = 4.2
		st.MedianScore = 4.2
		st.MinScore = 4.2
		add("stat_no_track_id", st)
	}
	{
		st := base("AS_Audio00000002", livekit.StreamType_UPSTREAM, ts(t0+190, 250000000))
		st.TrackId = trackSid2
		st.Mime = "audio/red"
		st.Score = 4.45
		st.MinScore = 4.1
		st.MedianScore = 4.5
		st.Streams = []*livekit.AnalyticsStream{{Ssrc: 555, PrimaryPackets: 500, PrimaryBytes: 52_000, RetransmitPackets: 3, RetransmitBytes: 300, PacketsLost: 1, Jitter: 12, Rtt: 55, Nacks: 3,
			StartTime: ts(t0+180, 250000000), EndTime: ts(t0+190, 250000000)}}
		add("stat_upstream_audio_stream_times_with_nanos", st)
	}
	{
		st := base("AS_Unicode000001", livekit.StreamType_UPSTREAM, ts(t0+191, 0))
		st.RoomName = "réunion <équipe> & \"co\""
		st.Score = 3.33
		add("stat_room_name_special_chars", st)
	}
	{
		st := base("AS_ManyLayers001", livekit.StreamType_UPSTREAM, ts(t0+192, 0))
		st.Score = 4.05
		st.MinScore = 3.95
		st.MedianScore = 4.05
		st.Mime = "video/AV1"
		s1 := analyticsStream(1)
		s1.VideoLayers = []*livekit.AnalyticsVideoLayer{{Layer: 0, Packets: 10, Bytes: 1000, Frames: 10}, {Layer: 1, Packets: 20, Bytes: 4000, Frames: 10}, {Layer: 2, Packets: 30, Bytes: 9000, Frames: 10}, {Layer: 3, Packets: 40, Bytes: 16000, Frames: 10}}
		s2 := analyticsStream(2)
		s2.VideoLayers = []*livekit.AnalyticsVideoLayer{{Layer: 0, Packets: 5}}
		st.Streams = []*livekit.AnalyticsStream{s1, s2}
		add("stat_two_streams_many_layers", st)
	}
	{
		st := base("AS_NoRoom0000001", livekit.StreamType_DOWNSTREAM, ts(t0+193, 0))
		st.RoomId = ""
		st.RoomName = ""
		st.Node = ""
		st.Score = 1.1
		add("stat_no_room_no_node", st)
	}
	for k := 0; k < 2; k++ {
		st := &livekit.AnalyticsStat{}
		f := &filler{enumUnknown: k == 1}
		f.fill(st.ProtoReflect())
		st.TimeStamp = ts(t0+200+int64(k), int32(k*5))
		add("stat_all_fields_set"+[]string{"", "_unknown_enums"}[k], st)
	}
	return cs
}

// ---------- reflection filler: sets every field of every reachable message ----------

type filler struct {
	oneofPick   int
	enumUnknown bool
	seq         int
}

func (f *filler) next() int { f.seq++; return f.seq }

func (f *filler) fill(m protoreflect.Message) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		n := f.next()
		m.Set(md.Fields().ByName("seconds"), protoreflect.ValueOfInt64(t0+int64(n)))
		m.Set(md.Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(n*1000+7)))
		return
	case "google.protobuf.Duration":
		n := f.next()
		m.Set(md.Fields().ByName("seconds"), protoreflect.ValueOfInt64(int64(n)))
		m.Set(md.Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(n*1000+7)))
		return
	}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if od.Fields().Get(f.oneofPick%od.Fields().Len()) != fd {
				continue
			}
		}
		switch {
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for j := 0; j < 2; j++ {
				mp.Set(f.scalar(fd.MapKey()).MapKey(), f.value(mp.NewValue, fd.MapValue()))
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := 0; j < 2; j++ {
				l.Append(f.value(l.NewElement, fd))
			}
		case fd.Message() != nil:
			f.fill(m.Mutable(fd).Message())
		default:
			m.Set(fd, f.scalar(fd))
		}
	}
}

func (f *filler) value(newv func() protoreflect.Value, fd protoreflect.FieldDescriptor) protoreflect.Value {
	if fd.Message() != nil {
		v := newv()
		f.fill(v.Message())
		return v
	}
	return f.scalar(fd)
}

func (f *filler) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	n := f.next()
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		if f.enumUnknown {
			return protoreflect.ValueOfEnum(99)
		}
		vals := fd.Enum().Values()
		max := vals.Get(0).Number()
		for i := 0; i < vals.Len(); i++ {
			if vals.Get(i).Number() > max {
				max = vals.Get(i).Number()
			}
		}
		return protoreflect.ValueOfEnum(max)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(-n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(ns0 + int64(n)) // > 2^53
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(4294967295 - uint32(n))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(18446744073709551615 - uint64(n))
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n) + 0.1)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(n) + 0.1)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(string(fd.Name()) + "-" + itoa(n))
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{0, 1, 2, byte(n)})
	}
	panic("unhandled kind " + fd.Kind().String())
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

// Cases the fork cannot process (it panics); written to fork-panics.jsonl.
func buildPanicCases() []corpusCase {
	return []corpusCase{
		{Name: "event_without_timestamp", Kind: "event", Msg: &livekit.AnalyticsEvent{Type: livekit.AnalyticsEventType_ROOM_CREATED, Room: shortRoom(), RoomId: roomSid}},
		{Name: "stat_without_time_stamp", Kind: "stat", Msg: &livekit.AnalyticsStat{Kind: livekit.StreamType_UPSTREAM, RoomId: roomSid, Score: 4}},
		{Name: "stat_score_nan", Kind: "stat", Msg: &livekit.AnalyticsStat{TimeStamp: ts(t0, 0), RoomId: roomSid, Score: float32(math.NaN())}},
		{Name: "event_rtp_stats_infinite_double", Kind: "event", Msg: &livekit.AnalyticsEvent{Type: livekit.AnalyticsEventType_TRACK_PUBLISH_STATS, Timestamp: ts(t0, 0), RtpStats: &livekit.RTPStats{Bitrate: math.Inf(1)}}},
	}
}
