package main

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/livekit/protocol/egress"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/protocol/utils"
)

// streams maps each stream output's URL, as requested, to its result (whose URL is
// redacted), as the egress service keys its streams by the URL it was given.
type streams map[string]*livekit.StreamInfo

// add is the result of a new stream output to url: its URL with the stream key
// redacted, ACTIVE.
func (s streams) add(url string) *livekit.StreamInfo {
	redacted, _ := utils.RedactStreamKey(url)
	info := &livekit.StreamInfo{Url: redacted, Status: livekit.StreamInfo_ACTIVE}
	s[url] = info
	return info
}

// newEgressInfo is the EgressInfo the real service reports for req before its pipeline
// starts: EGRESS_STARTING, the request echoed with its credentials and stream keys
// redacted, the source type, and one result per output (files, streams, segments,
// images), as in the egress service's pipeline config; with its streams.
func newEgressInfo(req *rpc.StartEgressRequest) (*livekit.EgressInfo, streams, error) {
	out := streams{}
	info, err := describe(req, out)
	return info, out, err
}

func describe(req *rpc.StartEgressRequest, out streams) (*livekit.EgressInfo, error) {
	if req.EgressId == "" {
		return nil, fmt.Errorf("no egress id")
	}
	now := time.Now().UnixNano()
	info := &livekit.EgressInfo{
		EgressId:   req.EgressId,
		RoomId:     req.RoomId,
		RoomName:   req.RoomName,
		Status:     livekit.EgressStatus_EGRESS_STARTING,
		StartedAt:  now,
		UpdatedAt:  now,
		RetryCount: req.RetryCount,
	}
	switch r := req.Request.(type) {
	case *rpc.StartEgressRequest_RoomComposite:
		clone := proto.Clone(r.RoomComposite).(*livekit.RoomCompositeEgressRequest)
		egress.RedactEncodedOutputs(clone)
		info.Request = &livekit.EgressInfo_RoomComposite{RoomComposite: clone}
		info.RoomName = r.RoomComposite.RoomName
		info.SourceType = livekit.EgressSourceType_EGRESS_SOURCE_TYPE_WEB
		return info, encodedResults(info, out, r.RoomComposite, r.RoomComposite)
	case *rpc.StartEgressRequest_Web:
		clone := proto.Clone(r.Web).(*livekit.WebEgressRequest)
		egress.RedactEncodedOutputs(clone)
		info.Request = &livekit.EgressInfo_Web{Web: clone}
		info.SourceType = livekit.EgressSourceType_EGRESS_SOURCE_TYPE_WEB
		if r.Web.Url == "" {
			return nil, fmt.Errorf("web egress without url")
		}
		return info, encodedResults(info, out, r.Web, r.Web)
	case *rpc.StartEgressRequest_Participant:
		clone := proto.Clone(r.Participant).(*livekit.ParticipantEgressRequest)
		egress.RedactEncodedOutputs(clone)
		info.Request = &livekit.EgressInfo_Participant{Participant: clone}
		info.RoomName = r.Participant.RoomName
		info.SourceType = livekit.EgressSourceType_EGRESS_SOURCE_TYPE_SDK
		if r.Participant.Identity == "" {
			return nil, fmt.Errorf("participant egress without identity")
		}
		return info, encodedResults(info, out, r.Participant, nil)
	case *rpc.StartEgressRequest_TrackComposite:
		clone := proto.Clone(r.TrackComposite).(*livekit.TrackCompositeEgressRequest)
		egress.RedactEncodedOutputs(clone)
		info.Request = &livekit.EgressInfo_TrackComposite{TrackComposite: clone}
		info.RoomName = r.TrackComposite.RoomName
		info.SourceType = livekit.EgressSourceType_EGRESS_SOURCE_TYPE_SDK
		return info, encodedResults(info, out, r.TrackComposite, r.TrackComposite)
	case *rpc.StartEgressRequest_Track:
		clone := proto.Clone(r.Track).(*livekit.TrackEgressRequest)
		egress.RedactDirectOutputs(clone)
		info.Request = &livekit.EgressInfo_Track{Track: clone}
		info.RoomName = r.Track.RoomName
		info.SourceType = livekit.EgressSourceType_EGRESS_SOURCE_TYPE_SDK
		if r.Track.TrackId == "" {
			return nil, fmt.Errorf("track egress without track id")
		}
		switch {
		case r.Track.GetFile() != nil:
			file := &livekit.FileInfo{Filename: filename(r.Track.GetFile().Filepath, info)}
			info.FileResults = []*livekit.FileInfo{file}
			info.Result = &livekit.EgressInfo_File{File: file}
		case r.Track.GetWebsocketUrl() != "":
			info.StreamResults = []*livekit.StreamInfo{out.add(r.Track.GetWebsocketUrl())}
		default:
			return nil, fmt.Errorf("track egress without output")
		}
		return info, nil
	default:
		return nil, fmt.Errorf("request %T is not handled by the test worker", req.Request)
	}
}

