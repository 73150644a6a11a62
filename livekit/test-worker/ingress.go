package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/rpc"
	"github.com/livekit/protocol/utils"
	"github.com/livekit/psrpc"
)

// ingressWorker answers livekit-server's ingress requests as the ingress service does for
// URL pull ingresses: StartIngress (no topic; affinity picks a worker) creates the
// ingress through IOInfo.CreateIngress in ENDPOINT_BUFFERING, reports that state, then
// ENDPOINT_PUBLISHING after activeAfter; UpdateIngress and DeleteIngress are hosted on
// the ingress id's topic while it runs (the state is reported before DeleteIngress
// answers, since livekit-server forgets the ingress right after).
type ingressWorker struct {
	rpc.UnimplementedIngressHandlerServer

	io          rpc.IOInfoClient
	internal    rpc.IngressInternalServer
	handler     rpc.IngressHandlerServer
	activeAfter time.Duration
	rooms       *roomLookup

	mu       sync.Mutex
	sessions map[string]*ingressSession
}

type ingressSession struct {
	mu   sync.Mutex
	info *livekit.IngressInfo
}

func newIngressWorker(bus psrpc.MessageBus, io rpc.IOInfoClient, activeAfter time.Duration, rooms *roomLookup) (*ingressWorker, error) {
	w := &ingressWorker{io: io, activeAfter: activeAfter, rooms: rooms, sessions: map[string]*ingressSession{}}
	var err error
	if w.internal, err = rpc.NewIngressInternalServer(w, bus); err != nil {
		return nil, err
	}
	if w.handler, err = rpc.NewIngressHandlerServer(w, bus); err != nil {
		return nil, err
	}
	if err = w.internal.RegisterListActiveIngressTopic(""); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *ingressWorker) shutdown() {
	w.internal.Shutdown()
	w.handler.Shutdown()
}

// StartIngressAffinity: URL pull ingresses only, as the ingress service starts nothing else.
func (w *ingressWorker) StartIngressAffinity(_ context.Context, req *rpc.StartIngressRequest) float32 {
	if req.GetInfo().GetInputType() != livekit.IngressInput_URL_INPUT {
		return -1
	}
	return 1
}

// StartIngress starts a URL pull ingress: created in ENDPOINT_BUFFERING with a resource id
// of its own, publishing after activeAfter.
func (w *ingressWorker) StartIngress(_ context.Context, req *rpc.StartIngressRequest) (*livekit.IngressInfo, error) {
	if req.Info == nil || req.Info.IngressId == "" {
		return nil, psrpc.NewErrorf(psrpc.InvalidArgument, "no ingress info")
	}
	info := proto.Clone(req.Info).(*livekit.IngressInfo)
	now := time.Now().UnixNano()
	info.State = &livekit.IngressState{
		Status:     livekit.IngressState_ENDPOINT_BUFFERING,
		StartedAt:  now,
		UpdatedAt:  now,
		ResourceId: utils.NewGuid(utils.URLResourcePrefix),
	}
	s := &ingressSession{info: info}
	w.mu.Lock()
	w.sessions[info.IngressId] = s
	w.mu.Unlock()
	if err := w.handler.RegisterUpdateIngressTopic(info.IngressId); err != nil {
		return nil, err
	}
	if err := w.handler.RegisterDeleteIngressTopic(info.IngressId); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.io.CreateIngress(ctx, info); err != nil {
		w.end(info.IngressId)
		return nil, fmt.Errorf("creating ingress %s: %w", info.IngressId, err)
	}
	// The ingress service sends the state after creating (so that it is stored even if
	// the ingress existed already).
	w.state(info)
	log.Printf("ingress %s started (%s)", info.IngressId, info.State.ResourceId)
	answer := proto.Clone(info).(*livekit.IngressInfo)

	go func() {
		time.Sleep(w.activeAfter)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.info.State.Status != livekit.IngressState_ENDPOINT_BUFFERING {
			return
		}
		if sid, err := w.rooms.sid(s.info.RoomName); err != nil {
			log.Printf("ingress %s: %v", s.info.IngressId, err)
		} else {
			s.info.State.RoomId = sid
		}
		s.info.State.Status = livekit.IngressState_ENDPOINT_PUBLISHING
		s.info.State.UpdatedAt = time.Now().UnixNano()
		w.state(s.info)
	}()
	return answer, nil
}

