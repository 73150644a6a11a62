package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
)

// egressWorker answers livekit-server's egress requests as an egress service does: it
// takes StartEgress on the cluster topic (""), then hosts StopEgress and UpdateStream on
// the egress id's topic for as long as the egress runs, and reports each status change
// through IOInfo (CreateEgress, then UpdateEgress: ACTIVE, ENDING, COMPLETE).
type egressWorker struct {
	rpc.UnimplementedEgressHandlerServer

	io          rpc.IOInfoClient
	internal    rpc.EgressInternalServer
	handler     rpc.EgressHandlerServer
	activeAfter time.Duration

	mu       sync.Mutex
	sessions map[string]*egressSession
}

// egressSession is one running egress: its info, changed only under its lock.
type egressSession struct {
	mu      sync.Mutex
	info    *livekit.EgressInfo
	streams streams
}

func newEgressWorker(bus psrpc.MessageBus, io rpc.IOInfoClient, activeAfter time.Duration) (*egressWorker, error) {
	w := &egressWorker{io: io, activeAfter: activeAfter, sessions: map[string]*egressSession{}}
	var err error
	if w.internal, err = rpc.NewEgressInternalServer(w, bus); err != nil {
		return nil, err
	}
	if w.handler, err = rpc.NewEgressHandlerServer(w, bus); err != nil {
		return nil, err
	}
	// The real service lists its egresses on "" and takes new ones on its cluster id,
	// which is "" unless configured (livekit-server asks on "").
	if err = w.internal.RegisterListActiveEgressTopic(""); err != nil {
		return nil, err
	}
	if err = w.internal.RegisterStartEgressTopic(""); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *egressWorker) shutdown() {
	w.internal.Shutdown()
	w.handler.Shutdown()
}

// StartEgressAffinity: this worker takes every request it can describe.
func (w *egressWorker) StartEgressAffinity(_ context.Context, req *rpc.StartEgressRequest) float32 {
	if _, _, err := newEgressInfo(req); err != nil {
		return -1
	}
	return 1
}

// StartEgress validates the request, reports the egress as created (EGRESS_STARTING),
// answers with its info and reports it ACTIVE after activeAfter, as the real service
// does once its pipeline is playing.
func (w *egressWorker) StartEgress(_ context.Context, req *rpc.StartEgressRequest) (*livekit.EgressInfo, error) {
	info, streams, err := newEgressInfo(req)
	if err != nil {
		return nil, psrpc.NewError(psrpc.InvalidArgument, err)
	}
	w.mu.Lock()
	if _, ok := w.sessions[info.EgressId]; ok {
		w.mu.Unlock()
		return nil, psrpc.NewErrorf(psrpc.AlreadyExists, "egress %s already exists", info.EgressId)
	}
	s := &egressSession{info: info, streams: streams}
	w.sessions[info.EgressId] = s
	w.mu.Unlock()

	if err := w.handler.RegisterStopEgressTopic(info.EgressId); err != nil {
		return nil, err
	}
	if err := w.handler.RegisterUpdateStreamTopic(info.EgressId); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.io.CreateEgress(ctx, info); err != nil {
		w.end(info.EgressId)
		return nil, fmt.Errorf("reporting egress %s as created: %w", info.EgressId, err)
	}
	log.Printf("egress %s started (%s)", info.EgressId, info.RoomName)
	answer := proto.Clone(info).(*livekit.EgressInfo)

	go func() {
		time.Sleep(w.activeAfter)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.info.Status != livekit.EgressStatus_EGRESS_STARTING {
			return
		}
		now := time.Now().UnixNano()
		for _, f := range s.info.FileResults {
			f.StartedAt = now
		}
		for _, st := range s.info.StreamResults {
			if st.StartedAt == 0 {
				st.StartedAt = now
			}
		}
		for _, seg := range s.info.SegmentResults {
			seg.StartedAt = now
		}
		s.info.UpdateStatus(livekit.EgressStatus_EGRESS_ACTIVE)
		w.update(s.info)
	}()
	return answer, nil
}