// encodedResults fills info's results from the outputs of an encoded request (and its
// deprecated single output, when it has one).
func encodedResults(info *livekit.EgressInfo, results streams, out egress.EncodedOutput, old egress.EncodedOutputDeprecated) error {
	files, streams, segments := out.GetFileOutputs(), out.GetStreamOutputs(), out.GetSegmentOutputs()
	if old != nil {
		if f := old.GetFile(); f != nil {
			files = append(files, f)
		}
		if s := old.GetStream(); s != nil {
			streams = append(streams, s)
		}
		if s := old.GetSegments(); s != nil {
			segments = append(segments, s)
		}
	}
	if len(files)+len(streams)+len(segments)+len(out.GetImageOutputs()) == 0 {
		return fmt.Errorf("no output")
	}
	if len(files) > 1 || len(streams) > 1 || len(segments) > 1 {
		return fmt.Errorf("more than one output of a kind")
	}
	for _, f := range files {
		info.FileResults = append(info.FileResults, &livekit.FileInfo{Filename: filename(f.Filepath, info)})
	}
	for _, s := range streams {
		if len(s.Urls) == 0 && len(files)+len(segments)+len(out.GetImageOutputs()) == 0 {
			return fmt.Errorf("stream output without urls")
		}
		for _, url := range s.Urls {
			info.StreamResults = append(info.StreamResults, results.add(url))
		}
	}
	for _, s := range segments {
		prefix := s.FilenamePrefix
		if prefix == "" {
			prefix = info.EgressId
		}
		playlist := s.PlaylistName
		if playlist == "" {
			playlist = prefix + ".m3u8"
		}
		info.SegmentResults = append(info.SegmentResults, &livekit.SegmentsInfo{
			PlaylistName: filename(playlist, info), LivePlaylistName: s.LivePlaylistName,
		})
	}
	for _, img := range out.GetImageOutputs() {
		info.ImageResults = append(info.ImageResults, &livekit.ImagesInfo{FilenamePrefix: filename(img.FilenamePrefix, info)})
	}
	// The deprecated single result, set when there is one output only.
	switch {
	case len(info.FileResults) == 1 && len(info.StreamResults)+len(info.SegmentResults)+len(info.ImageResults) == 0:
		info.Result = &livekit.EgressInfo_File{File: info.FileResults[0]}
	case len(info.StreamResults) > 0 && len(info.FileResults)+len(info.SegmentResults)+len(info.ImageResults) == 0:
		info.Result = &livekit.EgressInfo_Stream{Stream: &livekit.StreamInfoList{Info: info.StreamResults}}
	case len(info.SegmentResults) == 1 && len(info.FileResults)+len(info.StreamResults)+len(info.ImageResults) == 0:
		info.Result = &livekit.EgressInfo_Segments{Segments: info.SegmentResults[0]}
	}
	return nil
}

// filename expands the {room_name} and {time} templates of a file path the way the real
// service names its outputs (a default name when the path is empty).
func filename(path string, info *livekit.EgressInfo) string {
	if path == "" {
		path = "{room_name}-{time}"
	}
	stamp := time.Unix(0, info.StartedAt).UTC().Format("2006-01-02T150405")
	path = strings.ReplaceAll(path, "{room_name}", info.RoomName)
	path = strings.ReplaceAll(path, "{room_id}", info.RoomId)
	return strings.ReplaceAll(path, "{time}", stamp)
}

// finishOutputs marks every output ended at endedAt, as the pipeline does on EOS.
func finishOutputs(info *livekit.EgressInfo, endedAt int64) {
	for _, f := range info.FileResults {
		f.EndedAt = endedAt
		f.Duration = endedAt - f.StartedAt
	}
	for _, s := range info.StreamResults {
		if s.Status == livekit.StreamInfo_ACTIVE {
			s.Status = livekit.StreamInfo_FINISHED
			s.EndedAt = endedAt
			s.Duration = endedAt - s.StartedAt
		}
	}
	for _, s := range info.SegmentResults {
		s.EndedAt = endedAt
		s.Duration = endedAt - s.StartedAt
	}
	for _, i := range info.ImageResults {
		i.EndedAt = endedAt
	}
}
