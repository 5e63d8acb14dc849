package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// iamPolicy is config/iam-policy.json.
type iamPolicy struct {
	Version   string
	Statement []iamStatement
}

type iamStatement struct {
	Sid       string
	Effect    string
	Action    []string
	Resource  any
	Condition map[string]map[string][]string
}

func readIAMPolicy(t *testing.T) iamPolicy {
	t.Helper()
	return readIAMPolicyFile(t, "../../config/iam-policy.json")
}

func readIAMPolicyFile(t *testing.T, path string) iamPolicy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var p iamPolicy
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}

// allowed returns the actions the policy allows.
func (p iamPolicy) allowed() []string {
	var out []string
	for _, s := range p.Statement {
		if s.Effect == "Allow" {
			out = append(out, s.Action...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sdkServices maps the SDK's service packages the daemon uses to their IAM
// prefixes.
var sdkServices = map[string]string{
	"github.com/aws/aws-sdk-go-v2/service/kinesis":    "kinesis",
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch": "cloudwatch",
	"github.com/aws/aws-sdk-go-v2/service/sns":        "sns",
	"github.com/aws/aws-sdk-go-v2/service/dynamodb":   "dynamodb",
}

// operationsInCode returns the AWS operations the daemon's code can call, as
// IAM actions: every SDK OPERATIONInput type its non-test Go files name, in
// a consumer interface or a call. The test kit and the simulator, which the
// daemon does not run, are left out. It also returns, per action, whether a
// call of the operation's method appears in the code.
func operationsInCode(t *testing.T) (actions []string, called map[string]bool) {
	t.Helper()
	var sources []string
	for _, root := range []string{"../../pkg", "../../cmd"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (strings.HasSuffix(path, "pkg/testkit") || strings.HasSuffix(path, "pkg/sim")) {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				sources = append(sources, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	fset := token.NewFileSet()
	var text strings.Builder
	seen := map[string]bool{}
	for _, path := range sources {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		text.Write(src)
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		imports := map[string]string{} // local name -> IAM prefix
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			prefix, ok := sdkServices[p]
			if !ok {
				if strings.HasPrefix(p, "github.com/aws/aws-sdk-go-v2/service/") && !strings.Contains(p, "/types") {
					t.Errorf("%s imports %s, a service this test does not know: add it to sdkServices and the IAM policy", path, p)
				}
				continue
			}
			name := filepath.Base(p)
			if imp.Name != nil {
				name = imp.Name.Name
			}
			imports[name] = prefix
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			if prefix, ok := imports[pkg.Name]; ok {
				if op, ok := strings.CutSuffix(sel.Sel.Name, "Input"); ok && op != "" {
					seen[prefix+":"+op] = true
				}
			}
			return true
		})
	}
	called = map[string]bool{}
	for action := range seen {
		actions = append(actions, action)
		op := action[strings.Index(action, ":")+1:]
		called[action] = regexp.MustCompile(`\.` + op + `\(ctx`).MatchString(text.String())
	}
	slices.Sort(actions)
	return actions, called
}

// The IAM policy allows exactly the operations the code calls: nothing the
// code needs is missing, nothing more is granted.
func TestIAMPolicyAllowsExactlyWhatTheCodeCalls(t *testing.T) {
	inCode, called := operationsInCode(t)
	allowed := readIAMPolicy(t).allowed()
	for _, a := range inCode {
		if !slices.Contains(allowed, a) {
			t.Errorf("the code calls %s, which config/iam-policy.json does not allow", a)
		}
		if !called[a] {
			t.Errorf("the code declares %s but never calls it: drop it from the interface", a)
		}
	}
	for _, a := range allowed {
		if !slices.Contains(inCode, a) {
			t.Errorf("config/iam-policy.json allows %s, which the code never calls", a)
		}
	}
	if len(inCode) < 10 {
		t.Errorf("found only %v in the code: is the scan broken?", inCode)
	}
}

// Least privilege on resources: only the operations without resource-level
// permissions get "*"; each other statement names its resource type; the
// daemon may write only its own tags.
func TestIAMPolicyResources(t *testing.T) {
	p := readIAMPolicy(t)
	if p.Version != "2012-10-17" {
		t.Errorf("Version %q", p.Version)
	}
	noResourceLevel := []string{"cloudwatch:GetMetricData", "kinesis:ListStreams"}
	want := map[string]string{ // action prefix -> resource it must be confined to
		"kinesis:":  "arn:aws:kinesis:REGION:ACCOUNT_ID:stream/*",
		"sns:":      "arn:aws:sns:REGION:ACCOUNT_ID:kinesis-autoscaler-alerts",
		"dynamodb:": "arn:aws:dynamodb:REGION:ACCOUNT_ID:table/kinesis-autoscaler-lease",
	}
	for _, s := range p.Statement {
		if s.Effect != "Allow" {
			t.Errorf("%s: effect %s", s.Sid, s.Effect)
		}
		resource, _ := s.Resource.(string)
		for _, a := range s.Action {
			if strings.Contains(a, "*") {
				t.Errorf("%s: wildcard action %s", s.Sid, a)
			}
			if slices.Contains(noResourceLevel, a) {
				if resource != "*" || len(s.Action) != 1 {
					t.Errorf("%s: %s has no resource-level permission and belongs alone in a statement on *", s.Sid, a)
				}
				continue
			}
			for prefix, r := range want {
				if strings.HasPrefix(a, prefix) && resource != r {
					t.Errorf("%s: %s on %v, want %s", s.Sid, a, s.Resource, r)
				}
			}
			tagWrite := a == "kinesis:AddTagsToStream" || a == "kinesis:RemoveTagsFromStream"
			if got := s.Condition["ForAllValues:StringLike"]["aws:TagKeys"]; tagWrite && !slices.Equal(got, []string{"kinesis-autoscaler:*"}) {
				t.Errorf("%s: %s not confined to the daemon's own tags (aws:TagKeys %v)", s.Sid, a, got)
			}
		}
	}
}

// callRecorder records the AWS operations the daemon calls during a test,
// through the SDK middleware, and checks at the end that the IAM policy
// allows each one.
type callRecorder struct {
	mu    sync.Mutex
	calls map[string]bool
}

// recordCalls starts recording for the test; the daemons the test runs
// in-process report to it.
func recordCalls(t *testing.T) *callRecorder {
	t.Helper()
	r := &callRecorder{calls: map[string]bool{}}
	testHooks.callObserver = func(service, operation string, _ error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls[service+":"+operation] = true
	}
	policy := readIAMPolicy(t).allowed()
	t.Cleanup(func() {
		testHooks.callObserver = nil
		r.mu.Lock()
		defer r.mu.Unlock()
		for call := range r.calls {
			if !slices.Contains(policy, call) {
				t.Errorf("the daemon called %s, which config/iam-policy.json does not allow", call)
			}
		}
	})
	return r
}

func (r *callRecorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for c := range r.calls {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}
