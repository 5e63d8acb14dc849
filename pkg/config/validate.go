package config

import (
	"slices"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/policy"

	"cmp"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	// regionPattern accepts the shape of an AWS region name (eu-west-1).
	regionPattern = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+$`)
	// snsTopicARNPattern accepts arn:PARTITION:sns:REGION:ACCOUNT:NAME.
	snsTopicARNPattern = regexp.MustCompile(
		`^arn:aws[-a-z]*:sns:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$`)
	// streamNamePattern accepts a Kinesis stream name.
	streamNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)
	// tableNamePattern accepts a DynamoDB table name.
	tableNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	// leaseNamePattern accepts the lease's key: printable, no spaces.
	leaseNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_.:/-]{1,255}$`)
)

// minThresholdGap is how far below scale_up_threshold scale_down_threshold
// must be, so that one scaling action does not undo the previous one.
const minThresholdGap = 0.1

// Validate checks the configuration: every value in its range, the keys that
// depend on each other consistent, stream names valid and unique. It returns
// nil, or an *Error listing every problem found, each naming its key.
//
// A stream's setting that equals the defaults block's is checked only there,
// so that one bad default is reported once rather than once per stream.
func (c *Config) Validate() error {
	return errorOf(c.File, c.validate(nil))
}

// validator collects problems, skipping those about keys whose value could
// not be decoded: the value it holds is a stand-in.
type validator struct {
	failed   map[string]bool
	problems []Problem
}

// add records a problem with key, unless key or one of the related keys the
// reason mentions could not be decoded.
func (v *validator) add(key, reason string, related ...string) {
	for _, k := range append(related, key) {
		if v.failed[k] {
			return
		}
	}
	v.problems = append(v.problems, Problem{Key: key, Reason: reason})
}

func (c *Config) validate(failed map[string]bool) []Problem {
	v := &validator{failed: failed}
	for _, k := range keys {
		if k.applies != nil && !k.applies(c) {
			continue
		}
		if !strings.HasPrefix(k.path, "defaults.") {
			if reason := outOfBounds(valueAt(k.field(c)), k.lo, k.hi, k.loOpen); reason != "" {
				v.add(k.path, reason)
			}
		}
	}
	if r := c.AWS.Region; r != "" && !regionPattern.MatchString(r) {
		v.add("aws.region", strconv.Quote(r)+" is not an AWS region name (e.g. eu-west-1)")
	}
	for _, e := range []struct{ key, url string }{
		{key: "aws.endpoints.kinesis", url: c.AWS.Endpoints.Kinesis},
		{key: "aws.endpoints.cloudwatch", url: c.AWS.Endpoints.CloudWatch},
		{key: "aws.endpoints.sns", url: c.AWS.Endpoints.SNS},
		{key: "aws.endpoints.dynamodb", url: c.AWS.Endpoints.DynamoDB},
	} {
		if e.url == "" {
			continue
		}
		u, err := url.Parse(e.url)
		switch shown := describe(redactURL(e.url)); {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			v.add(e.key, shown+" is not an http(s) URL with a host (e.g. http://localhost:4566)")
		case u.User != nil || shown != describe(e.url):
			v.add(e.key, shown+" carries user information (user:password@): credentials come from the AWS "+
				"credential chain, never from an endpoint, and are not printed")
		}
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		v.add("log.format", describe(c.Log.Format)+" is not one of "+strings.Join(logFormats, ", "))
	}
	if !slices.Contains(logLevels, c.Log.Level) {
		v.add("log.level", describe(c.Log.Level)+" is not one of "+strings.Join(logLevels, ", "))
	}
	if arn := c.Alerts.SNSTopicARN; arn != "" && !snsTopicARNPattern.MatchString(arn) {
		v.add("alerts.sns_topic_arn", describe(arn)+
			" is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME, ACCOUNT being 12 digits)")
	}

	if reason := checkListen(c.Metrics.Listen); reason != "" {
		v.add("metrics.listen", reason)
	}
	if t := c.Lease.Table; t != "" && !tableNamePattern.MatchString(t) {
		v.add("lease.table", describe(t)+" is not a DynamoDB table name (3 to 255 characters of a-z, A-Z, 0-9, _ . -)")
	}
	if n := c.Lease.Name; c.Lease.Enabled() && !leaseNamePattern.MatchString(n) {
		v.add("lease.name", describe(n)+" is not a lease name (1 to 255 characters of a-z, A-Z, 0-9, _ . : / -)")
	}
	for _, p := range tagPairs(c.Discover.Tags) {
		if p.reason != "" {
			v.add("discover.tags", p.reason)
		}
	}
	if p := c.Discover.NamePrefix; p != "" && !streamNamePattern.MatchString(p) {
		v.add("discover.name_prefix", describe(p)+
			" is not the start of a Kinesis stream name (1 to 128 characters of a-z, A-Z, 0-9, _ . -)")
	}

	v.checkSettings("defaults", c.Defaults, nil)

	if len(c.Streams) == 0 && !c.Discover.Enabled() {
		v.add(streamsKey, "at least one stream is required, unless discover.tags or discover.name_prefix is set")
	}
	firstIndex := map[string]int{}
	for i, s := range c.Streams {
		prefix := fmt.Sprintf("%s[%d]", streamsKey, i)
		if v.failed[prefix] {
			continue
		}
		nameKey := prefix + ".name"
		switch first, seen := firstIndex[s.Name]; {
		case s.Name == "":
			v.add(nameKey, "is missing or empty; every stream needs the name of its Kinesis stream")
		case !streamNamePattern.MatchString(s.Name):
			v.add(nameKey, describe(s.Name)+
				" is not a Kinesis stream name (1 to 128 characters of a-z, A-Z, 0-9, _ . -)")
		case seen:
			v.add(nameKey, fmt.Sprintf("%s is also the name of %s[%d]", strconv.Quote(s.Name), streamsKey, first))
		default:
			firstIndex[s.Name] = i
		}
		defaults := c.Defaults
		v.checkSettings(prefix, s.Settings, &defaults)
	}
	return v.problems
}

