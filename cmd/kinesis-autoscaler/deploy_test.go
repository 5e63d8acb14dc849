package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/config"
	"github.com/kinesis-autoscaler/kinesis-autoscaler/pkg/lease"
)

// Checks of the deployment files under config/ and of the Dockerfile, as far
// as a machine without Docker, ECS or CloudFormation allows.

// knownEnv are the environment variables the configuration reads.
func knownEnv() map[string]bool {
	out := map[string]bool{}
	for _, k := range config.Reference() {
		if k.Env != "" {
			out[k.Env] = true
		}
	}
	return out
}

// ecsTaskDefinition is the part of config/ecs-task-definition.json checked.
type ecsTaskDefinition struct {
	ContainerDefinitions []struct {
		Image        string
		Command      []string
		Environment  []struct{ Name, Value string }
		PortMappings []struct {
			ContainerPort int
		}
		HealthCheck struct{ Command []string }
		StopTimeout int
		User        string
	}
}

func TestECSTaskDefinition(t *testing.T) {
	data, err := os.ReadFile("../../config/ecs-task-definition.json")
	if err != nil {
		t.Fatal(err)
	}
	var td ecsTaskDefinition
	if err := json.Unmarshal(data, &td); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if len(td.ContainerDefinitions) != 1 {
		t.Fatalf("%d containers", len(td.ContainerDefinitions))
	}
	c := td.ContainerDefinitions[0]
	env := map[string]string{}
	known := knownEnv()
	for _, e := range c.Environment {
		if !known[e.Name] {
			t.Errorf("environment variable %s is not one the configuration reads", e.Name)
		}
		env[e.Name] = e.Value
	}
	if got := env["KINESIS_AUTOSCALER_METRICS_LISTEN"]; got != "0.0.0.0:9090" {
		t.Errorf("metrics.listen in the task = %q, want 0.0.0.0:9090 so that health checks reach it", got)
	}
	if env["KINESIS_AUTOSCALER_LEASE_TABLE"] == "" {
		t.Error("no lease table: two replicas of the service would both act")
	}
	if len(c.PortMappings) != 1 || c.PortMappings[0].ContainerPort != 9090 {
		t.Errorf("port mappings %+v, want 9090", c.PortMappings)
	}
	if !slices.Equal(c.Command, []string{"run", "--config", defaultConfigPath}) {
		t.Errorf("command %v", c.Command)
	}
	// A deployment runs the image that was tested: a version tag or a
	// digest, never a tag that moves.
	if _, tag, ok := strings.Cut(c.Image[strings.LastIndex(c.Image, "/")+1:], ":"); !ok || tag == "" || tag == "latest" {
		t.Errorf("image %q: name a version, not latest or nothing", c.Image)
	}
	if hc := c.HealthCheck.Command; len(hc) < 3 || hc[1] != "/usr/local/bin/kinesis-autoscaler" || hc[2] != "healthcheck" {
		t.Errorf("health check %v: the distroless image has no shell or curl, use the binary's healthcheck", hc)
	}
	if c.StopTimeout < 1 || c.StopTimeout > 30 {
		t.Errorf("stopTimeout %d", c.StopTimeout)
	}
	checkNonRoot(t, "task definition user", c.User)

	// The image's configuration, with this environment, is valid.
	for name, value := range env {
		value = strings.NewReplacer("REGION", "eu-west-1", "ACCOUNT_ID", "123456789012").Replace(value)
		t.Setenv(name, value)
	}
	cfg, err := config.Load("../../config/container.yaml")
	if err != nil {
		t.Fatalf("config/container.yaml with the task's environment: %v", err)
	}
	if !cfg.Lease.Enabled() || !cfg.Discover.Enabled() || cfg.Metrics.Listen != "0.0.0.0:9090" {
		t.Errorf("container configuration %+v", cfg)
	}
}

// checkNonRoot wants a user that is neither root nor uid 0.
func checkNonRoot(t *testing.T, what, user string) {
	t.Helper()
	name := strings.SplitN(user, ":", 2)[0]
	if name == "" || name == "root" || name == "0" {
		t.Errorf("%s %q runs as root", what, user)
	}
	if uid, err := strconv.Atoi(name); err == nil && uid == 0 {
		t.Errorf("%s %q runs as root", what, user)
	}
}