// ListActiveEgress lists the egresses this worker runs.
func (w *egressWorker) ListActiveEgress(context.Context, *rpc.ListActiveEgressRequest) (*rpc.ListActiveEgressResponse, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]string, 0, len(w.sessions))
	for id := range w.sessions {
		ids = append(ids, id)
	}
	return &rpc.ListActiveEgressResponse{EgressIds: ids}, nil
}

// StopEgress ends an egress as the real pipeline does on the StopEgress API: ENDING is
// reported and answered; COMPLETE, with the outputs' end times, follows once the
// outputs are "finalized".
func (w *egressWorker) StopEgress(_ context.Context, req *livekit.StopEgressRequest) (*livekit.EgressInfo, error) {
	s := w.session(req.EgressId)
	if s == nil {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "egress %s not found", req.EgressId)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.info.SetEndReason(livekit.EndReasonAPI)
	switch s.info.Status {
	case livekit.EgressStatus_EGRESS_STARTING:
		s.info.SetAborted(livekit.MsgStoppedBeforeStarted)
		w.update(s.info)
		go w.end(req.EgressId) // (a handler does not leave its own topic while it runs)
		return proto.Clone(s.info).(*livekit.EgressInfo), nil
	case livekit.EgressStatus_EGRESS_ACTIVE:
		s.info.UpdateStatus(livekit.EgressStatus_EGRESS_ENDING)
		w.update(s.info)
	default:
		return nil, psrpc.NewErrorf(psrpc.FailedPrecondition, "egress %s is %s", req.EgressId, s.info.Status)
	}
	answer := proto.Clone(s.info).(*livekit.EgressInfo)

	go func() {
		time.Sleep(w.activeAfter)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.info.SetComplete()
		finishOutputs(s.info, s.info.EndedAt)
		w.update(s.info)
		w.end(req.EgressId)
		log.Printf("egress %s complete", req.EgressId)
	}()
	return answer, nil
}

// UpdateStream adds and removes stream URLs of a running egress and reports the change.
func (w *egressWorker) UpdateStream(_ context.Context, req *livekit.UpdateStreamRequest) (*livekit.EgressInfo, error) {
	s := w.session(req.EgressId)
	if s == nil {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "egress %s not found", req.EgressId)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.info.Status != livekit.EgressStatus_EGRESS_ACTIVE {
		return nil, psrpc.NewErrorf(psrpc.FailedPrecondition, "egress %s is %s", req.EgressId, s.info.Status)
	}
	now := time.Now().UnixNano()
	for _, url := range req.RemoveOutputUrls {
		if st := s.streams[url]; st == nil || st.Status != livekit.StreamInfo_ACTIVE {
			return nil, psrpc.NewErrorf(psrpc.NotFound, "egress %s does not stream to that url", req.EgressId)
		}
	}
	for _, url := range req.AddOutputUrls {
		if st := s.streams[url]; st != nil && st.Status == livekit.StreamInfo_ACTIVE {
			continue // already streaming there
		}
		st := s.streams.add(url)
		st.StartedAt = now
		s.info.StreamResults = append(s.info.StreamResults, st)
	}
	for _, url := range req.RemoveOutputUrls {
		st := s.streams[url]
		st.Status = livekit.StreamInfo_FINISHED
		st.EndedAt = now
		st.Duration = now - st.StartedAt
	}
	s.info.UpdatedAt = now
	w.update(s.info)
	return proto.Clone(s.info).(*livekit.EgressInfo), nil
}

func (w *egressWorker) session(id string) *egressSession {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sessions[id]
}

// update reports info through IOInfo.UpdateEgress (livekit-server's telemetry turns
// ACTIVE/ENDING into EGRESS_UPDATED, the final states into EGRESS_ENDED).
func (w *egressWorker) update(info *livekit.EgressInfo) {
	report("UpdateEgress", info.EgressId, func(ctx context.Context) error {
		_, err := w.io.UpdateEgress(ctx, info)
		return err
	})
}

// end forgets an egress and leaves its topics.
func (w *egressWorker) end(id string) {
	w.handler.DeregisterStopEgressTopic(id)
	w.handler.DeregisterUpdateStreamTopic(id)
	w.mu.Lock()
	delete(w.sessions, id)
	w.mu.Unlock()
}