// checkSettings checks the settings at prefix ("defaults" or "streams[i]").
// For a stream, inherited is the defaults block: a setting equal to it is
// left to the defaults block's check.
func (v *validator) checkSettings(prefix string, s StreamSettings, inherited *StreamSettings) {
	reference := DefaultStreamSettings()
	if inherited != nil {
		reference = *inherited
	}
	// changed reports whether the setting differs from what it would be had
	// the entry not set it.
	changed := func(name string) bool {
		st, _ := settingNamed(name)
		return valueAt(st.field(&s)) != valueAt(st.field(&reference))
	}
	own := func(name string) bool { return inherited == nil || changed(name) }
	for _, st := range settings {
		if !own(st.name) {
			continue
		}
		if reason := outOfBounds(valueAt(st.field(&s)), st.lo, st.hi, st.loOpen); reason != "" {
			v.add(prefix+"."+st.name, reason)
		}
	}
	if own("headroom") && !policy.Headroom(s.Headroom).Valid() {
		v.add(prefix+".headroom", fmt.Sprintf("%q is not one of %s", s.Headroom, policy.HeadroomNames()))
	}
	minKey, maxKey := prefix+".min_shards", prefix+".max_shards"
	if (own("min_shards") || own("max_shards")) && s.MinShards > s.MaxShards {
		// Blame the key that was set, the other one keeping its default.
		if changed("max_shards") && !changed("min_shards") {
			v.add(maxKey, fmt.Sprintf("%d is less than min_shards %d", s.MaxShards, s.MinShards), minKey)
		} else {
			v.add(minKey, fmt.Sprintf("%d is greater than max_shards %d", s.MinShards, s.MaxShards), maxKey)
		}
	}
	upKey, downKey := prefix+".scale_up_threshold", prefix+".scale_down_threshold"
	gap := roundFloat(s.ScaleUpThreshold - s.ScaleDownThreshold)
	if (own("scale_down_threshold") || own("scale_up_threshold")) && !(gap > minThresholdGap) {
		up, down, step := formatValue(s.ScaleUpThreshold), formatValue(s.ScaleDownThreshold), formatValue(minThresholdGap)
		if changed("scale_up_threshold") && !changed("scale_down_threshold") {
			v.add(upKey, fmt.Sprintf("%s is not above scale_down_threshold %s plus %s; it must be more than %s",
				up, down, step, formatValue(roundFloat(s.ScaleDownThreshold+minThresholdGap))), downKey)
		} else {
			v.add(downKey, fmt.Sprintf("%s is not below scale_up_threshold %s minus %s; it must be less than %s",
				down, up, step, formatValue(roundFloat(s.ScaleUpThreshold-minThresholdGap))), upKey)
		}
	}
}

