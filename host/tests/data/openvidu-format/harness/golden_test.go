// Golden-data harness for livekit-analytics-host (own code, not part of the fork).
//
// Copy this file, corpus_test.go and coverage_test.go into the fork's
// openvidu/analytics/ directory and run, from the fork's root:
//
//	GOLDEN_OUT=/some/dir go test ./openvidu/analytics/ -run TestGolden -count=1 -v
//
// Optional: GOLDEN_CORPUS_IN=/path/corpus.jsonl re-derives expected.jsonl from
// an existing corpus instead of building the corpus in corpus_test.go.
//
// For every message it calls the fork's own, unmodified functions exactly as
// MongoDatabaseClient.SendBatch does:
//
//	events: obtainMapInterfaceFromEvent -> parseEvent -> mongoParseEvent
//	stats:  obtainMapInterfaceFromStat  -> parseStat  -> mongoParseStat
//
// and then encodes the resulting map the way the mongo driver's InsertMany does
// (collection registry = bson.DefaultRegistry, no BSONOptions: bson.Marshal;
// ensureID leaves the document untouched because it already has an _id).

package analytics

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"google.golang.org/protobuf/proto"

	"github.com/openvidu/openvidu-livekit/openvidu/openviduconfig"
)

type corpusLine struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Proto string `json:"proto"`
}

type panicLine struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Proto string `json:"proto"`
	Panic string `json:"panic"`
}

// forkDocument runs the fork's insert-path code on one decoded message.
func forkDocument(kind string, msg proto.Message) (doc map[string]interface{}, panicked string) {
	defer func() {
		if r := recover(); r != nil {
			panicked = fmt.Sprint(r)
		}
	}()
	switch kind {
	case "event":
		event := msg.(*livekit.AnalyticsEvent)
		eventMap := obtainMapInterfaceFromEvent(event)
		parseEvent(eventMap, event)
		mongoParseEvent(eventMap, event)
		return eventMap, ""
	case "stat":
		stat := msg.(*livekit.AnalyticsStat)
		statMap := obtainMapInterfaceFromStat(stat)
		parseStat(statMap, stat)
		mongoParseStat(statMap, stat)
		return statMap, ""
	}
	panic("bad kind " + kind)
}

func decode(kind string, b []byte) (proto.Message, error) {
	var m proto.Message
	if kind == "event" {
		m = &livekit.AnalyticsEvent{}
	} else {
		m = &livekit.AnalyticsStat{}
	}
	return m, proto.Unmarshal(b, m)
}

