package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// csrfTTL is how long a form's token stays valid.
const csrfTTL = 12 * time.Hour

// csrfSigner makes and checks the tokens in the UI's POST forms: the time the
// form was made and an HMAC of it under a per-process key. A page on another
// site can neither read a token from our pages nor make one.
type csrfSigner struct {
	key []byte
	now func() time.Time
}

func (c csrfSigner) mac(ts string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("housing-ui-csrf|" + ts))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// token returns a fresh token for a form.
func (c csrfSigner) token() string {
	ts := strconv.FormatInt(c.now().Unix(), 10)
	return ts + "." + c.mac(ts)
}

// valid reports whether tok was made by this signer less than csrfTTL ago.
func (c csrfSigner) valid(tok string) bool {
	ts, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return false
	}
	if !hmac.Equal([]byte(sig), []byte(c.mac(ts))) {
		return false
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	age := c.now().Sub(time.Unix(sec, 0))
	return age >= -time.Minute && age <= csrfTTL
}

// checkPost refuses a state-changing request that comes from another origin (by
// the browser's Origin and Sec-Fetch-Site headers) or lacks a valid token.
func (c csrfSigner) checkPost(r *http.Request) error {
	if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return tracking.Errorf(tracking.ErrPermissionDenied, "Refused a form posted from another site (Sec-Fetch-Site: %s)", site)
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return tracking.Errorf(tracking.ErrPermissionDenied, "Refused a form posted from origin %q to host %q", origin, r.Host)
		}
	}
	if !c.valid(r.PostFormValue("csrf")) {
		return tracking.Errorf(tracking.ErrPermissionDenied, "The form's security token is missing, wrong or expired: reload the page and try again")
	}
	return nil
}
