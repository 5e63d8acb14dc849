package awsfake

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/testkit/internal/awswire"
)

// StreamSpec is a stream to create, with the load on it.
type StreamSpec struct {
	Name     string
	Shards   int
	OnDemand bool
	// RecordsPerSecond is what producers try to write; ReadBytesPerSecond
	// what consumers try to read. CloudWatch metrics follow from them.
	RecordsPerSecond   float64
	ReadBytesPerSecond float64
	Tags               map[string]string
}

// StreamState is what the fake knows of a stream, for test assertions.
type StreamState struct {
	Shards int
	Status string
	Tags   map[string]string
	// Reshards are the times of the UpdateShardCount calls it accepted.
	Reshards []time.Time
}

type fakeStream struct {
	spec     StreamSpec
	arn      string
	created  time.Time
	shards   int
	target   int
	readyAt  time.Time // end of UPDATING; zero when ACTIVE
	tags     map[string]string
	reshards []time.Time
}

// settle ends an UPDATING that is over by now.
func (st *fakeStream) settle(now time.Time) {
	if !st.readyAt.IsZero() && !now.Before(st.readyAt) {
		st.shards, st.readyAt = st.target, time.Time{}
	}
}

func (st *fakeStream) status() string {
	if st.readyAt.IsZero() {
		return "ACTIVE"
	}
	return "UPDATING"
}

func (st *fakeStream) mode() string {
	if st.spec.OnDemand {
		return "ON_DEMAND"
	}
	return "PROVISIONED"
}

// AddStream creates an ACTIVE stream, or replaces the one of that name.
func (s *Server) AddStream(spec StreamSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &fakeStream{
		spec: spec, arn: "arn:aws:kinesis:us-east-1:123456789012:stream/" + spec.Name,
		created: s.opts.Clock(), shards: max(spec.Shards, 1), tags: maps.Clone(spec.Tags),
	}
	if st.tags == nil {
		st.tags = map[string]string{}
	}
	if _, ok := s.streams[spec.Name]; !ok {
		s.names = nil
	}
	s.streams[spec.Name] = st
}

// SetLoad changes the load on a stream.
func (s *Server) SetLoad(name string, recordsPerSecond, readBytesPerSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.streams[name]; st != nil {
		st.spec.RecordsPerSecond, st.spec.ReadBytesPerSecond = recordsPerSecond, readBytesPerSecond
	}
}

// Stream returns a stream's state; ok is false when there is none.
func (s *Server) Stream(name string) (StreamState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.streams[name]
	if st == nil {
		return StreamState{}, false
	}
	st.settle(s.opts.Clock())
	return StreamState{Shards: st.shards, Status: st.status(), Tags: maps.Clone(st.tags), Reshards: slices.Clone(st.reshards)}, true
}

