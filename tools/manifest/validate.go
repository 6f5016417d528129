package manifest

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

// validateTree runs the generated ValidateAll (protoc-gen-validate rules) on
// m and on the content of every google.protobuf.Any below it. ValidateAll
// alone stops at an Any, so a typed_config such as the Wasm filter's would
// otherwise go unchecked.
func validateTree(m proto.Message) error {
	var errs []error
	if v, ok := m.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			errs = append(errs, err)
		}
	}
	walkAnys(m.ProtoReflect(), "", func(path string, a *anypb.Any) {
		inner, err := a.UnmarshalNew()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: resolve %s: %w", path, a.GetTypeUrl(), err))
			return
		}
		if v, ok := inner.(interface{ ValidateAll() error }); ok {
			if err := v.ValidateAll(); err != nil {
				errs = append(errs, fmt.Errorf("%s (%s): %w", path, a.GetTypeUrl(), err))
			}
		}
	})
	return errors.Join(errs...)
}

// walkAnys calls visit for every Any reachable from m, including Anys nested
// inside other Anys, with a field path for messages.
func walkAnys(m protoreflect.Message, path string, visit func(string, *anypb.Any)) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind {
			return true
		}
		fieldPath := joinPath(path, fd.TextName())
		switch {
		case fd.IsList():
			list := v.List()
			for i := 0; i < list.Len(); i++ {
				walkMessage(list.Get(i).Message(), fmt.Sprintf("%s[%d]", fieldPath, i), visit)
			}
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				walkMessage(mv.Message(), fieldPath+"."+k.String(), visit)
				return true
			})
		default:
			walkMessage(v.Message(), fieldPath, visit)
		}
		return true
	})
}

func walkMessage(m protoreflect.Message, path string, visit func(string, *anypb.Any)) {
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		walkAnys(m, path, visit)
		return
	}
	visit(path, a)
	if inner, err := a.UnmarshalNew(); err == nil {
		walkAnys(inner.ProtoReflect(), path, visit)
	}
}

func joinPath(base, field string) string {
	if base == "" {
		return field
	}
	return base + "." + field
}
