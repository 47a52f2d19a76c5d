package topic

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ValidString checks the character rules of topics and matcher values
// (TOP-1, SUB-8): s must be valid UTF-8 and contain no C0 control
// (U+0000-U+001F), DEL (U+007F), C1 control (U+0080-U+009F) or Unicode format
// character (general category Cf, e.g. bidi overrides and zero-width
// characters, which make visually identical identifiers differ).
//
// The error names the offending code point and its byte offset but never
// repeats s itself, so it can be shown to clients and logged safely.
func ValidString(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			// ASCII fast path: most topics are plain URLs.
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("control character U+%04X at byte %d", c, i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return fmt.Errorf("invalid UTF-8 at byte %d", i)
		case r <= 0x9f:
			return fmt.Errorf("control character U+%04X at byte %d", r, i)
		case unicode.Is(unicode.Cf, r):
			return fmt.Errorf("format character U+%04X at byte %d", r, i)
		}
		i += size
	}
	return nil
}
