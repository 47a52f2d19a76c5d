package auth

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// source says where a token was found.
type source int

const (
	fromHeader source = iota
	fromQuery
	fromCookie
)

// legacyQueryParam is the 0.x query parameter carrying a token (LEG-6).
// RFC 6750's access_token is deliberately not read (AUTH-7).
const legacyQueryParam = "authorization"

// presented is a token and where it came from.
type presented struct {
	token string
	src   source
	name  string // cookie name, for logs
}

func (p *presented) where() string {
	switch p.src {
	case fromHeader:
		return "Authorization header"
	case fromQuery:
		return "authorization query parameter"
	default:
		return "cookie " + p.name
	}
}

// findToken returns the token r presents, or nil when there is none. The
// first source present wins, even if its token turns out invalid: a
// malformed or invalid header never falls back to a cookie (AUTH-9, §4.19).
func (a *Authorizer) findToken(r *http.Request) (*presented, *Error) {
	if vals := r.Header.Values("Authorization"); len(vals) > 0 {
		if len(vals) > 1 {
			return nil, invalidRequest(RulePresentation, "%d Authorization header fields", len(vals))
		}
		tok, err := a.parseBearer(vals[0])
		if err != nil {
			return nil, err
		}
		return &presented{token: tok, src: fromHeader}, nil
	}
	if r.URL != nil && r.URL.RawQuery != "" {
		if vals := r.URL.Query()[legacyQueryParam]; len(vals) > 0 {
			if len(vals) > 1 {
				return nil, invalidRequest(RulePresentation, "%d authorization query parameters", len(vals))
			}
			if vals[0] == "" {
				return nil, invalidRequest(RulePresentation, "empty authorization query parameter")
			}
			if len(vals[0]) > a.maxToken {
				return nil, tooLarge("token in the authorization query parameter", len(vals[0]), a.maxToken)
			}
			return &presented{token: vals[0], src: fromQuery}, nil
		}
	}
	for _, name := range a.cookies {
		c, err := r.Cookie(name)
		// An empty value is how applications delete a cookie: treat it as
		// absent rather than as an invalid token.
		if err != nil || c.Value == "" {
			continue
		}
		if len(c.Value) > a.maxToken {
			return nil, tooLarge("token in cookie "+name, len(c.Value), a.maxToken)
		}
		return &presented{token: c.Value, src: fromCookie, name: name}, nil
	}
	return nil, nil
}

// parseBearer reads `Bearer <token>` (AUTH-10): the scheme is matched
// case-insensitively, exactly one space follows, and the token has the
// RFC 6750 b64token syntax.
func (a *Authorizer) parseBearer(v string) (string, *Error) {
	const scheme = "Bearer "
	if len(v) < len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", invalidRequest(RulePresentation, "Authorization header is not a Bearer credential")
	}
	tok := v[len(scheme):]
	if len(tok) > a.maxToken {
		return "", tooLarge("Authorization header token", len(tok), a.maxToken)
	}
	if !isB64Token(tok) {
		return "", invalidRequest(RulePresentation, "Authorization header token is not an RFC 6750 b64token")
	}
	return tok, nil
}

// isB64Token checks RFC 6750's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	i := 0
	for i < len(s) {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			i++
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// originPattern is one entry of Config.PublishOrigins.
type originPattern struct {
	any            bool   // "*"
	exact          string // lower-cased origin
	prefix, suffix string // single-* wildcard such as https://*.example.com
	wildcard       bool
}

func compileOrigins(list []string) ([]originPattern, error) {
	out := make([]originPattern, 0, len(list))
	for _, o := range list {
		o = strings.ToLower(strings.TrimSpace(o))
		switch n := strings.Count(o, "*"); {
		case o == "*":
			out = append(out, originPattern{any: true})
		case o == "":
			return nil, fmt.Errorf("empty publish origin")
		case n == 0:
			out = append(out, originPattern{exact: strings.TrimSuffix(o, "/")})
		case n == 1:
			prefix, suffix, _ := strings.Cut(o, "*")
			out = append(out, originPattern{wildcard: true, prefix: prefix, suffix: suffix})
		default:
			return nil, fmt.Errorf("publish origin %q: at most one * is allowed", o)
		}
	}
	return out, nil
}

// requestOrigin returns the lower-cased origin of r: the Origin header,
// else the scheme and host of the Referer; "" when neither is usable.
func requestOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" {
		return strings.ToLower(o)
	}
	ref := r.Header.Get("Referer")
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// checkCSRF guards a cookie-authenticated publish (CORS-4/5): cookies are
// sent by the browser on cross-site requests too, so the request's origin
// must be one the operator listed. No origin at all is refused.
func (a *Authorizer) checkCSRF(r *http.Request) *Error {
	origin := requestOrigin(r)
	if origin == "" {
		return invalidRequest(RuleCSRF, "cookie-authenticated publish without Origin or Referer")
	}
	for _, p := range a.origins {
		switch {
		case p.any:
			return nil
		case p.wildcard:
			// The * stands for at least one character and never spans a
			// path or user info, so https://*.e.com cannot match
			// https://evil.test/x.e.com.
			if len(origin) > len(p.prefix)+len(p.suffix) &&
				strings.HasPrefix(origin, p.prefix) && strings.HasSuffix(origin, p.suffix) {
				mid := origin[len(p.prefix) : len(origin)-len(p.suffix)]
				if !strings.ContainsAny(mid, "/@") {
					return nil
				}
			}
		case origin == p.exact:
			return nil
		}
	}
	if len(a.origins) == 0 {
		return invalidRequest(RuleCSRF, "cookie-authenticated publishing is disabled (no publish origins configured)")
	}
	return invalidRequest(RuleCSRF, "origin %q not allowed to publish with a cookie", origin)
}
