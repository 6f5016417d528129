package manifest

import (
	"fmt"
	"strings"
)

// Severity says whether a finding blocks a configuration.
type Severity string

const (
	// SeverityError marks a configuration that Istio or Envoy rejects, or one
	// that silently defeats a security property.
	SeverityError Severity = "error"
	// SeverityWarning marks a configuration that works but is risky or
	// surprising; the message says what to change.
	SeverityWarning Severity = "warning"
)

// Finding is one lint result, located by document and field path.
type Finding struct {
	Source   string   `json:"source"`           // file name, or a label for generated text
	Line     int      `json:"line"`             // first line of the document in Source
	Object   string   `json:"object,omitempty"` // e.g. "WasmPlugin shop/pathnorm"
	Path     string   `json:"path"`             // e.g. "spec.sha256"; "" for the whole document
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
}

// String renders a finding as "source:line: object: path: severity: message".
func (f Finding) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: ", f.Source, f.Line)
	if f.Object != "" {
		b.WriteString(f.Object + ": ")
	}
	if f.Path != "" {
		b.WriteString(f.Path + ": ")
	}
	fmt.Fprintf(&b, "%s: %s", f.Severity, f.Message)
	return b.String()
}

// HasErrors reports whether any finding has SeverityError.
func HasErrors(findings []Finding) bool {
	for _, f := range findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Errors returns the findings with SeverityError.
func Errors(findings []Finding) []Finding {
	var errs []Finding
	for _, f := range findings {
		if f.Severity == SeverityError {
			errs = append(errs, f)
		}
	}
	return errs
}

// findings collects results for one document.
type findings struct {
	doc  Document
	list []Finding
}

func (fs *findings) add(sev Severity, path, format string, args ...any) {
	fs.list = append(fs.list, Finding{
		Source:   fs.doc.Source,
		Line:     fs.doc.Line,
		Object:   fs.doc.Name(),
		Path:     path,
		Severity: sev,
		Message:  fmt.Sprintf(format, args...),
	})
}

func (fs *findings) errorf(path, format string, args ...any) {
	fs.add(SeverityError, path, format, args...)
}

func (fs *findings) warnf(path, format string, args ...any) {
	fs.add(SeverityWarning, path, format, args...)
}
