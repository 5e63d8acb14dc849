package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

const tagScopedPolicy = "../../config/iam-policy-tag-scoped.json"

// resourceTagActions are the actions the daemon calls for which AWS's
// Service Authorization Reference lists the aws:ResourceTag/${TagKey}
// condition key (Actions, resources, and condition keys for Amazon Kinesis
// Data Streams). UpdateShardCount, EnableEnhancedMonitoring and ListStreams
// are not among them: a tag condition on them never matches, and an Allow
// with it would deny the call.
var resourceTagActions = []string{
	"kinesis:AddTagsToStream", "kinesis:DescribeStreamSummary", "kinesis:ListShards",
	"kinesis:ListTagsForStream", "kinesis:MergeShards", "kinesis:RemoveTagsFromStream", "kinesis:SplitShard",
}

// TestTagScopedIAMPolicy checks config/iam-policy-tag-scoped.json, the
// variant that confines the daemon's changes to streams tagged
// autoscale=enabled: it allows what the main policy allows and nothing
// more, puts the tag condition only on actions that support it, and
// confines the others to a stream-name prefix.
func TestTagScopedIAMPolicy(t *testing.T) {
	p := readIAMPolicyFile(t, tagScopedPolicy)
	if got, want := p.allowed(), readIAMPolicy(t).allowed(); !slices.Equal(got, want) {
		t.Errorf("the tag-scoped policy allows %v\nthe main policy allows %v", got, want)
	}
	changes := []string{"kinesis:UpdateShardCount", "kinesis:EnableEnhancedMonitoring", "kinesis:SplitShard",
		"kinesis:MergeShards", "kinesis:AddTagsToStream", "kinesis:RemoveTagsFromStream"}
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			t.Errorf("%s: effect %s", s.Sid, s.Effect)
		}
		tagged := s.Condition["StringEquals"]["aws:ResourceTag/autoscale"]
		resource, _ := s.Resource.(string)
		for _, a := range s.Action {
			if tagged != nil && !slices.Contains(resourceTagActions, a) {
				t.Errorf("%s: %s does not support aws:ResourceTag; the condition would deny it", s.Sid, a)
			}
			if !slices.Contains(changes, a) {
				continue
			}
			switch {
			case slices.Equal(tagged, []string{"enabled"}) && resource == "arn:aws:kinesis:REGION:ACCOUNT_ID:stream/*":
			case tagged == nil && resource == "arn:aws:kinesis:REGION:ACCOUNT_ID:stream/STREAM_PREFIX*":
			default:
				t.Errorf("%s: %s changes streams neither tagged autoscale=enabled nor named STREAM_PREFIX* (resource %v, tag %v)",
					s.Sid, a, s.Resource, tagged)
			}
			tagWrite := a == "kinesis:AddTagsToStream" || a == "kinesis:RemoveTagsFromStream"
			if got := s.Condition["ForAllValues:StringLike"]["aws:TagKeys"]; tagWrite && !slices.Equal(got, []string{"kinesis-autoscaler:*"}) {
				t.Errorf("%s: %s not confined to the daemon's own tags (aws:TagKeys %v)", s.Sid, a, got)
			}
		}
	}
}

// TestTagScopedIAMPolicyIsDocumented: the variant's caveats are written
// down where the reliability rules are.
func TestTagScopedIAMPolicyIsDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/reliability.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"config/iam-policy-tag-scoped.json", "aws:ResourceTag", "UpdateShardCount", "STREAM_PREFIX"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("docs/reliability.md does not mention %s", want)
		}
	}
}
