// Coverage report for the golden corpus (own code, not part of the fork).

package analytics

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

type coverage struct {
	fieldSet   map[string]bool // field full name -> set at least once
	enumZero   map[string]bool
	enumKnown  map[string]bool // non-zero known value
	enumUnk    map[string]bool
	oneofCase  map[string]bool
	allFields  map[string]bool
	allEnums   map[string]bool
	allOneofs  map[string]bool
	eventTypes map[string]bool
}

func (c *coverage) declare(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) {
	if seen[md.FullName()] {
		return
	}
	seen[md.FullName()] = true
	fs := md.Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		c.allFields[string(fd.FullName())] = true
		if fd.Kind() == protoreflect.EnumKind {
			c.allEnums[string(fd.FullName())] = true
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			c.allOneofs[string(fd.FullName())] = true
		}
		if fd.IsMap() {
			continue
		}
		if fd.Message() != nil {
			c.declare(fd.Message(), seen)
		}
	}
}

func (c *coverage) enumVal(fd protoreflect.FieldDescriptor, n protoreflect.EnumNumber) {
	k := string(fd.FullName())
	switch {
	case n == 0:
		c.enumZero[k] = true
	case fd.Enum().Values().ByNumber(n) != nil:
		c.enumKnown[k] = true
	default:
		c.enumUnk[k] = true
	}
}

func (c *coverage) walk(m protoreflect.Message) {
	fs := m.Descriptor().Fields()
	for i := 0; i < fs.Len(); i++ {
		fd := fs.Get(i)
		has := m.Has(fd)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && has {
			c.oneofCase[string(fd.FullName())] = true
		}
		if fd.Kind() == protoreflect.EnumKind && !fd.IsList() {
			c.enumVal(fd, m.Get(fd).Enum())
		}
		if !has {
			continue
		}
		c.fieldSet[string(fd.FullName())] = true
		switch {
		case fd.IsMap():
		case fd.IsList():
			l := m.Get(fd).List()
			for j := 0; j < l.Len(); j++ {
				if fd.Message() != nil {
					c.walk(l.Get(j).Message())
				} else if fd.Kind() == protoreflect.EnumKind {
					c.enumVal(fd, l.Get(j).Enum())
				}
			}
		case fd.Message() != nil:
			c.walk(m.Get(fd).Message())
		}
	}
}

func coverageReport(msgs []proto.Message) string {
	c := &coverage{map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{},
		map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}}
	seen := map[protoreflect.FullName]bool{}
	c.declare((&livekit.AnalyticsEvent{}).ProtoReflect().Descriptor(), seen)
	c.declare((&livekit.AnalyticsStat{}).ProtoReflect().Descriptor(), seen)
	for _, m := range msgs {
		c.walk(m.ProtoReflect())
		if ev, ok := m.(*livekit.AnalyticsEvent); ok {
			c.eventTypes[ev.Type.String()] = true
		}
	}
	var b strings.Builder
	list := func(title string, all map[string]bool, ok map[string]bool) {
		var miss []string
		for k := range all {
			if !ok[k] {
				miss = append(miss, k)
			}
		}
		sort.Strings(miss)
		fmt.Fprintf(&b, "%s: %d/%d covered\n", title, len(all)-len(miss), len(all))
		for _, k := range miss {
			fmt.Fprintf(&b, "  missing %s\n", k)
		}
	}
	list("fields set", c.allFields, c.fieldSet)
	list("enum fields at zero", c.allEnums, c.enumZero)
	list("enum fields at known non-zero", c.allEnums, c.enumKnown)
	list("enum fields at unknown number", c.allEnums, c.enumUnk)
	list("oneof cases", c.allOneofs, c.oneofCase)
	allTypes := map[string]bool{}
	for _, n := range livekit.AnalyticsEventType_name {
		allTypes[n] = true
	}
	list("event types", allTypes, c.eventTypes)
	b.WriteString("\noneof JSON keys (Go field names):\n" + oneofJSONNames())
	return b.String()
}

// oneofJSONNames lists, for every oneof reachable from AnalyticsEvent /
// AnalyticsStat, the key encoding/json uses for the oneof (the Go field name)
// and for each case (the Go field name inside the wrapper struct).
func oneofJSONNames() string {
	var b strings.Builder
	seen := map[protoreflect.FullName]bool{}
	var walk func(md protoreflect.MessageDescriptor)
	walk = func(md protoreflect.MessageDescriptor) {
		if seen[md.FullName()] {
			return
		}
		seen[md.FullName()] = true
		mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
		if err == nil {
			ods := md.Oneofs()
			for i := 0; i < ods.Len(); i++ {
				od := ods.Get(i)
				if od.IsSynthetic() {
					continue
				}
				goType := reflect.TypeOf(mt.New().Interface()).Elem()
				oneofKey := ""
				for j := 0; j < goType.NumField(); j++ {
					if goType.Field(j).Tag.Get("protobuf_oneof") == string(od.Name()) {
						oneofKey = goType.Field(j).Name
					}
				}
				var cases []string
				for j := 0; j < od.Fields().Len(); j++ {
					fd := od.Fields().Get(j)
					m := mt.New()
					if fd.Message() != nil {
						m.Set(fd, protoreflect.ValueOfMessage(m.NewField(fd).Message()))
					} else {
						m.Set(fd, m.NewField(fd))
					}
					w := reflect.ValueOf(m.Interface()).Elem().FieldByName(oneofKey).Elem().Elem()
					cases = append(cases, fmt.Sprintf("%s=%q", fd.Name(), w.Type().Field(0).Name))
				}
				fmt.Fprintf(&b, "%s.%s -> %q: %s\n", md.FullName(), od.Name(), oneofKey, strings.Join(cases, ", "))
			}
		}
		fs := md.Fields()
		for i := 0; i < fs.Len(); i++ {
			if fd := fs.Get(i); fd.Message() != nil && !fd.IsMap() {
				walk(fd.Message())
			}
		}
	}
	walk((&livekit.AnalyticsEvent{}).ProtoReflect().Descriptor())
	walk((&livekit.AnalyticsStat{}).ProtoReflect().Descriptor())
	return b.String()
}
