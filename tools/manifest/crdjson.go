package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// checkCRDJSON walks a resource spec against its proto descriptor and
// rejects what protojson would accept but the Kubernetes API server would
// not: snake_case field names (the CRD schema lists only the camelCase JSON
// names, so kubectl rejects or prunes the others), enums written as numbers,
// and numbers written as strings. Unknown names are reported with their
// path, which protojson's error does not give.
func checkCRDJSON(md protoreflect.MessageDescriptor, raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("parse spec JSON: %w", err)
	}
	return checkMessageJSON(md, v, "spec")
}

// freeForm messages hold arbitrary JSON (pluginConfig is a Struct).
var freeForm = map[protoreflect.FullName]bool{
	"google.protobuf.Struct":    true,
	"google.protobuf.Value":     true,
	"google.protobuf.ListValue": true,
}

func checkMessageJSON(md protoreflect.MessageDescriptor, v any, path string) error {
	if v == nil || freeForm[md.FullName()] {
		return nil
	}
	switch md.FullName() {
	case "google.protobuf.Duration", "google.protobuf.Timestamp", "google.protobuf.FieldMask":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %s must be a string", path, md.Name())
		}
		return nil
	}
	if isWrapper(md) {
		return checkScalarJSON(md.Fields().ByName("value"), v, path)
	}

	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: must be an object", path)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		fieldPath := path + "." + key
		fd := md.Fields().ByJSONName(key)
		if fd == nil {
			if byName := md.Fields().ByName(protoreflect.Name(key)); byName != nil {
				return fmt.Errorf("%s: unknown field %q: "+
					"the resource schema uses the camelCase name %q",
					fieldPath, key, byName.JSONName())
			}
			return fmt.Errorf("%s: unknown field %q (known: %s)", fieldPath, key, fieldNames(md))
		}
		if err := checkFieldJSON(fd, obj[key], fieldPath); err != nil {
			return err
		}
	}
	return nil
}

func checkFieldJSON(fd protoreflect.FieldDescriptor, v any, path string) error {
	if v == nil {
		return nil
	}
	switch {
	case fd.IsList():
		items, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: must be a list", path)
		}
		for i, item := range items {
			if err := checkSingleJSON(fd, item, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case fd.IsMap():
		entries, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: must be an object", path)
		}
		for k, item := range entries {
			if err := checkSingleJSON(fd.MapValue(), item, path+"."+k); err != nil {
				return err
			}
		}
		return nil
	}
	return checkSingleJSON(fd, v, path)
}

func checkSingleJSON(fd protoreflect.FieldDescriptor, v any, path string) error {
	if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
		return checkMessageJSON(fd.Message(), v, path)
	}
	return checkScalarJSON(fd, v, path)
}

func checkScalarJSON(fd protoreflect.FieldDescriptor, v any, path string) error {
	if v == nil {
		return nil
	}
	switch fd.Kind() {
	case protoreflect.EnumKind:
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: write the enum by name (one of %s), not as a number",
				path, enumNames(fd.Enum()))
		}
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: must be true or false", path)
		}
	case protoreflect.StringKind, protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: must be a string", path)
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		// 64-bit integers may be strings in proto JSON and in Istio's CRDs.
		switch v.(type) {
		case json.Number, string:
		default:
			return fmt.Errorf("%s: must be an integer", path)
		}
	default:
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s: must be a number, not %T", path, v)
		}
	}
	return nil
}

func isWrapper(md protoreflect.MessageDescriptor) bool {
	switch md.FullName() {
	case "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
		"google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.Int64Value", "google.protobuf.UInt64Value",
		"google.protobuf.FloatValue", "google.protobuf.DoubleValue":
		return true
	}
	return false
}

func fieldNames(md protoreflect.MessageDescriptor) string {
	var names []string
	for i := 0; i < md.Fields().Len(); i++ {
		names = append(names, md.Fields().Get(i).JSONName())
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	var names []string
	for i := 0; i < ed.Values().Len(); i++ {
		names = append(names, string(ed.Values().Get(i).Name()))
	}
	return strings.Join(names, ", ")
}
