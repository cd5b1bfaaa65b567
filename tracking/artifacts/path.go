package artifacts

import (
	"net/url"
	"strings"

	"github.com/mlops-lab/housing/tracking"
)

// maxUnescapes bounds how many layers of percent-encoding CleanPath looks through.
const maxUnescapes = 3

// CleanPath checks an artifact path and returns it normalized: slash-separated,
// relative, without empty or "." segments ("" is the root). It returns
// INVALID_PARAMETER_VALUE "Invalid path" for ".." segments, absolute paths,
// Windows drive letters, backslashes and NUL bytes, also when they are hidden
// behind percent-encoding (a server may decode the path once more).
func CleanPath(p string) (string, error) {
	if err := checkDecodings(p); err != nil {
		return "", err
	}
	var parts []string
	for _, seg := range strings.Split(p, "/") {
		if seg != "" && seg != "." {
			parts = append(parts, seg)
		}
	}
	out := strings.Join(parts, "/")
	// Dropping "." and empty segments can make an encoded slash lead the path
	// ("./%2f" becomes "%2f", which decodes to "/"), so the result is checked too.
	if err := checkDecodings(out); err != nil {
		return "", err
	}
	return out, nil
}

// checkDecodings refuses p when p, or p with up to maxUnescapes layers of
// percent-encoding removed, is unsafe.
func checkDecodings(p string) error {
	s := p
	for i := 0; ; i++ {
		if unsafePath(s) {
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path")
		}
		if i == maxUnescapes || !strings.Contains(s, "%") {
			return nil
		}
		u, err := url.PathUnescape(s)
		if err != nil || u == s {
			return nil // not an encoding: a literal '%' in a file name
		}
		s = u
	}
}

func unsafePath(s string) bool {
	if strings.ContainsAny(s, "\\\x00") || strings.HasPrefix(s, "/") {
		return true
	}
	if len(s) >= 2 && s[1] == ':' && isASCIILetter(s[0]) {
		return true // C:foo, C:/foo
	}
	for _, seg := range strings.Split(s, "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// joinPath joins slash-separated relative paths, skipping empty ones.
func joinPath(elems ...string) string {
	var parts []string
	for _, e := range elems {
		if e = strings.Trim(e, "/"); e != "" {
			parts = append(parts, e)
		}
	}
	return strings.Join(parts, "/")
}
