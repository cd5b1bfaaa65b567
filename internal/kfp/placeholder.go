package kfp

import (
	"fmt"
	"regexp"
)

// PlaceholderKind says what a container-argument placeholder stands for.
type PlaceholderKind int

// The placeholders a container step's command and args may use.
const (
	KindInputParameter      PlaceholderKind = iota + 1 // {{$.inputs.parameters['x']}}
	KindInputArtifactPath                              // {{$.inputs.artifacts['x'].path}}
	KindInputArtifactURI                               // {{$.inputs.artifacts['x'].uri}}
	KindOutputArtifactPath                             // {{$.outputs.artifacts['x'].path}}
	KindOutputArtifactURI                              // {{$.outputs.artifacts['x'].uri}}
	KindOutputParameterFile                            // {{$.outputs.parameters['x'].output_file}}
)

func (k PlaceholderKind) String() string {
	switch k {
	case KindInputParameter:
		return "input parameter"
	case KindInputArtifactPath, KindInputArtifactURI:
		return "input artifact"
	case KindOutputArtifactPath, KindOutputArtifactURI:
		return "output artifact"
	case KindOutputParameterFile:
		return "output parameter"
	default:
		return fmt.Sprintf("PlaceholderKind(%d)", int(k))
	}
}

// Placeholder is one {{$...}} reference inside a container argument.
type Placeholder struct {
	Kind PlaceholderKind
	Name string // the input or output key
	Text string // the placeholder as written
}

var (
	anyPlaceholder   = regexp.MustCompile(`\{\{\$[^}]*\}\}`)
	knownPlaceholder = regexp.MustCompile(`^\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](?:\.(path|uri|output_file))?\}\}$`)
)

// ParsePlaceholder reads one placeholder. It returns an error for any
// placeholder other than the kinds of PlaceholderKind, such as the SDK's
// whole-executor-input {{$}}, which only the KFP launcher can provide.
func ParsePlaceholder(text string) (Placeholder, error) {
	m := knownPlaceholder.FindStringSubmatch(text)
	if m == nil {
		return Placeholder{}, fmt.Errorf("kfp: unsupported placeholder %s", text)
	}
	p := Placeholder{Name: m[3], Text: text}
	switch m[1] + "." + m[2] + "." + m[4] {
	case "inputs.parameters.":
		p.Kind = KindInputParameter
	case "inputs.artifacts.path":
		p.Kind = KindInputArtifactPath
	case "inputs.artifacts.uri":
		p.Kind = KindInputArtifactURI
	case "outputs.artifacts.path":
		p.Kind = KindOutputArtifactPath
	case "outputs.artifacts.uri":
		p.Kind = KindOutputArtifactURI
	case "outputs.parameters.output_file":
		p.Kind = KindOutputParameterFile
	default:
		return Placeholder{}, fmt.Errorf("kfp: unsupported placeholder %s", text)
	}
	return p, nil
}

// Placeholders returns the placeholders in one container argument.
func Placeholders(arg string) ([]Placeholder, error) {
	var out []Placeholder
	for _, text := range anyPlaceholder.FindAllString(arg, -1) {
		p, err := ParsePlaceholder(text)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ResolvePlaceholders replaces every placeholder in arg with what value
// returns for it.
func ResolvePlaceholders(arg string, value func(Placeholder) (string, error)) (string, error) {
	var firstErr error
	out := anyPlaceholder.ReplaceAllStringFunc(arg, func(text string) string {
		if firstErr != nil {
			return text
		}
		p, err := ParsePlaceholder(text)
		if err == nil {
			var v string
			v, err = value(p)
			if err == nil {
				return v
			}
		}
		firstErr = err
		return text
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}