// cfnTemplate is config/cloudformation.yaml, loosely.
type cfnTemplate struct {
	Parameters map[string]map[string]any `yaml:"Parameters"`
	Resources  map[string]struct {
		Type       string         `yaml:"Type"`
		Properties map[string]any `yaml:"Properties"`
	} `yaml:"Resources"`
}

// readCloudFormation reads and parses config/cloudformation.yaml.
func readCloudFormation(t *testing.T) cfnTemplate {
	t.Helper()
	data, err := os.ReadFile("../../config/cloudformation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tpl cfnTemplate
	if err := yaml.Unmarshal(data, &tpl); err != nil {
		t.Fatalf("not YAML: %v", err)
	}
	return tpl
}

func TestCloudFormationTemplate(t *testing.T) {
	tpl := readCloudFormation(t)
	types := map[string]int{}
	for _, r := range tpl.Resources {
		types[r.Type]++
	}
	for _, want := range []string{
		"AWS::ECS::Service", "AWS::ECS::TaskDefinition", "AWS::ECS::Cluster", "AWS::IAM::Role",
		"AWS::SNS::Topic", "AWS::SNS::Subscription", "AWS::Logs::LogGroup", "AWS::DynamoDB::Table",
	} {
		if types[want] == 0 {
			t.Errorf("no %s", want)
		}
	}
	if d := tpl.Parameters["DesiredCount"]["Default"]; d != 2 {
		t.Errorf("DesiredCount default %v, want 2", d)
	}
	if _, ok := tpl.Parameters["AlertEmail"]; !ok {
		t.Error("no AlertEmail parameter")
	}
	sub := tpl.Resources["AlertEmailSubscription"].Properties
	if sub["Protocol"] != "email" || !reflectRef(sub["Endpoint"], "AlertEmail") {
		t.Errorf("subscription %v, want email to the AlertEmail parameter", sub)
	}

	// The lease table has the key the lease package writes.
	table := tpl.Resources["LeaseTable"].Properties
	key, _ := json.Marshal(table["KeySchema"])
	attrs, _ := json.Marshal(table["AttributeDefinitions"])
	if string(key) != `[{"AttributeName":"`+lease.KeyAttribute+`","KeyType":"HASH"}]` ||
		string(attrs) != `[{"AttributeName":"`+lease.KeyAttribute+`","AttributeType":"S"}]` {
		t.Errorf("lease table key %s, attributes %s", key, attrs)
	}

	// The task role grants what config/iam-policy.json grants, statement by
	// statement.
	policy := readIAMPolicy(t)
	want := map[string][]string{}
	for _, s := range policy.Statement {
		want[s.Sid] = slices.Sorted(slices.Values(s.Action))
	}
	role := tpl.Resources["TaskRole"].Properties
	var docs []struct {
		PolicyDocument struct {
			Statement []struct {
				Sid    string
				Action []string
			}
		}
	}
	raw, _ := json.Marshal(role["Policies"])
	if err := json.Unmarshal(raw, &docs); err != nil || len(docs) != 1 {
		t.Fatalf("task role policies %s: %v", raw, err)
	}
	got := map[string][]string{}
	for _, s := range docs[0].PolicyDocument.Statement {
		got[s.Sid] = slices.Sorted(slices.Values(s.Action))
	}
	if !jsonEqual(got, want) {
		t.Errorf("task role grants %v\nconfig/iam-policy.json grants %v", got, want)
	}

	// The container: known environment, non-root, lease and discovery on.
	td := tpl.Resources["TaskDefinition"].Properties
	raw, _ = json.Marshal(td["ContainerDefinitions"])
	var containers []struct {
		Environment []struct {
			Name  string
			Value any
		}
		User        string
		StopTimeout int
	}
	if err := json.Unmarshal(raw, &containers); err != nil || len(containers) != 1 {
		t.Fatalf("containers %s: %v", raw, err)
	}
	known := knownEnv()
	env := map[string]any{}
	for _, e := range containers[0].Environment {
		if !known[e.Name] {
			t.Errorf("environment variable %s is not one the configuration reads", e.Name)
		}
		env[e.Name] = e.Value
	}
	if !reflectRef(env["KINESIS_AUTOSCALER_LEASE_TABLE"], "LeaseTable") || !reflectRef(env["KINESIS_AUTOSCALER_ALERTS_SNS_TOPIC_ARN"], "AlertTopic") ||
		env["KINESIS_AUTOSCALER_METRICS_LISTEN"] != "0.0.0.0:9090" {
		t.Errorf("container environment %v", env)
	}
	checkNonRoot(t, "template container user", containers[0].User)
	if s := containers[0].StopTimeout; s < 1 || s > 30 {
		t.Errorf("StopTimeout %d", s)
	}
}

func reflectRef(v any, name string) bool {
	m, ok := v.(map[string]any)
	return ok && m["Ref"] == name
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestSystemdUnit(t *testing.T) {
	f, err := os.Open("../../config/kinesis-autoscaler.service")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	service := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			service[k] = append(service[k], v)
		}
	}
	if service["DynamicUser"] == nil && service["User"] == nil {
		t.Error("no DynamicUser= or User=: the unit runs as root")
	}
	for _, u := range service["User"] {
		checkNonRoot(t, "unit User", u)
	}
	if v := service["DynamicUser"]; v != nil && v[0] != "yes" {
		t.Errorf("DynamicUser=%s", v[0])
	}
	if !slices.Equal(service["ExecStart"], []string{"/usr/local/bin/kinesis-autoscaler run --config " + defaultConfigPath}) {
		t.Errorf("ExecStart %v", service["ExecStart"])
	}
	if r := service["ExecReload"]; len(r) != 1 || !strings.Contains(r[0], "-HUP $MAINPID") {
		t.Errorf("ExecReload %v: reload is SIGHUP", r)
	}
	if s := service["TimeoutStopSec"]; len(s) != 1 || s[0] != "30" {
		t.Errorf("TimeoutStopSec %v", s)
	}
	if v := service["NoNewPrivileges"]; len(v) != 1 || v[0] != "yes" {
		t.Error("NoNewPrivileges is not yes")
	}
	// A bad config exits 2: restarting cannot fix it, and a check before
	// start would be restarted all the same (the rule is the main process's).
	if v := service["RestartPreventExitStatus"]; len(v) != 1 || !slices.Contains(strings.Fields(v[0]), strconv.Itoa(exitUsage)) {
		t.Errorf("RestartPreventExitStatus %v, want %d", v, exitUsage)
	}
	if v := service["ExecStartPre"]; v != nil {
		t.Errorf("ExecStartPre %v: its failure is restarted despite RestartPreventExitStatus", v)
	}
	if !slices.ContainsFunc(service["Environment"], func(e string) bool { return strings.HasPrefix(e, "GOMEMLIMIT=") }) {
		t.Errorf("Environment %v sets no GOMEMLIMIT", service["Environment"])
	}
}

