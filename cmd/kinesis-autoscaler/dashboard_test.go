package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"testing"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/observe"
)

// cfnSub matches the ${...} substitutions of Fn::Sub.
var cfnSub = regexp.MustCompile(`\$\{[^}]+\}`)

// cwDashboard is the part of a CloudWatch dashboard body checked.
type cwDashboard struct {
	Widgets []struct {
		Type       string
		Properties struct {
			Title   string
			Metrics [][]any
			Alarms  []string
		}
	}
}

// TestCloudFormationDashboardAndAlarm checks the CloudWatch dashboard and
// the stalled-daemon alarm of the stack: the body is JSON, its widgets read
// AWS/Kinesis and only the daemon's own metrics by the names the daemon
// writes, the daemon writes them (metrics.emf on), and the alarm watches
// completed cycles and notifies the alert topic, missing data included.
func TestCloudFormationDashboardAndAlarm(t *testing.T) {
	tpl := readCloudFormation(t)
	emfNames := []string{
		observe.EMFCyclesCompleted, observe.EMFCycleDuration, observe.EMFManagedStreams, observe.EMFActions,
		observe.EMFDeferred, observe.EMFStreamErrors, observe.EMFMetricsReadFail, observe.EMFLeader,
	}

	dash := tpl.Resources["Dashboard"]
	if dash.Type != "AWS::CloudWatch::Dashboard" {
		t.Fatalf("Dashboard is %q", dash.Type)
	}
	body, _ := dash.Properties["DashboardBody"].(map[string]any)["Fn::Sub"].(string)
	var d cwDashboard
	if err := json.Unmarshal([]byte(cfnSub.ReplaceAllString(body, "X")), &d); err != nil {
		t.Fatalf("dashboard body is not JSON once substituted: %v", err)
	}
	kinesis, own := 0, map[string]bool{}
	for _, w := range d.Widgets {
		for _, m := range w.Properties.Metrics {
			if len(m) == 0 {
				continue
			}
			if expr, ok := m[0].(map[string]any); ok {
				if e, _ := expr["expression"].(string); regexp.MustCompile(`AWS/Kinesis,StreamName`).MatchString(e) {
					kinesis++
				}
				continue
			}
			if ns, _ := m[0].(string); ns == observe.EMFNamespace {
				name, _ := m[1].(string)
				if !slices.Contains(emfNames, name) || m[2] != observe.EMFDimension {
					t.Errorf("widget %q reads %v, which the daemon does not write", w.Properties.Title, m[:3])
				}
				own[name] = true
			}
		}
	}
	if kinesis < 3 {
		t.Errorf("%d widgets over AWS/Kinesis, want the streams' load, throttling and lag", kinesis)
	}
	for _, n := range emfNames {
		if !own[n] {
			t.Errorf("the dashboard does not show the daemon's %s", n)
		}
	}

	alarm := tpl.Resources["DaemonStalledAlarm"].Properties
	if alarm["Namespace"] != observe.EMFNamespace || alarm["MetricName"] != observe.EMFCyclesCompleted ||
		alarm["TreatMissingData"] != "breaching" || alarm["ComparisonOperator"] != "LessThanThreshold" {
		t.Errorf("alarm %v, want CyclesCompleted below its threshold, missing data breaching", alarm)
	}
	actions, _ := alarm["AlarmActions"].([]any)
	if len(actions) != 1 || !reflectRef(actions[0], "AlertTopic") {
		t.Errorf("alarm actions %v, want the alert topic", actions)
	}

	// The daemon writes the metrics, with the dimension the alarm reads.
	raw, _ := json.Marshal(tpl.Resources["TaskDefinition"].Properties["ContainerDefinitions"])
	var containers []struct {
		Environment []struct {
			Name  string
			Value any
		}
	}
	if err := json.Unmarshal(raw, &containers); err != nil || len(containers) != 1 {
		t.Fatalf("containers %s: %v", raw, err)
	}
	env := map[string]any{}
	for _, e := range containers[0].Environment {
		env[e.Name] = e.Value
	}
	if env["KINESIS_AUTOSCALER_METRICS_EMF"] != "true" || !reflectRef(env["KINESIS_AUTOSCALER_LEASE_NAME"], "AWS::StackName") {
		t.Errorf("container environment %v: want metrics.emf on and the lease name the stack's", env)
	}
	dims, _ := json.Marshal(alarm["Dimensions"])
	if string(dims) != `[{"Name":"`+observe.EMFDimension+`","Value":{"Ref":"AWS::StackName"}}]` {
		t.Errorf("alarm dimensions %s", dims)
	}
}
