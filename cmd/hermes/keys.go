package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hermes-hub/hermes/auth"
)

// maxKeyFileBytes bounds a key file: PEM keys and certificate chains are a
// few KiB; anything near this size is the wrong file.
const maxKeyFileBytes = 1 << 20

// readKey turns a key setting into key bytes: "@path" reads a file, any
// other text is the key itself (an HMAC secret or PEM text). Secrets read
// from a file lose one trailing newline, which editors and `echo` add but
// which is never meant to be part of the secret; PEM is kept as is.
func readKey(value string) ([]byte, error) {
	if value == "" {
		return nil, errors.New("empty key")
	}
	if value[0] != '@' {
		return []byte(value), nil
	}
	path := value[1:]
	if path == "" {
		return nil, errors.New(`"@" must be followed by a file path`)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read key file %q: %w", path, err)
	}
	if len(b) > maxKeyFileBytes {
		return nil, fmt.Errorf("key file %q is larger than %d bytes", path, maxKeyFileBytes)
	}
	if !auth.IsPEM(b) {
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("key file %q is empty", path)
	}
	return b, nil
}

// loadKey reads a resolved key setting; nil when none was given. Errors
// name the flag (and variable) the key came from.
func loadKey(k keySpec) ([]byte, error) {
	if !k.given() {
		return nil, nil
	}
	b, err := readKey(k.value)
	if err != nil {
		return nil, usageErrorf("%s: %v", k.describe(k.flag), err)
	}
	return b, nil
}

// keyKind describes a key for logs without revealing it.
func keyKind(b []byte) string {
	switch {
	case b == nil:
		return "none"
	case auth.IsPEM(b):
		return "pem"
	default:
		return "secret"
	}
}
