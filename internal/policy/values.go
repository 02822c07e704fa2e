package policy

import (
	"reflect"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/ext"
	"github.com/google/cel-go/interpreter"
)

// The CEL declarations of the variables. These Go types only give the
// checker the field names and types; at run time fields are served from
// an activation's cache (see fieldProvider), so the reflection-based
// native type access, which allocates on every field read, is not used.
type request struct {
	KeyID            string            `cel:"key_id"`
	Team             string            `cel:"team"`
	Org              string            `cel:"org"`
	Alias            string            `cel:"alias"`
	Deployment       string            `cel:"deployment"`
	Provider         string            `cel:"provider"`
	Region           string            `cel:"region"`
	Time             types.Timestamp   `cel:"time"`
	Hour             int               `cel:"hour"`
	EstimatedCostUSD float64           `cel:"estimated_cost_usd"`
	Stream           bool              `cel:"stream"`
	Metadata         map[string]string `cel:"metadata"`
}

type dlp struct {
	Findings []string `cel:"findings"`
	Count    int      `cel:"count"`
}

type tool struct {
	Name      string    `cel:"name"`
	Arguments arguments `cel:"arguments"`
}

// arguments declares a map(string, dyn) field: NativeTypes cannot type a
// map[string]any, but takes the type of a field that is a ref.Val from
// its zero value's Type.
type arguments struct{ traits.Mapper }

var argumentsType = types.NewMapType(types.StringType, types.DynType)

func (arguments) Type() ref.Type { return argumentsType }

// Cached fields, by index into activation.vals.
const (
	fKeyID = iota
	fTeam
	fOrg
	fAlias
	fDeployment
	fProvider
	fRegion
	fTime
	fHour
	fCost
	fStream
	fMetadata
	fFindings
	fCount
	fToolName
	fToolArgs
	numFields
)

// fieldIndex maps "type.field" to a cached field.
var fieldIndex = map[string]int{
	"policy.request.key_id": fKeyID, "policy.request.team": fTeam, "policy.request.org": fOrg,
	"policy.request.alias": fAlias, "policy.request.deployment": fDeployment, "policy.request.provider": fProvider,
	"policy.request.region": fRegion, "policy.request.time": fTime, "policy.request.hour": fHour,
	"policy.request.estimated_cost_usd": fCost, "policy.request.stream": fStream, "policy.request.metadata": fMetadata,
	"policy.dlp.findings": fFindings, "policy.dlp.count": fCount,
	"policy.tool.name": fToolName, "policy.tool.arguments": fToolArgs,
}

// fieldProvider serves the declared fields from the activation's cache.
type fieldProvider struct{ types.Provider }

func (p fieldProvider) FindStructFieldType(structType, field string) (*types.FieldType, bool) {
	ft, ok := p.Provider.FindStructFieldType(structType, field)
	if !ok {
		return nil, false
	}
	idx, ours := fieldIndex[structType+"."+field]
	if !ours {
		return ft, true
	}
	return &types.FieldType{
		Type:  ft.Type,
		IsSet: func(any) bool { return true },
		GetFrom: func(target any) (any, error) {
			return target.(*activation).field(idx), nil
		},
	}, true
}

func newEnv() (*cel.Env, error) {
	env, err := cel.NewEnv(
		ext.NativeTypes(reflect.TypeFor[request](), reflect.TypeFor[dlp](), reflect.TypeFor[tool](), ext.ParseStructTags(true)),
		ext.Strings(),
		cel.Variable("request", cel.ObjectType("policy.request")),
		cel.Variable("dlp", cel.ObjectType("policy.dlp")),
		cel.Variable("tool", cel.ObjectType("policy.tool")),
	)
	if err != nil {
		return nil, err
	}
	return env.Extend(cel.CustomTypeProvider(fieldProvider{env.CELTypeProvider()}))
}

// activation is one evaluation's input. Every variable resolves to the
// activation itself; each field is converted to a CEL value on first
// read and cached, so 50 rules reading request.team convert it once.
type activation struct {
	req  *RequestInput
	tool *ToolInput // or nil for request rules
	vals [numFields]ref.Val
}

func (a *activation) prepare() {
	if a.req.Time.IsZero() {
		a.req.Time = timeNow()
	}
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "request", "dlp":
		return a, true
	case "tool":
		return a, a.tool != nil
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) field(i int) ref.Val {
	if v := a.vals[i]; v != nil {
		return v
	}
	v := a.convert(i)
	a.vals[i] = v
	return v
}

func (a *activation) convert(i int) ref.Val {
	r := a.req
	switch i {
	case fKeyID:
		return types.String(r.KeyID)
	case fTeam:
		return types.String(r.Team)
	case fOrg:
		return types.String(r.Org)
	case fAlias:
		return types.String(r.Alias)
	case fDeployment:
		return types.String(r.Deployment)
	case fProvider:
		return types.String(r.Provider)
	case fRegion:
		return types.String(r.Region)
	case fTime:
		return types.Timestamp{Time: r.Time}
	case fHour:
		return types.Int(r.Time.Hour())
	case fCost:
		return types.Double(r.EstimatedCostUSD)
	case fStream:
		return types.Bool(r.Stream)
	case fMetadata:
		// Converted up front: CEL's string-map view converts on every
		// look-up, and rules look up the same keys again and again.
		m := make(map[ref.Val]ref.Val, len(r.Metadata))
		for k, v := range r.Metadata {
			m[types.String(k)] = types.String(v)
		}
		return types.NewRefValMap(types.DefaultTypeAdapter, m)
	case fFindings:
		l := make([]ref.Val, len(r.DLP.Findings))
		for k, f := range r.DLP.Findings {
			l[k] = types.String(f)
		}
		return types.NewRefValList(types.DefaultTypeAdapter, l)
	case fCount:
		return types.Int(len(r.DLP.Findings))
	case fToolName:
		return types.String(a.tool.Name)
	case fToolArgs:
		if a.tool.Arguments == nil {
			return types.NewStringInterfaceMap(types.DefaultTypeAdapter, map[string]any{})
		}
		return types.DefaultTypeAdapter.NativeToValue(a.tool.Arguments)
	}
	return types.NewErr("policy: unknown field %d", i)
}

// timeNow is time.Now, replaceable in tests.
var timeNow = time.Now
