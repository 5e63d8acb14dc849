package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlNumber is a plain (unquoted) YAML scalar that YAML would read as a
// number, kept as it is written. It is parsed by the same rules as the text
// of an environment variable, so that a key means the same whether the file
// or the environment sets it: 010 is not silently octal 8, 1_000 and 0x10
// are not numbers, and a quoted "8" is 8 like an unquoted one.
type yamlNumber string

// readTree parses the file with yaml.v3 into plain values (mappings with
// string keys, lists, strings, yamlNumbers, booleans and nulls), rejecting
// what YAML allows but a person rarely means: keys of one mapping that differ
// only in case, merge keys (<<), anchors and aliases. An empty file, or one
// of only comments, is an empty mapping. The error, when there is one, is a
// problem with the file as a whole; problems with keys come back with the
// tree.
func readTree(data []byte) (tree map[string]any, problems []Problem, err error) {
	defer func() {
		if r := recover(); r != nil {
			tree, problems, err = nil, nil, fmt.Errorf("the YAML parser failed: %v", r)
		}
	}()
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, errors.New("not valid YAML: " + oneLine(err.Error()))
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, errors.New("not valid YAML: " + oneLine(err.Error()))
		}
		if len(next.Content) > 0 && next.Content[0].ShortTag() != "!!null" {
			// A second document would be ignored: every key must be in one.
			return nil, nil, fmt.Errorf("the file holds more than one YAML document (the second's content starts at line %d); "+
				"put every key in one", next.Content[0].Line)
		}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return map[string]any{}, nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return map[string]any{}, nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("the file must be a YAML mapping of keys (streams: and so on), not %s (line %d)",
			nodeKind(root), root.Line)
	}
	r := &treeReader{}
	val := r.value(root, "")
	m, _ := val.(map[string]any)
	return m, r.problems, nil
}

type treeReader struct {
	problems []Problem
}

func (r *treeReader) add(key, reason string) {
	r.problems = append(r.problems, Problem{Key: key, Reason: reason})
}

// value converts a node at path to a plain value.
func (r *treeReader) value(n *yaml.Node, path string) any {
	if n.Anchor != "" {
		r.add(path, fmt.Sprintf("anchors (&%s, line %d) are not supported: write the values out", n.Anchor, n.Line))
	}
	switch n.Kind {
	case yaml.AliasNode:
		r.add(path, fmt.Sprintf("aliases (*%s, line %d) are not supported: write the values out", n.Value, n.Line))
		return nil
	case yaml.MappingNode:
		return r.mapping(n, path)
	case yaml.SequenceNode:
		list := make([]any, len(n.Content))
		for i, item := range n.Content {
			list[i] = r.value(item, fmt.Sprintf("%s[%d]", path, i))
		}
		return list
	}
	return scalar(n)
}

// mapping converts a mapping node, checking its keys.
func (r *treeReader) mapping(n *yaml.Node, path string) map[string]any {
	out := map[string]any{}
	seen := map[string]*yaml.Node{} // by lower-cased key
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := k.Value
		keyPath := joinPath(path, displayKey(name))
		if k.Kind != yaml.ScalarNode {
			r.add(joinPath(path, "?"), fmt.Sprintf("a %s is not a key (line %d)", nodeKind(k), k.Line))
			continue
		}
		if k.Tag == "!!merge" {
			r.add(keyPath, fmt.Sprintf("merge keys (<<, line %d) are not supported: write the keys out", k.Line))
			continue
		}
		if prev, ok := seen[strings.ToLower(name)]; ok {
			if prev.Value == name {
				r.add(keyPath, fmt.Sprintf("is given twice (lines %d and %d)", prev.Line, k.Line))
			} else {
				r.add(keyPath, fmt.Sprintf("%s (line %d) and %s (line %d) differ only in case: keep one",
					displayKey(prev.Value), prev.Line, displayKey(name), k.Line))
			}
			continue
		}
		seen[strings.ToLower(name)] = k
		out[name] = r.value(v, keyPath)
	}
	return out
}

// scalar converts a scalar node: numbers stay as written, other values take
// YAML 1.2's reading (yes and on are strings, true and false booleans).
func scalar(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err == nil {
			return b
		}
	case "!!int", "!!float":
		return yamlNumber(n.Value)
	}
	return n.Value
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "single value (" + describe(scalar(n)) + ")"
}
