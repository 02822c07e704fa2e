package vertex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/switchyard/switchyard/internal/llm"
)

// schemaTarget says where a schema came from, for error messages, and how
// to render it.
type schemaTarget struct {
	param      string
	deployment string
	// orderProperties adds Gemini's propertyOrdering, so structured output
	// keeps the caller's property order instead of Gemini's alphabetical one.
	orderProperties bool
}

// maxSchemaDepth bounds nesting, so a hostile schema cannot exhaust the stack.
const maxSchemaDepth = 48

// Keywords Gemini's schema lacks that only annotate or restate defaults;
// dropping them changes nothing the model generates.
var ignoredKeywords = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "$defs": true, "definitions": true,
	"deprecated": true, "readOnly": true, "writeOnly": true,
}

// Keywords whose value Gemini's OpenAPI subset takes as is.
var passKeywords = map[string]bool{
	"format": true, "title": true, "description": true, "pattern": true, "nullable": true,
	"default": true, "example": true, "required": true, "minimum": true, "maximum": true,
	"minItems": true, "maxItems": true, "minLength": true, "maxLength": true,
	"minProperties": true, "maxProperties": true,
}

var geminiTypes = map[string]string{
	"string": "STRING", "number": "NUMBER", "integer": "INTEGER",
	"boolean": "BOOLEAN", "array": "ARRAY", "object": "OBJECT",
}

// convertSchema rewrites a JSON Schema into the OpenAPI 3.0 subset Gemini
// accepts: uppercase types, nullable instead of null unions, anyOf for
// oneOf, and local $refs inlined. What it cannot express is a 400.
func convertSchema(raw json.RawMessage, t schemaTarget) (json.RawMessage, error) {
	root, err := parseObject(raw)
	if err != nil {
		return nil, llm.BadRequest(t.param, "%s must be a JSON Schema object", t.param)
	}
	c := &schemaConverter{t: t, defs: map[string]json.RawMessage{}, active: map[string]bool{}}
	for _, k := range []string{"$defs", "definitions"} {
		if d, ok := root.vals[k]; ok {
			defs, err := parseObject(d)
			if err != nil {
				return nil, c.fail("#/"+k, "%q must be an object of schemas", k)
			}
			for name, v := range defs.vals {
				c.defs["#/"+k+"/"+name] = v
			}
		}
	}
	out, err := c.convert(root, "#", 0)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

type schemaConverter struct {
	t      schemaTarget
	defs   map[string]json.RawMessage
	active map[string]bool // $refs being expanded, to catch recursion
}

func (c *schemaConverter) fail(at, format string, args ...any) error {
	return llm.BadRequest(c.t.param, "%s: %s at %s; Gemini on Vertex AI deployment %q cannot express it, so simplify the schema",
		c.t.param, fmt.Sprintf(format, args...), at, c.t.deployment)
}

func (c *schemaConverter) convertRaw(raw json.RawMessage, at string, depth int) (map[string]any, error) {
	o, err := parseObject(raw)
	if err != nil {
		return nil, c.fail(at, "a schema must be an object (boolean schemas are not supported)")
	}
	return c.convert(o, at, depth)
}

func (c *schemaConverter) convert(o orderedObject, at string, depth int) (map[string]any, error) {
	if depth > maxSchemaDepth {
		return nil, c.fail(at, "the schema nests deeper than %d levels", maxSchemaDepth)
	}
	if ref, ok := o.vals["$ref"]; ok {
		return c.resolveRef(o, ref, at, depth)
	}
	out := map[string]any{}
	for _, k := range o.keys {
		v := o.vals[k]
		kat := at + "/" + k
		switch {
		case ignoredKeywords[k]:
		case passKeywords[k]:
			out[k] = v
		case k == "type":
			if err := c.convertType(v, kat, out); err != nil {
				return nil, err
			}
		case k == "additionalProperties":
			if s := string(bytes.TrimSpace(v)); s != "true" && s != "false" {
				return nil, c.fail(kat, "additionalProperties with a schema (a map type)")
			}
		case k == "enum":
			var vals []string
			if err := json.Unmarshal(v, &vals); err != nil {
				return nil, c.fail(kat, "an enum of non-string values")
			}
			out["enum"] = vals
		case k == "const":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, c.fail(kat, "a non-string const")
			}
			out["enum"] = []string{s}
		case k == "examples":
			var ex []json.RawMessage
			if err := json.Unmarshal(v, &ex); err == nil && len(ex) > 0 {
				if _, has := o.vals["example"]; !has {
					out["example"] = ex[0]
				}
			}
		case k == "items":
			s, err := c.convertRaw(v, kat, depth+1)
			if err != nil {
				return nil, err
			}
			out["items"] = s
		case k == "properties":
			props, err := parseObject(v)
			if err != nil {
				return nil, c.fail(kat, "properties must be an object")
			}
			conv := make(map[string]any, len(props.keys))
			for _, name := range props.keys {
				s, err := c.convertRaw(props.vals[name], kat+"/"+name, depth+1)
				if err != nil {
					return nil, err
				}
				conv[name] = s
			}
			out["properties"] = conv
			if c.t.orderProperties && len(props.keys) > 1 {
				out["propertyOrdering"] = props.keys
			}
		case k == "anyOf" || k == "oneOf":
			// oneOf's exclusivity is lost; for generation it means the same.
			var alts []json.RawMessage
			if err := json.Unmarshal(v, &alts); err != nil || len(alts) == 0 {
				return nil, c.fail(kat, "%s must be a non-empty array of schemas", k)
			}
			conv := make([]any, 0, len(alts))
			for i, a := range alts {
				s, err := c.convertRaw(a, fmt.Sprintf("%s/%d", kat, i), depth+1)
				if err != nil {
					return nil, err
				}
				conv = append(conv, s)
			}
			out["anyOf"] = conv
		default:
			return nil, c.fail(kat, "the JSON Schema keyword %q", k)
		}
	}
	if _, ok := out["enum"]; ok && out["type"] == nil {
		out["type"] = "STRING" // Gemini enums are string-typed
	}
	return out, nil
}