// dockerfile is the Dockerfile as stages of instructions.
type dockerStage struct {
	from  string
	lines []string // instructions, continuation lines joined
}

func readDockerfile(t *testing.T) []dockerStage {
	t.Helper()
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var stages []dockerStage
	var pending string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			pending += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, pending = pending+line, ""
		if from, ok := strings.CutPrefix(line, "FROM "); ok {
			stages = append(stages, dockerStage{from: from})
			continue
		}
		if len(stages) == 0 {
			t.Fatalf("instruction before FROM: %s", line)
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, line)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want build and run", len(stages))
	}
	return stages
}

// The Dockerfile's build, without Docker: its build stage's files copied
// into an empty directory as its COPY lines say, and its very go build
// command run there. The binary must be static, so that it runs on the
// distroless image, and the run stage must not run as root.
func TestDockerfileBuildIsStaticAndImageIsNonRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	stages := readDockerfile(t)
	build, run := stages[0], stages[1]

	ctx := t.TempDir()
	var buildCmd string
	args := map[string]string{}
	for _, line := range build.lines {
		switch {
		case strings.HasPrefix(line, "COPY "):
			f := strings.Fields(strings.TrimPrefix(line, "COPY "))
			dest := f[len(f)-1]
			for _, src := range f[:len(f)-1] {
				to := filepath.Join(ctx, dest)
				if strings.HasSuffix(dest, "/") {
					to = filepath.Join(ctx, dest, filepath.Base(src))
				}
				copyTree(t, filepath.Join("../..", src), to)
			}
		case strings.HasPrefix(line, "ARG "):
			k, v, _ := strings.Cut(strings.TrimPrefix(line, "ARG "), "=")
			args[k] = v
		case strings.HasPrefix(line, "RUN ") && strings.Contains(line, "go build"):
			buildCmd = strings.TrimPrefix(line, "RUN ")
		}
	}
	// One image for each architecture: the build stage runs on the build
	// machine's platform and cross-compiles for the target's.
	if !strings.HasPrefix(buildCmd, "CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build ") {
		t.Fatalf("build command %q is not a CGO_ENABLED=0 go build for the target platform", buildCmd)
	}
	if !strings.HasPrefix(build.from, "--platform=$BUILDPLATFORM ") {
		t.Errorf("build stage FROM %s does not run on the build platform", build.from)
	}
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(buildCmd, "/out/", out+"/"))
	cmd.Dir = ctx
	cmd.Env = append(os.Environ(), "VERSION=v0.0.0-dockerfile-test", "REVISION=0123abc",
		"TARGETOS=linux", "TARGETARCH="+runtime.GOARCH)
	for _, a := range []string{"VERSION", "REVISION", "TARGETOS", "TARGETARCH"} {
		if _, ok := args[a]; !ok {
			t.Errorf("no ARG %s", a)
		}
	}
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", buildCmd, err, output)
	}
	binary := filepath.Join(out, "kinesis-autoscaler")
	f, err := elf.Open(binary)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("binary has a %s program header: it is not static", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("binary needs %v", libs)
	}
	v, err := exec.Command(binary, "version").Output()
	if err != nil || !strings.Contains(string(v), "kinesis-autoscaler v0.0.0-dockerfile-test (commit 0123abc") {
		t.Errorf("built binary's version: %q, %v", v, err)
	}

	// The run stage: the binary where the entry point looks, the image's
	// configuration, a user that is not root.
	var user string
	var copies []string
	for _, line := range run.lines {
		if u, ok := strings.CutPrefix(line, "USER "); ok {
			user = strings.TrimSpace(u)
		}
		if strings.HasPrefix(line, "COPY ") {
			copies = append(copies, line)
		}
		if e, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok && !strings.Contains(e, `"/usr/local/bin/kinesis-autoscaler"`) {
			t.Errorf("ENTRYPOINT %s", e)
		}
	}
	checkNonRoot(t, "Dockerfile USER", user)
	checkImageMetadata(t, stages)
	if !slices.Contains(copies, "COPY --from=build /out/kinesis-autoscaler /usr/local/bin/kinesis-autoscaler") ||
		!slices.Contains(copies, "COPY config/container.yaml "+defaultConfigPath) {
		t.Errorf("run stage copies %v", copies)
	}
}

