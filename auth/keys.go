package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithms Hermes knows. HS* exist only for static secrets: a JWKS never
// supplies symmetric keys here.
var (
	hmacAlgs       = []string{"HS256", "HS384", "HS512"}
	asymmetricAlgs = []string{"EdDSA", "ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)

// defaultJWKSAlgs is the JWKS allowlist when Config.JWKSAlgs is empty (TV-3).
var defaultJWKSAlgs = asymmetricAlgs

// staticKey is a key from configuration pinned to its one algorithm.
type staticKey struct {
	alg string
	key any // []byte for HS*, a crypto public key otherwise
}

// IsPEM reports whether a configured key is PEM rather than a raw secret.
// A secret that happens to contain a PEM armour line is treated as PEM: it
// then fails to parse loudly instead of being used as an HMAC secret. The
// CLI uses the same rule to decide how to read and describe a key.
func IsPEM(key []byte) bool {
	return bytes.Contains(key, []byte("-----BEGIN "))
}

// newStaticKey validates a configured key against its algorithm (TV-3).
func newStaticKey(key []byte, alg string) (*staticKey, error) {
	if strings.EqualFold(alg, "none") {
		return nil, errors.New(`alg "none" is never accepted`)
	}
	if !IsPEM(key) {
		if alg == "" {
			alg = "HS256"
		}
		if !slices.Contains(hmacAlgs, alg) {
			if slices.Contains(asymmetricAlgs, alg) {
				return nil, fmt.Errorf("alg %s needs a PEM-encoded key, got a raw secret", alg)
			}
			return nil, fmt.Errorf("unsupported alg %q", alg)
		}
		// The secret is copied so that a caller reusing its buffer cannot
		// change the key under a running hub.
		return &staticKey{alg: alg, key: bytes.Clone(key)}, nil
	}
	if alg == "" {
		return nil, errors.New("a PEM key needs an explicit alg (EdDSA, ES256/384/512, RS256/384/512 or PS256/384/512)")
	}
	if slices.Contains(hmacAlgs, alg) {
		// Verifying HS* with a public key's bytes is the classic algorithm
		// confusion: anyone holding the public key could sign tokens.
		return nil, fmt.Errorf("alg %s cannot be used with a PEM key", alg)
	}
	if !slices.Contains(asymmetricAlgs, alg) {
		return nil, fmt.Errorf("unsupported alg %q", alg)
	}
	pub, err := parsePublicPEM(key)
	if err != nil {
		return nil, err
	}
	if err := keyFitsAlg(alg, pub); err != nil {
		return nil, err
	}
	return &staticKey{alg: alg, key: pub}, nil
}

// parsePublicPEM reads the first PEM block of key: a public key (PKIX or
// PKCS#1), a certificate, or a private key (PKCS#8, PKCS#1, SEC 1) whose
// public half is returned, so the hub can share a file with a token minter.
func parsePublicPEM(key []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(key)
	if block == nil {
		return nil, errors.New("the key looks like PEM but has no valid PEM block")
	}
	var (
		parsed any
		err    error
	)
	switch block.Type {
	case "PUBLIC KEY":
		parsed, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		parsed, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		cert, err = x509.ParseCertificate(block.Bytes)
		if err == nil {
			parsed = cert.PublicKey
		}
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing PEM %s: %w", block.Type, err)
	}
	return publicHalf(parsed)
}

// publicHalf returns the public key of a parsed key, rejecting kinds JWS
// cannot use.
func publicHalf(k any) (crypto.PublicKey, error) {
	switch k := k.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k, nil
	case *rsa.PrivateKey:
		return &k.PublicKey, nil
	case *ecdsa.PrivateKey:
		return &k.PublicKey, nil
	case ed25519.PrivateKey:
		return k.Public(), nil
	default:
		return nil, fmt.Errorf("unsupported key type %T", k)
	}
}

// keyFitsAlg checks that alg can be verified with pub (TV-3): RSA for RS*
// and PS*, ECDSA on the matching curve for ES*, Ed25519 for EdDSA.
func keyFitsAlg(alg string, pub any) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS") {
			return nil
		}
	case *ecdsa.PublicKey:
		want := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[alg]
		if want != nil {
			if k.Curve == nil || k.Curve.Params().Name != want.Params().Name {
				return fmt.Errorf("alg %s needs curve %s", alg, want.Params().Name)
			}
			return nil
		}
	case ed25519.PublicKey:
		if alg == "EdDSA" {
			return nil
		}
	case []byte:
		if slices.Contains(hmacAlgs, alg) {
			return nil
		}
	}
	return fmt.Errorf("alg %s does not fit a key of type %T", alg, pub)
}

// parsePrivatePEM reads a private key for Mint.
func parsePrivatePEM(key []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(key)
	if block == nil {
		return nil, errors.New("the key looks like PEM but has no valid PEM block")
	}
	var (
		parsed any
		err    error
	)
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		parsed, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("minting needs a private key, got PEM %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parsing PEM %s: %w", block.Type, err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", parsed)
	}
	return signer, nil
}

// defaultAlgFor picks the natural alg of a private key for Mint.
func defaultAlgFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", fmt.Errorf("no JWS algorithm for key type %T", pub)
}

// signingMethod maps a validated alg name to golang-jwt's implementation.
func signingMethod(alg string) (jwt.SigningMethod, error) {
	if strings.EqualFold(alg, "none") {
		return nil, errors.New(`alg "none" is never accepted`)
	}
	if !slices.Contains(hmacAlgs, alg) && !slices.Contains(asymmetricAlgs, alg) {
		return nil, fmt.Errorf("unsupported alg %q", alg)
	}
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		return nil, fmt.Errorf("unsupported alg %q", alg)
	}
	return m, nil
}
