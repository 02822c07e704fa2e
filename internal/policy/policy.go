package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"fmt"
	"sort"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
)

// Effect is what a matching rule does.
type Effect string

// Effects, by precedence (see the package documentation).
const (
	EffectAllow           Effect = "allow"
	EffectDeny            Effect = "deny"
	EffectRequireApproval Effect = "require_approval"
	EffectRedact          Effect = "redact"
	EffectRoute           Effect = "route"
)

// level orders effects for precedence; lower wins.
func (e Effect) level() int {
	switch e {
	case EffectDeny:
		return 0
	case EffectRequireApproval:
		return 1
	case EffectRoute, EffectRedact:
		return 2
	case EffectAllow:
		return 3
	}
	return -1
}

// Rule is one policy rule.
type Rule struct {
	// Name identifies the rule in decisions, audit and errors; required
	// and unique.
	Name string `yaml:"name" json:"name"`
	// When is a CEL expression that returns bool.
	When string `yaml:"when" json:"when"`
	// Effect is allow, deny, require_approval, redact or route.
	Effect Effect `yaml:"effect" json:"effect"`
	// Message is shown to the client for deny and require_approval.
	// Default: a sentence naming the rule.
	Message string `yaml:"message" json:"message,omitempty"`
	// Pool is the restricted pool (model alias) a route rule sends the
	// request to; required for route, unused otherwise.
	Pool string `yaml:"pool" json:"pool,omitempty"`
	// Priority orders rules of the same precedence level: higher first.
	// Default 0; ties keep declaration order.
	Priority int `yaml:"priority" json:"priority,omitempty"`
}

// ToolPolicy says what happens to a request that declares a tool a tool
// rule denies.
type ToolPolicy struct {
	// OnForbiddenDeclared is "reject" (refuse the request) or "remove"
	// (drop the tool from the request and go on). Default "reject".
	OnForbiddenDeclared string `yaml:"on_forbidden_declared" json:"on_forbidden_declared"`
}

// Set is the policy section of the configuration.
type Set struct {
	// Rules are evaluated as described in the package documentation.
	Rules []Rule `yaml:"rules" json:"rules"`
	// ToolPolicy applies to tools declared in requests.
	ToolPolicy ToolPolicy `yaml:"tool_policy" json:"tool_policy"`
}

// RequestInput is what request rules see as `request` and `dlp`.
type RequestInput struct {
	KeyID      string
	Team       string
	Org        string
	Alias      string
	Deployment string
	Provider   string
	Region     string
	// Time is when the request arrived, in the zone that hour-of-day rules
	// are written for (request.hour is Time.Hour()). Zero means now.
	Time             time.Time
	EstimatedCostUSD float64
	Stream           bool
	Metadata         map[string]string // or nil
	// DLP is what rules see as `dlp`.
	DLP DLPInput
}

// DLPInput summarises the request's DLP findings; rules see dlp.findings
// and dlp.count (the number of findings).
type DLPInput struct {
	// Findings are detector names, one per finding (repeats allowed).
	Findings []string
}

// ToolInput is what tool rules see as `tool`.
type ToolInput struct {
	Name string
	// Arguments are the tool call's parsed JSON arguments (numbers are
	// double); nil is an empty map.
	Arguments map[string]any
}

// ToolFromJSON builds a ToolInput from a tool call's name and its
// arguments as sent on the wire (a JSON object; "" is no arguments).
func ToolFromJSON(name, arguments string) (ToolInput, error) {
	t := ToolInput{Name: name}
	if arguments == "" {
		return t, nil
	}
	if err := json.Unmarshal([]byte(arguments), &t.Arguments); err != nil {
		return t, fmt.Errorf("policy: tool %q: arguments are not a JSON object: %w", name, err)
	}
	return t, nil
}

// Decision is the outcome of an evaluation.
type Decision struct {
	Effect Effect
	// Rule is the matching rule's name, or "" when nothing matched.
	Rule string
	// Message is the rule's message, for deny and require_approval.
	Message string
	// Pool is the route rule's pool.
	Pool string
	// Errors are rules that failed to evaluate (and so did not match);
	// nil normally.
	Errors []error
}

type compiled struct {
	Rule
	prg      cel.Program
	usesTool bool
	order    int
}

// Engine evaluates a compiled rule set. It is immutable and safe for
// concurrent use.
type Engine struct {
	request []compiled // in evaluation order
	tool    []compiled
	tools   ToolPolicy
	version string
}

// Compile compiles rules with the default tool policy.
func Compile(rules []Rule) (*Engine, error) {
	return CompileSet(Set{Rules: rules})
}

