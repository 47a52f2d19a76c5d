package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Check verifies one raw token for role exactly as Authenticate verifies a
// token sent in an Authorization header: same size and syntax limits, same
// keys, same claim rules. resourceID is the aud a draft-08 token must
// contain; "" means the configured ResourceID (without either, draft-08
// tokens are refused, as the hub refuses them). It exists for `hermes token check`, which answers the most
// common hub question, "why is my token refused?", with the Reason of the
// returned Error. Printing is the caller's: auth returns the Grant or the
// Error with its Rule, Dialect, Key and At.
func (a *Authorizer) Check(ctx context.Context, token string, role Role, resourceID string) (*Grant, *Error) {
	if role != Publisher && role != Subscriber {
		return nil, errInternal("unknown role " + role.String())
	}
	tok, err := a.parseBearer("Bearer " + token)
	if err != nil {
		return nil, err
	}
	if resourceID == "" {
		resourceID = a.resourceID
	}
	return a.verify(ctx, role, tok, resourceID)
}

// MaxInspectBytes bounds the token Inspect decodes.
const MaxInspectBytes = 1 << 20

// Inspect decodes the header and claims of a compact JWS without verifying
// anything, so that a refused token can still be shown. Numbers are kept as
// json.Number, exactly as written. When the claims cannot be decoded, the
// header is still returned along with the error. The result must never be
// trusted for access decisions: use Check or Authenticate.
func Inspect(token string) (header, claims map[string]any, err error) {
	if len(token) > MaxInspectBytes {
		return nil, nil, fmt.Errorf("token longer than %d bytes", MaxInspectBytes)
	}
	parts := strings.Split(token, ".")
	switch n := len(parts); {
	case n == 5:
		return nil, nil, errors.New("5 segments: this is an encrypted token (JWE); Mercure hubs take signed tokens (JWS, 3 segments)")
	case n != 3:
		return nil, nil, fmt.Errorf("%d segments, want 3 (header.claims.signature)", n)
	}
	if header, err = decodeSegment(parts[0]); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	if claims, err = decodeSegment(parts[1]); err != nil {
		return header, nil, fmt.Errorf("claims: %w", err)
	}
	if _, err := base64.RawURLEncoding.DecodeString(parts[2]); err != nil {
		return header, claims, errors.New("signature: not unpadded base64url")
	}
	return header, claims, nil
}

// decodeSegment decodes one base64url JSON object segment.
func decodeSegment(seg string) (map[string]any, error) {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		// Padding is the usual culprit: JWS forbids it (RFC 7515 §2).
		if strings.HasSuffix(seg, "=") {
			return nil, errors.New("base64url with = padding, which JWS forbids")
		}
		return nil, errors.New("not unpadded base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, fmt.Errorf("not a JSON object: %q", clip(string(b)))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	return m, nil
}