// ListActiveIngress lists the ingresses this worker runs.
func (w *ingressWorker) ListActiveIngress(context.Context, *rpc.ListActiveIngressRequest) (*rpc.ListActiveIngressResponse, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	resp := &rpc.ListActiveIngressResponse{}
	for id, s := range w.sessions {
		resp.IngressIds = append(resp.IngressIds, id)
		resp.IngressSessions = append(resp.IngressSessions, &rpc.IngressSession{IngressId: id, ResourceId: s.info.State.ResourceId})
	}
	return resp, nil
}

// UpdateIngress takes the new settings of a running ingress and reports its state again
// (same status: livekit-server's telemetry sends INGRESS_UPDATED).
func (w *ingressWorker) UpdateIngress(_ context.Context, req *livekit.UpdateIngressRequest) (*livekit.IngressState, error) {
	s := w.session(req.IngressId)
	if s == nil {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "ingress %s not found", req.IngressId)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.Name != "" {
		s.info.Name = req.Name
	}
	if req.ParticipantName != "" {
		s.info.ParticipantName = req.ParticipantName
	}
	if req.ParticipantMetadata != "" {
		s.info.ParticipantMetadata = req.ParticipantMetadata
	}
	s.info.State.UpdatedAt = time.Now().UnixNano()
	w.state(s.info)
	return proto.Clone(s.info.State).(*livekit.IngressState), nil
}

// DeleteIngress stops a running ingress: a URL pull ends ENDPOINT_COMPLETE (a reusable
// one would go back to ENDPOINT_INACTIVE), reported before the answer.
func (w *ingressWorker) DeleteIngress(_ context.Context, req *livekit.DeleteIngressRequest) (*livekit.IngressState, error) {
	s := w.session(req.IngressId)
	if s == nil {
		return nil, psrpc.NewErrorf(psrpc.NotFound, "ingress %s not found", req.IngressId)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now().UnixNano()
	if s.info.Reusable {
		s.info.State.Status = livekit.IngressState_ENDPOINT_INACTIVE
	} else {
		s.info.State.Status = livekit.IngressState_ENDPOINT_COMPLETE
	}
	s.info.State.EndedAt = now
	s.info.State.UpdatedAt = now
	w.state(s.info)
	go w.end(req.IngressId) // (a handler does not leave its own topic while it runs)
	log.Printf("ingress %s ended", req.IngressId)
	return proto.Clone(s.info.State).(*livekit.IngressState), nil
}

// DeleteWHIPResource is not served: this worker starts no WHIP sessions.
func (w *ingressWorker) DeleteWHIPResource(context.Context, *rpc.DeleteWHIPResourceRequest) (*emptypb.Empty, error) {
	return nil, psrpc.ErrUnimplemented
}

func (w *ingressWorker) session(id string) *ingressSession {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sessions[id]
}

// state reports info's state through IOInfo.UpdateIngressState (livekit-server's
// telemetry: PUBLISHING → INGRESS_STARTED, BUFFERING or an unchanged status →
// INGRESS_UPDATED, INACTIVE/COMPLETE/ERROR → INGRESS_ENDED).
func (w *ingressWorker) state(info *livekit.IngressInfo) {
	report("UpdateIngressState", info.IngressId, func(ctx context.Context) error {
		_, err := w.io.UpdateIngressState(ctx, &rpc.UpdateIngressStateRequest{
			IngressId: info.IngressId,
			State:     info.State,
		})
		return err
	})
}

func (w *ingressWorker) end(id string) {
	w.handler.DeregisterUpdateIngressTopic(id)
	w.handler.DeregisterDeleteIngressTopic(id)
	w.mu.Lock()
	delete(w.sessions, id)
	w.mu.Unlock()
}