// CompileSet compiles a policy set. Errors name the rule and carry CEL's
// message, with the position in the expression.
func CompileSet(set Set) (*Engine, error) {
	switch set.ToolPolicy.OnForbiddenDeclared {
	case "":
		set.ToolPolicy.OnForbiddenDeclared = "reject"
	case "reject", "remove":
	default:
		return nil, fmt.Errorf("policy: tool_policy.on_forbidden_declared %q: use reject or remove", set.ToolPolicy.OnForbiddenDeclared)
	}
	env, err := newEnv()
	if err != nil {
		return nil, fmt.Errorf("policy: building the CEL environment: %w", err)
	}
	e := &Engine{tools: set.ToolPolicy}
	seen := map[string]bool{}
	for i, r := range set.Rules {
		c, err := compileRule(env, r)
		if err != nil {
			return nil, err
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("policy: rule %q: the name is used twice; rule names must be unique", r.Name)
		}
		seen[r.Name] = true
		c.order = i
		if c.usesTool {
			e.tool = append(e.tool, c)
		} else {
			e.request = append(e.request, c)
		}
	}
	for _, l := range [][]compiled{e.request, e.tool} {
		sort.SliceStable(l, func(a, b int) bool {
			if la, lb := l[a].Effect.level(), l[b].Effect.level(); la != lb {
				return la < lb
			}
			return l[a].Priority > l[b].Priority
		})
	}
	sum := sha256.New()
	json.NewEncoder(sum).Encode(set)
	e.version = "sha256:" + hex.EncodeToString(sum.Sum(nil))
	return e, nil
}

func compileRule(env *cel.Env, r Rule) (compiled, error) {
	if r.Name == "" {
		return compiled{}, fmt.Errorf("policy: a rule has no name (when: %q); give every rule a unique name", r.When)
	}
	if r.Effect.level() < 0 {
		return compiled{}, fmt.Errorf("policy: rule %q: effect %q: use allow, deny, require_approval, redact or route", r.Name, r.Effect)
	}
	if r.Effect == EffectRoute && r.Pool == "" {
		return compiled{}, fmt.Errorf("policy: rule %q: a route rule needs pool: the model alias to send matching requests to", r.Name)
	}
	if r.When == "" {
		return compiled{}, fmt.Errorf("policy: rule %q: when is empty; write a CEL expression (use \"true\" to always match)", r.Name)
	}
	ast, iss := env.Compile(r.When)
	if iss.Err() != nil {
		return compiled{}, fmt.Errorf("policy: rule %q: %w", r.Name, iss.Err())
	}
	if !ast.OutputType().IsExactType(types.BoolType) {
		return compiled{}, fmt.Errorf("policy: rule %q: when must return bool, but it returns %s", r.Name, ast.OutputType())
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return compiled{}, fmt.Errorf("policy: rule %q: %w", r.Name, err)
	}
	c := compiled{Rule: r, prg: prg}
	c.Message = defaultMessage(r)
	for _, ref := range ast.NativeRep().ReferenceMap() {
		if ref.Name == "tool" {
			c.usesTool = true
		}
	}
	return c, nil
}

// Version identifies the rule set (a hash of the rules and tool policy);
// approvals bind to it so a rule change invalidates them.
func (e *Engine) Version() string { return e.version }

// HasToolRules reports whether any rule is a tool rule; without one,
// answers need no holding back of tool calls.
func (e *Engine) HasToolRules() bool { return len(e.tool) > 0 }

// ToolPolicy returns the set's tool policy, with defaults applied.
func (e *Engine) ToolPolicy() ToolPolicy { return e.tools }

// EvaluateRequest evaluates the request rules.
func (e *Engine) EvaluateRequest(in RequestInput) Decision {
	if len(e.request) == 0 {
		return Decision{Effect: EffectAllow}
	}
	act := &activation{req: &in}
	act.prepare()
	return evaluate(e.request, act)
}

// EvaluateTool evaluates the tool rules for one tool, declared in the
// request or called in an answer.
func (e *Engine) EvaluateTool(in RequestInput, tool ToolInput) Decision {
	if len(e.tool) == 0 {
		return Decision{Effect: EffectAllow}
	}
	act := &activation{req: &in, tool: &tool}
	act.prepare()
	return evaluate(e.tool, act)
}

func evaluate(rules []compiled, act *activation) Decision {
	var errs []error
	for i := range rules {
		r := &rules[i]
		out, _, err := r.prg.Eval(act)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy: rule %q: %w", r.Name, err))
			continue
		}
		if out == types.True {
			return Decision{Effect: r.Effect, Rule: r.Name, Message: r.Message, Pool: r.Pool, Errors: errs}
		}
	}
	return Decision{Effect: EffectAllow, Errors: errs}
}

func defaultMessage(r Rule) string {
	if r.Message != "" || (r.Effect != EffectDeny && r.Effect != EffectRequireApproval) {
		return r.Message
	}
	if r.Effect == EffectDeny {
		return fmt.Sprintf("request denied by policy rule %q; ask your gateway administrator if you need this allowed", r.Name)
	}
	return fmt.Sprintf("request needs approval under policy rule %q; ask an approver, then retry", r.Name)
}