// pinnedImage is IMAGE:TAG@sha256:DIGEST.
var pinnedImage = regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$`)

// checkImageMetadata checks what the image says of itself: base images
// pinned by digest, OCI labels, and a health check by the binary itself.
func checkImageMetadata(t *testing.T, stages []dockerStage) {
	t.Helper()
	for _, s := range stages {
		f := strings.Fields(s.from)
		image := f[0]
		if strings.HasPrefix(image, "--platform=") {
			image = f[1]
		}
		if !pinnedImage.MatchString(image) {
			t.Errorf("base image %s is not pinned by digest (IMAGE:TAG@sha256:DIGEST)", image)
		}
	}
	run := stages[len(stages)-1]
	labels := map[string]string{}
	var health string
	for _, line := range run.lines {
		if l, ok := strings.CutPrefix(line, "LABEL "); ok {
			for _, m := range regexp.MustCompile(`([a-z.]+)="([^"]*)"`).FindAllStringSubmatch(l, -1) {
				labels[m[1]] = m[2]
			}
		}
		if h, ok := strings.CutPrefix(line, "HEALTHCHECK "); ok {
			health = h
		}
	}
	for _, k := range []string{"title", "description", "source", "licenses", "version", "revision"} {
		if labels["org.opencontainers.image."+k] == "" {
			t.Errorf("no OCI label org.opencontainers.image.%s", k)
		}
	}
	if labels["org.opencontainers.image.licenses"] != "Apache-2.0" {
		t.Errorf("licence label %q", labels["org.opencontainers.image.licenses"])
	}
	if !strings.Contains(health, `CMD ["/usr/local/bin/kinesis-autoscaler", "healthcheck"`) {
		t.Errorf("HEALTHCHECK %q does not run the binary's healthcheck command", health)
	}
}

// copyTree copies a file or a directory tree.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
}