func (c *schemaConverter) convertType(v json.RawMessage, at string, out map[string]any) error {
	var one string
	if err := json.Unmarshal(v, &one); err == nil {
		g, ok := geminiTypes[one]
		if !ok {
			return c.fail(at, "the type %q", one)
		}
		out["type"] = g
		return nil
	}
	var many []string
	if err := json.Unmarshal(v, &many); err != nil {
		return c.fail(at, "a type that is neither a string nor an array of strings")
	}
	var kept []string
	for _, t := range many {
		if t == "null" {
			out["nullable"] = true
			continue
		}
		kept = append(kept, t)
	}
	if len(kept) != 1 {
		return c.fail(at, "the type union %v (only one type, optionally with null, is supported; use anyOf)", many)
	}
	g, ok := geminiTypes[kept[0]]
	if !ok {
		return c.fail(at, "the type %q", kept[0])
	}
	out["type"] = g
	return nil
}

func (c *schemaConverter) resolveRef(o orderedObject, ref json.RawMessage, at string, depth int) (map[string]any, error) {
	var name string
	if err := json.Unmarshal(ref, &name); err != nil {
		return nil, c.fail(at+"/$ref", "a $ref that is not a string")
	}
	target, ok := c.defs[name]
	if !ok {
		return nil, c.fail(at+"/$ref", "the $ref %q (only references into this schema's $defs or definitions are resolved)", name)
	}
	if c.active[name] {
		return nil, c.fail(at+"/$ref", "the recursive $ref %q", name)
	}
	c.active[name] = true
	defer delete(c.active, name)
	out, err := c.convertRaw(target, name, depth+1)
	if err != nil {
		return nil, err
	}
	// Siblings of $ref annotate the use site; only these can carry over.
	for _, k := range []string{"description", "title", "default", "nullable"} {
		if v, ok := o.vals[k]; ok {
			out[k] = v
		}
	}
	for _, k := range o.keys {
		if k != "$ref" && !ignoredKeywords[k] && k != "description" && k != "title" && k != "default" && k != "nullable" {
			return nil, c.fail(at+"/"+k, "the keyword %q next to $ref", k)
		}
	}
	return out, nil
}

// orderedObject is a JSON object with its keys in document order.
type orderedObject struct {
	keys []string
	vals map[string]json.RawMessage
}

var errNotObject = errors.New("not a JSON object")

func parseObject(raw json.RawMessage) (orderedObject, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return orderedObject{}, errNotObject
	}
	o := orderedObject{vals: map[string]json.RawMessage{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return orderedObject{}, err
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return orderedObject{}, err
		}
		if _, dup := o.vals[key]; !dup {
			o.keys = append(o.keys, key)
		}
		o.vals[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return orderedObject{}, err
	}
	return o, nil
}

// isSynthesizedID reports whether a tool-call id was made up by this
// adapter for a Gemini call that had none, so it must not be sent back.
func isSynthesizedID(id string) bool { return strings.HasPrefix(id, synthIDPrefix) }