func TestGolden(t *testing.T) {
	out := os.Getenv("GOLDEN_OUT")
	if out == "" {
		t.Skip("set GOLDEN_OUT")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	ANALYTICS_CONFIGURATION = &openviduconfig.AnalyticsConfig{Expiration: 24 * time.Hour}

	// ----- corpus -----
	var lines []corpusLine
	if in := os.Getenv("GOLDEN_CORPUS_IN"); in != "" {
		f, err := os.Open(in)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), 1<<24)
		for sc.Scan() {
			var l corpusLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, l)
		}
		f.Close()
	} else {
		for _, c := range append(buildEvents(), buildStats()...) {
			b, err := proto.Marshal(c.Msg)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			lines = append(lines, corpusLine{Name: c.Name, Kind: c.Kind, Proto: base64.StdEncoding.EncodeToString(b)})
		}
	}

	names := map[string]bool{}
	var corpusOut, expectedOut []byte
	var panics []panicLine
	var decoded []proto.Message
	for _, l := range lines {
		if names[l.Name] {
			t.Fatalf("duplicate name %s", l.Name)
		}
		names[l.Name] = true
		b, err := base64.StdEncoding.DecodeString(l.Proto)
		if err != nil {
			t.Fatal(err)
		}
		// The fork receives in-memory structs; the host receives the wire
		// encoding. Decoding the wire bytes is what both sides share.
		msg, err := decode(l.Kind, b)
		if err != nil {
			t.Fatalf("%s: %v", l.Name, err)
		}
		decoded = append(decoded, msg)
		doc, p := forkDocument(l.Kind, msg)
		if p != "" {
			t.Fatalf("%s: fork panicked: %s", l.Name, p)
		}
		id, ext := encodeDoc(t, l.Name, doc)
		cl, _ := json.Marshal(l)
		corpusOut = append(append(corpusOut, cl...), '\n')
		expectedOut = append(expectedOut, []byte(fmt.Sprintf(`{"name":%s,"_id":%q,"doc":%s}`+"\n", mustJSON(l.Name), id, ext))...)
	}

	if os.Getenv("GOLDEN_CORPUS_IN") == "" {
		for _, c := range buildPanicCases() {
			b, err := proto.Marshal(c.Msg)
			if err != nil {
				t.Fatalf("%s: %v", c.Name, err)
			}
			msg, err := decode(c.Kind, b)
			if err != nil {
				t.Fatal(err)
			}
			_, p := forkDocument(c.Kind, msg)
			if p == "" {
				t.Fatalf("%s: expected the fork to panic", c.Name)
			}
			panics = append(panics, panicLine{Name: c.Name, Kind: c.Kind, Proto: base64.StdEncoding.EncodeToString(b), Panic: p})
		}
		var po []byte
		for _, p := range panics {
			b, _ := json.Marshal(p)
			po = append(append(po, b...), '\n')
		}
		write(t, filepath.Join(out, "fork-panics.jsonl"), po)
		write(t, filepath.Join(out, "corpus.jsonl"), corpusOut)
	}
	write(t, filepath.Join(out, "expected.jsonl"), expectedOut)

	if cov := os.Getenv("GOLDEN_COVERAGE"); cov != "" {
		write(t, cov, []byte(coverageReport(decoded)))
	}
	t.Logf("%d messages, %d panic cases", len(lines), len(panics))
}

func mustJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func write(t *testing.T, path string, b []byte) {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// encodeDoc marshals the fork's document to BSON like the driver does, checks
// _id and openvidu_expire_at, replaces the latter by "<date>" and returns
// canonical Extended JSON v2 (field order as encoded).
func encodeDoc(t *testing.T, name string, doc map[string]interface{}) (string, string) {
	raw, err := bson.Marshal(doc)
	if err != nil {
		t.Fatalf("%s: bson: %v", name, err)
	}
	r := bson.Raw(raw)
	idv, err := r.LookupErr("_id")
	if err != nil || idv.Type != bsontype.String {
		t.Fatalf("%s: _id missing or not a string: %v", name, idv.Type)
	}
	exp, err := r.LookupErr("openvidu_expire_at")
	if err != nil || exp.Type != bsontype.DateTime {
		t.Fatalf("%s: openvidu_expire_at is %v, not a BSON date", name, exp.Type)
	}
	elems, err := r.Elements()
	if err != nil {
		t.Fatal(err)
	}
	var d bson.D
	for _, e := range elems {
		if e.Key() == "openvidu_expire_at" {
			d = append(d, bson.E{Key: e.Key(), Value: "<date>"})
		} else {
			d = append(d, bson.E{Key: e.Key(), Value: e.Value()})
		}
	}
	ext, err := bson.MarshalExtJSON(d, true, false)
	if err != nil {
		t.Fatalf("%s: extjson: %v", name, err)
	}
	// self-check: the Extended JSON parses back to the same BSON bytes
	var back bson.Raw
	if err := bson.UnmarshalExtJSON(ext, true, &back); err != nil {
		t.Fatalf("%s: extjson does not parse back: %v", name, err)
	}
	want, _ := bson.Marshal(d)
	if !bytes.Equal(back, want) {
		t.Fatalf("%s: extjson round trip differs", name)
	}
	return idv.StringValue(), string(ext)
}