// kinesis serves one Kinesis call.
func (s *Server) kinesis(w http.ResponseWriter, req awswire.Request) *apiError {
	var in struct {
		StreamName               string
		TargetShardCount         int
		Limit                    int
		ExclusiveStartStreamName string
		ExclusiveStartTagKey     string
		NextToken                string
		MaxResults               int
		Tags                     map[string]string
		TagKeys                  []string
	}
	if err := json.Unmarshal(req.Body, &in); err != nil {
		return badRequest("SerializationException", err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock()

	if req.Operation == "ListStreams" {
		return s.listStreams(w, now, in.Limit, in.ExclusiveStartStreamName, in.NextToken)
	}
	st := s.streams[req.Stream]
	if st == nil {
		return badRequest("ResourceNotFoundException", fmt.Sprintf("Stream %s under account 123456789012 not found.", req.Stream))
	}
	st.settle(now)
	switch req.Operation {
	case "DescribeStreamSummary":
		awswire.WriteJSON(w, http.StatusOK, map[string]any{"StreamDescriptionSummary": map[string]any{
			"StreamName": st.spec.Name, "StreamARN": st.arn, "StreamStatus": st.status(),
			"StreamModeDetails": map[string]string{"StreamMode": st.mode()}, "RetentionPeriodHours": 24,
			"StreamCreationTimestamp": float64(st.created.Unix()), "EnhancedMonitoring": []any{},
			"EncryptionType": "NONE", "OpenShardCount": st.shards, "ConsumerCount": 0,
		}})
	case "ListShards":
		shards := make([]map[string]any, st.shards)
		for i := range shards {
			shards[i] = map[string]any{"ShardId": fmt.Sprintf("shardId-%012d", i),
				"HashKeyRange":        map[string]string{"StartingHashKey": "0", "EndingHashKey": "1"},
				"SequenceNumberRange": map[string]string{"StartingSequenceNumber": "1"}}
		}
		awswire.WriteJSON(w, http.StatusOK, map[string]any{"Shards": shards})
	case "UpdateShardCount":
		return s.updateShardCount(w, st, now, in.TargetShardCount)
	case "ListTagsForStream":
		keys := slices.Sorted(maps.Keys(st.tags))
		if in.ExclusiveStartTagKey != "" {
			keys = slices.DeleteFunc(keys, func(k string) bool { return k <= in.ExclusiveStartTagKey })
		}
		limit := in.Limit
		if limit <= 0 || limit > 50 {
			limit = 50
		}
		more := len(keys) > limit
		keys = keys[:min(limit, len(keys))]
		tags := make([]map[string]string, len(keys))
		for i, k := range keys {
			tags[i] = map[string]string{"Key": k, "Value": st.tags[k]}
		}
		awswire.WriteJSON(w, http.StatusOK, map[string]any{"Tags": tags, "HasMoreTags": more})
	case "AddTagsToStream":
		if len(in.Tags) == 0 || len(in.Tags) > 10 {
			return badRequest("InvalidArgumentException", "between 1 and 10 tags per call")
		}
		merged := maps.Clone(st.tags)
		for k, v := range in.Tags {
			if len(k) > 128 || len(v) > 256 {
				return badRequest("InvalidArgumentException", "tag key or value too long")
			}
			merged[k] = v
		}
		if len(merged) > 50 {
			return badRequest("InvalidArgumentException", "a stream has at most 50 tags")
		}
		st.tags = merged
		awswire.WriteJSON(w, http.StatusOK, map[string]any{})
	case "RemoveTagsFromStream":
		for _, k := range in.TagKeys {
			delete(st.tags, k)
		}
		awswire.WriteJSON(w, http.StatusOK, map[string]any{})
	default:
		return badRequest("UnknownOperationException", "awsfake does not serve "+req.Operation)
	}
	return nil
}

// updateShardCount applies AWS's rules for UpdateShardCount.
func (s *Server) updateShardCount(w http.ResponseWriter, st *fakeStream, now time.Time, target int) *apiError {
	switch {
	case st.spec.OnDemand:
		return badRequest("ValidationException", "UpdateShardCount is only supported for streams in PROVISIONED mode")
	case st.status() != "ACTIVE":
		return badRequest("ResourceInUseException", fmt.Sprintf("Stream %s under account 123456789012 not ACTIVE, instead in state UPDATING", st.spec.Name))
	case target < 1 || target > 2*st.shards || 2*target < st.shards:
		return badRequest("InvalidArgumentException", fmt.Sprintf("UpdateShardCount from %d to %d: at most double and at least half", st.shards, target))
	case target == st.shards:
		return badRequest("InvalidArgumentException", fmt.Sprintf("stream %s already has %d shards", st.spec.Name, target))
	}
	recent := 0
	for _, t := range st.reshards {
		if now.Sub(t) < 24*time.Hour {
			recent++
		}
	}
	if recent >= MaxReshardsPerDay {
		return badRequest("LimitExceededException", fmt.Sprintf("stream %s: %d UpdateShardCount calls in the last 24 hours", st.spec.Name, recent))
	}
	st.reshards = append(st.reshards, now)
	from := st.shards
	st.target, st.readyAt = target, now.Add(s.opts.ReshardDuration)
	awswire.WriteJSON(w, http.StatusOK, map[string]any{"StreamName": st.spec.Name, "StreamARN": st.arn,
		"CurrentShardCount": from, "TargetShardCount": target})
	return nil
}

// listStreams pages through the streams in name order, with summaries.
func (s *Server) listStreams(w http.ResponseWriter, now time.Time, limit int, after, token string) *apiError {
	if limit <= 0 || limit > MaxStreamsPerListStreams {
		limit = MaxStreamsPerListStreams
	}
	if token != "" {
		after = strings.TrimPrefix(token, "after:")
	}
	names := s.sortedNames()
	from := sort.SearchStrings(names, after)
	if from < len(names) && names[from] == after {
		from++
	}
	page := names[from:min(from+limit, len(names))]
	summaries := make([]map[string]any, len(page))
	for i, n := range page {
		st := s.streams[n]
		st.settle(now)
		summaries[i] = map[string]any{"StreamName": n, "StreamARN": st.arn, "StreamStatus": st.status(),
			"StreamModeDetails": map[string]string{"StreamMode": st.mode()}, "StreamCreationTimestamp": float64(st.created.Unix())}
	}
	out := map[string]any{"StreamNames": page, "StreamSummaries": summaries, "HasMoreStreams": from+len(page) < len(names)}
	if from+len(page) < len(names) && len(page) > 0 {
		out["NextToken"] = "after:" + page[len(page)-1]
	}
	awswire.WriteJSON(w, http.StatusOK, out)
	return nil
}
