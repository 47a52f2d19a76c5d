package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// rawClaims keeps every claim as raw JSON. golang-jwt decodes the payload
// into it (through tokenClaims) and checks only the signature (WithoutClaimsValidation): Hermes
// checks the claims itself because the two dialects differ (legacy exp is
// optional and may be fractional or a numeric string, which jwt/v5's
// NumericDate refuses), and because the authorization details must be
// parsed strictly from their exact JSON.
type rawClaims map[string]json.RawMessage

// tokenClaims is what golang-jwt decodes the payload into. The decoded
// flag tells a JSON object from a `null` payload, which encoding/json
// applies by clearing the Claims interface without calling UnmarshalJSON.
type tokenClaims struct {
	m       rawClaims
	decoded bool
}

func (c *tokenClaims) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.m); err != nil {
		return err
	}
	c.decoded = c.m != nil
	return nil
}

// The jwt.Claims methods are never consulted (claims validation is off);
// they exist only to satisfy the interface.
func (*tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (*tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (*tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (*tokenClaims) GetIssuer() (string, error)                   { return "", nil }
func (*tokenClaims) GetSubject() (string, error)                  { return "", nil }
func (*tokenClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// has reports whether the claim is present with a non-null value.
func (c rawClaims) has(name string) bool {
	v, ok := c[name]
	return ok && !isNull(v)
}

func isNull(v json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// Largest NumericDate accepted as such; later values are clamped. Year
// ~33658: far beyond any real expiry, and far from time.Time's limits.
const maxNumericDate = 1e12

// numericDate reads an RFC 7519 NumericDate: a JSON number, possibly
// fractional (lcobucci/jwt writes exp: 1700000000.123). allowString also
// accepts a JSON string holding such a number, which some legacy issuers
// send. null counts as absent (ok false).
func numericDate(v json.RawMessage, allowString bool) (t time.Time, ok bool, err error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || bytes.Equal(v, []byte("null")) {
		return time.Time{}, false, nil
	}
	text := string(v)
	if v[0] == '"' {
		if !allowString {
			return time.Time{}, false, errors.New("a string, not a number of seconds")
		}
		if err := json.Unmarshal(v, &text); err != nil {
			return time.Time{}, false, fmt.Errorf("not a number: %w", err)
		}
	}
	if !isJSONNumber(text) {
		return time.Time{}, false, errors.New("not a number")
	}
	t, err = parseNumericDate(text)
	if err != nil {
		return time.Time{}, false, err
	}
	return t, true, nil
}

// parseNumericDate converts a JSON number literal to a time. Plain decimals
// are split at the point so that 1700000000.123 is exactly 123 ms past the
// second (a float64 would make it 122.999907 ms); exponent forms go through
// float64. Values beyond ±maxNumericDate seconds are clamped.
func parseNumericDate(text string) (time.Time, error) {
	if !strings.ContainsAny(text, "eE") {
		intPart, frac, _ := strings.Cut(text, ".")
		neg := strings.HasPrefix(intPart, "-")
		sec, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil || sec > maxNumericDate || sec < -maxNumericDate {
			if neg {
				return time.Unix(-maxNumericDate, 0), nil
			}
			return time.Unix(maxNumericDate, 0), nil
		}
		if len(frac) > 9 {
			frac = frac[:9] // sub-nanosecond digits are dropped
		}
		var ns int64
		if frac != "" {
			ns, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		}
		if neg {
			ns = -ns
		}
		return time.Unix(sec, ns), nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return time.Time{}, errors.New("not a number")
	}
	switch {
	case f > maxNumericDate || math.IsInf(f, 1):
		f = maxNumericDate
	case f < -maxNumericDate || math.IsInf(f, -1):
		f = -maxNumericDate
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e9))), nil
}

// checkTimes enforces exp and nbf with zero leeway: a token is valid from
// nbf inclusive to exp exclusive (RFC 7519 §4.1.4-5, golang-jwt's rule).
// requireExp is the draft-08 rule (TV-5); legacy tokens may lack exp. An
// expired or early token's Error carries the date in At, for callers that
// show it relative to now.
func checkTimes(c rawClaims, now time.Time, requireExp, allowString bool) (time.Time, *Error) {
	exp, hasExp, err := numericDate(c["exp"], allowString)
	if err != nil {
		return time.Time{}, invalidToken(RuleTimeClaim, "exp %s is not a NumericDate: %v", ShowJSON(c["exp"]), err)
	}
	if !hasExp && requireExp {
		return time.Time{}, invalidToken(RuleTimeClaim, "exp missing: draft-08 tokens must expire")
	}
	if hasExp && !now.Before(exp) {
		e := invalidToken(RuleExpired, "expired at %s", exp.UTC().Format(time.RFC3339))
		e.At = exp
		return time.Time{}, e
	}
	nbf, hasNbf, err := numericDate(c["nbf"], allowString)
	if err != nil {
		return time.Time{}, invalidToken(RuleTimeClaim, "nbf %s is not a NumericDate: %v", ShowJSON(c["nbf"]), err)
	}
	if hasNbf && now.Before(nbf) {
		e := invalidToken(RuleNotYetValid, "not valid yet: nbf is %s", nbf.UTC().Format(time.RFC3339))
		e.At = nbf
		return time.Time{}, e
	}
	return exp, nil
}

// isJSONNumber reports whether s is a JSON number literal. ParseFloat alone
// would also take "Inf", "0x1p3" or "1_000".
func isJSONNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}
