// Command test-worker stands in for LiveKit's egress and ingress services in the
// project's end-to-end tests: it connects to the Redis that livekit-server uses (psrpc's
// Redis message bus), registers as an egress worker and as an ingress worker the way the
// real services do, and reports every session's progress back through livekit-server's
// IOInfo service, so that livekit-server's own telemetry emits the EGRESS_* and INGRESS_*
// analytics events.
//
// It stands in for the media pipeline only: it records nothing, streams nothing, pulls
// nothing and joins no room. File sizes stay 0 and no tracks are published; every status
// change, id, timestamp and request echo is what the real services report for the same
// calls.
//
//	test-worker -redis 127.0.0.1:6379 [-active-after 300ms]
//	            [-livekit-url http://127.0.0.1:7880 -api-key K -api-secret S]
//
// With livekit-server's URL and an API key, an ingress's state gets its room's sid once it
// publishes, as a real ingress's does once it has joined the room.
//
// It prints "ready" on stdout once both workers are registered and runs until SIGINT or
// SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/livekit/protocol/rpc"
	"github.com/livekit/psrpc"
	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("redis", "127.0.0.1:6379", "livekit-server's Redis (host:port)")
	activeAfter := flag.Duration("active-after", 300*time.Millisecond,
		"how long a session stays STARTING (egress) or BUFFERING (ingress) before it reports ACTIVE / PUBLISHING")
	url := flag.String("livekit-url", "", "livekit-server's URL, to look up the rooms ingresses publish to")
	key := flag.String("api-key", "", "an API key of livekit-server (with -livekit-url)")
	secret := flag.String("api-secret", "", "its secret")
	flag.Parse()
	log.SetPrefix("test-worker: ")
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	if err := run(*addr, *activeAfter, newRoomLookup(*url, *key, *secret)); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, activeAfter time.Duration, rooms *roomLookup) error {
	rc := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := rc.Ping(ctx).Err()
	cancel()
	if err != nil {
		return fmt.Errorf("connecting to Redis at %s: %w", addr, err)
	}
	bus := psrpc.NewRedisMessageBus(rc)

	io, err := rpc.NewIOInfoClient(bus)
	if err != nil {
		return fmt.Errorf("creating the IOInfo client: %w", err)
	}
	egress, err := newEgressWorker(bus, io, activeAfter)
	if err != nil {
		return fmt.Errorf("registering the egress worker: %w", err)
	}
	ingress, err := newIngressWorker(bus, io, activeAfter, rooms)
	if err != nil {
		return fmt.Errorf("registering the ingress worker: %w", err)
	}
	fmt.Println("ready")

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
	log.Print("stopping")
	egress.shutdown()
	ingress.shutdown()
	io.Close()
	return rc.Close()
}

// report calls one IOInfo method with a bounded time, as the real services' session
// reporters do (they retry; a test worker logs and goes on).
func report(what, id string, call func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := call(ctx); err != nil {
		log.Printf("%s %s: %v", what, id, err)
	}
}
