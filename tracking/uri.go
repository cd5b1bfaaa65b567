package tracking

import (
	"os"
	"strings"
	"unicode/utf8"
)

// URI is a URI split the way Python's urllib.parse.urlparse splits it, which is
// how MLflow decides what an artifact location or a model version source is.
// Python's rules differ from net/url's (a scheme needs a letter first and only
// [A-Za-z0-9+.-]; no percent-decoding; bad escapes are not errors; ";params"
// leave the last path segment of some schemes only), and MLflow's checks rest
// on them, so they are reproduced rather than approximated with url.Parse.
type URI struct {
	Scheme   string // lower-cased; "" for a plain path
	Netloc   string // what follows "//" up to the path; "" without "//"
	Path     string
	Params   string // after ";" in the last path segment, for the schemes Python splits them for
	Query    string
	Fragment string
}

// usesParams are the schemes whose last path segment Python splits at ";".
var usesParams = map[string]bool{
	"": true, "ftp": true, "hdl": true, "prospero": true, "http": true, "imap": true, "https": true,
	"shttp": true, "rtsp": true, "rtspu": true, "sip": true, "sips": true, "mms": true, "sftp": true, "tel": true,
}

// usesNetloc are the schemes whose URIs Python writes with "//" even when the
// netloc is empty (file:///abs/path).
var usesNetloc = map[string]bool{
	"": true, "ftp": true, "http": true, "gopher": true, "nntp": true, "telnet": true, "imap": true,
	"wais": true, "file": true, "mms": true, "https": true, "shttp": true, "snews": true, "prospero": true,
	"rtsp": true, "rtspu": true, "rsync": true, "svn": true, "svn+ssh": true, "sftp": true, "nfs": true,
	"git": true, "git+ssh": true, "ws": true, "wss": true,
}

// ParseURI splits s as Python's urllib.parse.urlparse(s) does.
func ParseURI(s string) URI {
	s = strings.TrimLeft(s, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	s = strings.NewReplacer("\t", "", "\r", "", "\n", "").Replace(s)
	var u URI
	if i := strings.IndexByte(s, ':'); i > 0 && isASCIILetter(s[0]) && isSchemeName(s[:i]) {
		u.Scheme, s = strings.ToLower(s[:i]), s[i+1:]
	}
	if strings.HasPrefix(s, "//") {
		end := len(s)
		if i := strings.IndexAny(s[2:], "/?#"); i >= 0 {
			end = i + 2
		}
		u.Netloc, s = s[2:end], s[end:]
	}
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s, u.Fragment = s[:i], s[i+1:]
	}
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s, u.Query = s[:i], s[i+1:]
	}
	if usesParams[u.Scheme] && strings.Contains(s, ";") {
		i := strings.IndexByte(s[strings.LastIndexByte(s, '/')+1:], ';')
		if i >= 0 {
			i += strings.LastIndexByte(s, '/') + 1
			s, u.Params = s[:i], s[i+1:]
		}
	}
	u.Path = s
	return u
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isSchemeName(s string) bool {
	for i := range len(s) {
		c := s[i]
		if !isASCIILetter(c) && !('0' <= c && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// Hostname is the lower-cased host of the netloc, without user info and port;
// "" when there is none.
func (u URI) Hostname() string {
	h := u.Netloc[strings.LastIndexByte(u.Netloc, '@')+1:]
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i >= 0 {
			h = h[1:i]
		}
	} else if i := strings.IndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return strings.ToLower(h)
}

// String joins the parts as Python's urlunparse does.
func (u URI) String() string {
	p := u.Path
	if u.Params != "" {
		p += ";" + u.Params
	}
	if u.Netloc != "" || (u.Scheme != "" && usesNetloc[u.Scheme] && !strings.HasPrefix(p, "//")) {
		if p != "" && p[0] != '/' {
			p = "/" + p
		}
		p = "//" + u.Netloc + p
	}
	if u.Scheme != "" {
		p = u.Scheme + ":" + p
	}
	if u.Query != "" {
		p += "?" + u.Query
	}
	if u.Fragment != "" {
		p += "#" + u.Fragment
	}
	return p
}

// IsLocalURI reports whether uri names a path on this machine, as MLflow's
// is_local_uri: a plain path, or file: without a host (or with localhost,
// 127.0.0.1 or "."). A file: URI with another host is an error (INTERNAL_ERROR,
// MLflow's answer: its server is not meant to reach other machines' files).
func IsLocalURI(uri string) (bool, error) {
	if uri == "databricks" {
		return false, nil
	}
	u := ParseURI(uri)
	if u.Scheme == "" {
		return true, nil
	}
	host := u.Hostname()
	remote := host != "" && host != "." && !strings.HasPrefix(host, "localhost") && !strings.HasPrefix(host, "127.0.0.1")
	if u.Scheme == "file" {
		if remote {
			return false, Errorf(ErrInternal, "%s is not a valid remote uri. For remote access on windows, please consider using a different scheme such as SMB (e.g. smb://<hostname>/<path>).", uri)
		}
		return true, nil
	}
	return false, nil
}

// LocalURIToPath is the file path of a local URI, as MLflow's
// local_file_uri_to_path: the path of a file: URI, or the plain path, percent-decoded.
func LocalURIToPath(uri string) string {
	p := uri
	if strings.HasPrefix(uri, "file:") {
		p = ParseURI(uri).Path
	}
	return Unquote(p, false)
}

// ResolveURIIfLocal makes a relative local path or file: URI absolute against
// the working directory, as MLflow's resolve_uri_if_local does for artifact
// locations; other URIs come back unchanged.
func ResolveURIIfLocal(uri string) (string, error) {
	local, err := IsLocalURI(uri)
	if err != nil || !local {
		return uri, err
	}
	p := LocalURIToPath(uri)
	if strings.HasPrefix(p, "/") {
		return uri, nil
	}
	cwd, err := os.Getwd()
	if err != nil {
		return "", Errorf(ErrInternal, "resolve %s against the working directory: %w", uri, err)
	}
	abs := joinPure(cwd, p)
	u := ParseURI(uri)
	if u.Scheme == "" {
		return abs, nil
	}
	return URI{Scheme: u.Scheme, Path: abs, Query: u.Query, Fragment: u.Fragment}.String(), nil
}

// joinPure joins dir and rel as Python's pathlib does: "." and empty segments
// go, ".." stays (pathlib does not resolve it lexically).
func joinPure(dir, rel string) string {
	out := strings.TrimRight(dir, "/")
	for _, s := range strings.Split(rel, "/") {
		if s != "" && s != "." {
			out += "/" + s
		}
	}
	if out == "" {
		return "/"
	}
	return out
}

// Unquote decodes %XX escapes as Python's urllib.parse.unquote (and, with
// plus, unquote_plus, which also turns "+" into a space): an escape that is
// not two hex digits stays as it is, and bytes that are not UTF-8 become U+FFFD.
func Unquote(s string, plus bool) string {
	if !strings.Contains(s, "%") && !(plus && strings.Contains(s, "+")) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		case c == '+' && plus:
			b = append(b, ' ')
		default:
			b = append(b, c)
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