// userInfo matches the user information of a URL, up to the last @ before
// its path, parsable or not.
var userInfo = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#]*@`)

// redactURL hides the user information (user:password@) of a URL, so that
// no message prints credentials written into an endpoint.
func redactURL(s string) string {
	return userInfo.ReplaceAllString(s, "${1}REDACTED@")
}

// checkListen says why addr is not a HOST:PORT address to listen on, or
// returns "" when it is (or is empty).
func checkListen(addr string) string {
	if addr == "" {
		return ""
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return describe(addr) + " is not HOST:PORT (e.g. 127.0.0.1:9090, or 0.0.0.0:9090 in a container)"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return describe(addr) + " has no port from 1 to 65535"
	}
	return ""
}

// roundFloat rounds away the binary noise of a sum of decimal fractions
// (0.75 - 0.1 is 0.6499999999999999 in float64).
func roundFloat(f float64) float64 {
	return math.Round(f*1e9) / 1e9
}

// outOfBounds says how val falls outside lo..hi (nil bounds are open), or
// returns "" when it is within.
func outOfBounds(val, lo, hi any, loOpen bool) string {
	if lo != nil {
		c := compare(val, lo)
		if loOpen && c <= 0 {
			if compare(lo, zeroOf(lo)) == 0 {
				return formatValue(val) + " is not positive"
			}
			return formatValue(val) + " is not more than " + formatValue(lo)
		}
		if c < 0 {
			return formatValue(val) + " is below the minimum " + formatValue(lo)
		}
	}
	if hi != nil && compare(val, hi) > 0 {
		return formatValue(val) + " is above the maximum " + formatValue(hi)
	}
	return ""
}

// zeroOf returns the zero value of v's kind.
func zeroOf(v any) any {
	switch v.(type) {
	case time.Duration:
		return time.Duration(0)
	case int:
		return 0
	case float64:
		return 0.0
	}
	return nil
}

// sortProblems orders problems as the keys are laid out: the file's own
// problems, then the keys in the order of Reference, then the streams by
// index, each stream's keys in the order of the defaults block. Problems
// about the same key keep their order.
func sortProblems(problems []Problem) {
	slices.SortStableFunc(problems, func(a, b Problem) int {
		ra, rb := problemRank(a.Key), problemRank(b.Key)
		return slices.Compare(ra[:], rb[:])
	})
}

// problemRank places a key: group (file, global key, streams), stream index,
// position within the group.
func problemRank(key string) [3]int {
	if key == "" {
		return [3]int{0, 0, 0}
	}
	rest, isStream := strings.CutPrefix(key, streamsKey+"[")
	if !isStream {
		if key == streamsKey {
			return [3]int{2, -1, 0}
		}
		parent := key
		if i := strings.LastIndex(key, "."); i >= 0 {
			parent = key[:i]
		}
		for i, k := range keys {
			if k.path == key {
				return [3]int{1, 0, 2 * i}
			}
		}
		for i, k := range keys {
			if strings.HasPrefix(k.path, parent+".") {
				return [3]int{1, 0, 2*i + 1}
			}
		}
		return [3]int{1, 0, 2 * len(keys)}
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return [3]int{2, math.MaxInt, 0}
	}
	index, err := strconv.Atoi(rest[:end])
	if err != nil {
		return [3]int{2, math.MaxInt, 0}
	}
	field := strings.TrimPrefix(rest[end+1:], ".")
	switch field {
	case "":
		return [3]int{2, index, 0}
	case "name":
		return [3]int{2, index, 1}
	}
	for i, st := range settings {
		if st.name == field {
			return [3]int{2, index, 2 + i}
		}
	}
	return [3]int{2, index, 2 + len(settings)}
}

// compare orders two values of the same kind: -1, 0 or +1.
func compare(a, b any) int {
	switch a := a.(type) {
	case time.Duration:
		return cmp.Compare(a, b.(time.Duration))
	case int:
		return cmp.Compare(a, b.(int))
	case float64:
		return cmp.Compare(a, b.(float64))
	case string:
		return cmp.Compare(a, b.(string))
	case bool:
		switch b := b.(bool); {
		case a == b:
			return 0
		case b:
			return -1
		}
		return 1
	}
	return 0
}
