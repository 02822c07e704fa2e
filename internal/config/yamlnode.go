package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// envRef matches ${NAME}, ${NAME:-default}, ${env:NAME} and ${file:/path}.
var envRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// expand replaces references in every scalar of the tree, in place, so
// that line numbers survive. A reference that cannot be resolved is an
// error naming its line; secrets never appear in the message.
func expand(n *yaml.Node, lookup func(string) (string, bool), readFile func(string) ([]byte, error)) []error {
	var errs []error
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
			out := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
				inner := ref[2 : len(ref)-1]
				switch {
				case strings.HasPrefix(inner, "file:"):
					path := strings.TrimPrefix(inner, "file:")
					b, err := readFile(path)
					if err != nil {
						errs = append(errs, fmt.Errorf("line %d: cannot read %s referenced by ${file:...}: %v", n.Line, path, err))
						return ""
					}
					return strings.TrimRight(string(b), "\r\n")
				default:
					name := strings.TrimPrefix(inner, "env:")
					name, def, hasDef := strings.Cut(name, ":-")
					if v, ok := lookup(name); ok && v != "" {
						return v
					}
					if hasDef {
						return def
					}
					errs = append(errs, fmt.Errorf("line %d: environment variable %s is not set (use ${%s:-default} for a default)", n.Line, name, name))
					return ""
				}
			})
			if out != n.Value {
				n.Value = out
				// Let the decoder resolve the expanded text afresh
				// (an expanded port is an int, not a string).
				if n.Style == 0 {
					n.Tag = ""
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return errs
}

// unknownFields reports the mapping keys in n that the Go type t does not
// declare, with their lines, so that a typo in a config file is an error
// rather than a silently ignored setting. yaml.v3's Node.Decode has no
// strict mode of its own. Fields of type yaml.Node are skipped: they are
// decoded, and checked, later against their own type.
func unknownFields(n *yaml.Node, t reflect.Type, path string) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return unknownFields(n.Content[0], t, path)
	}
	if t == reflect.TypeFor[yaml.Node]() {
		return nil
	}
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // the decoder reports the type mismatch
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			ft, ok := fields[key.Value]
			if !ok {
				errs = append(errs, fmt.Errorf("line %d: %s: unknown field %q", key.Line, pathOrRoot(path), key.Value))
				continue
			}
			errs = append(errs, unknownFields(val, ft, joinPath(path, key.Value))...)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, c := range n.Content {
			errs = append(errs, unknownFields(c, t.Elem(), path+"["+strconv.Itoa(i)+"]")...)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, unknownFields(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value))...)
		}
	}
	return errs
}

// yamlFields maps the YAML keys of struct t to their types, following
// inlined embedded structs.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func pathOrRoot(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

// lineOf returns the line of the node at a dotted path such as
// "deployments[2].region", or of its nearest existing ancestor.
func lineOf(root *yaml.Node, path string) int {
	n := root
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n == nil {
		return 0
	}
	line := n.Line
	for _, part := range splitPath(path) {
		var next *yaml.Node
		switch {
		case part.index >= 0 && n.Kind == yaml.SequenceNode && part.index < len(n.Content):
			next = n.Content[part.index]
		case part.index < 0 && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == part.key {
					next = n.Content[i+1]
					line = n.Content[i].Line
					break
				}
			}
		}
		if next == nil {
			return line
		}
		n = next
		if part.index >= 0 {
			line = n.Line
		}
	}
	return line
}

type pathPart struct {
	key   string
	index int // -1 for a key
}

func splitPath(path string) []pathPart {
	var parts []pathPart
	for _, seg := range strings.Split(path, ".") {
		if seg == "" {
			continue
		}
		key, rest, _ := strings.Cut(seg, "[")
		if key != "" {
			parts = append(parts, pathPart{key: key, index: -1})
		}
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			i, err := strconv.Atoi(num)
			if err != nil {
				break
			}
			parts = append(parts, pathPart{index: i})
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return parts
}

func osLookup(name string) (string, bool) { return os.LookupEnv(name) }

// typeErrors rewrites yaml.v3's decoding errors ("line 3: cannot unmarshal
// !!str `lots` into int64") to name the field at that line as well.
func typeErrors(root *yaml.Node, err error) []error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []error{err}
	}
	out := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		var line int
		if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
			if path := pathAtLine(root, line, ""); path != "" {
				rest := strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
				msg = fmt.Sprintf("line %d: %s: %s", line, path, rest)
			}
		}
		out = append(out, errors.New(msg))
	}
	return out
}

// pathAtLine returns the dotted path of the mapping key or sequence item
// on line, or "".
func pathAtLine(n *yaml.Node, line int, path string) string {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p := pathAtLine(c, line, path); p != "" {
				return p
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := joinPath(path, k.Value)
			if k.Line == line && (v.Kind == yaml.ScalarNode || v.Line == line) {
				return p
			}
			if found := pathAtLine(v, line, p); found != "" {
				return found
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			if c.Kind == yaml.ScalarNode && c.Line == line {
				return p
			}
			if found := pathAtLine(c, line, p); found != "" {
				return found
			}
		}
	}
	return ""
}
