package topic

import (
	"strings"
	"testing"
)

func TestTOP1_ValidStrings(t *testing.T) {
	for _, s := range []string{
		"",
		"https://example.com/books/1",
		"https://example.com/\u0645\u0631\u062d\u0628\u0627", // RTL letters are fine, only bidi controls are not
		"urn:uuid:bb3de268-05b0-4c65-b44e-8f9acefc29d6",
		"a b~!*'();:@&=+$,/?#[]%",
		"caf\u00e9 cafe\u0301",
		"\u00a0",     // NBSP is Zs, not a control
		"\ufffd",     // the replacement character itself is valid UTF-8
		"\U0001F600", // 4-byte sequence
		"\u4e2d\u6587",
	} {
		if err := ValidString(s); err != nil {
			t.Errorf("ValidString(%q) = %v, want nil", s, err)
		}
	}
}

func TestTOP1_InvalidStrings(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want string // substring of the error
	}{
		{"a\u202eb", "format character U+202E at byte 1"},      // RIGHT-TO-LEFT OVERRIDE
		{"a\x00b", "control character U+0000 at byte 1"},       // NUL
		{"\xff", "invalid UTF-8 at byte 0"},                    // not UTF-8
		{"abc\xe2\x80", "invalid UTF-8 at byte 3"},             // truncated sequence
		{"\xed\xa0\x80", "invalid UTF-8 at byte 0"},            // encoded surrogate
		{"\xc0\xaf", "invalid UTF-8 at byte 0"},                // overlong '/'
		{"a\tb", "control character U+0009"},                   // C0
		{"a\nb", "control character U+000A"},                   // C0
		{"a\x1fb", "control character U+001F"},                 // last C0
		{"a\x7fb", "control character U+007F"},                 // DEL
		{"a\u0080b", "control character U+0080"},               // first C1
		{"a\u0085b", "control character U+0085"},               // NEL
		{"a\u009fb", "control character U+009F"},               // last C1
		{"\u200b", "format character U+200B"},                  // ZERO WIDTH SPACE
		{"a\u200db", "format character U+200D"},                // ZWJ
		{"\ufeffa", "format character U+FEFF"},                 // BOM
		{"a\u00adb", "format character U+00AD"},                // SOFT HYPHEN
		{"a\u2066b", "format character U+2066"},                // LEFT-TO-RIGHT ISOLATE
		{"a\U000E0001", "format character U+E0001"},            // LANGUAGE TAG
		{"https://e.com/\u061c", "format character U+061C at"}, // ARABIC LETTER MARK
	} {
		err := ValidString(tc.s)
		if err == nil {
			t.Errorf("ValidString(%q) = nil, want an error", tc.s)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidString(%q) = %q, want it to contain %q", tc.s, err, tc.want)
		}
	}
}

func TestTOP1_ErrorDoesNotEchoInput(t *testing.T) {
	secret := "https://example.com/secret-token-value\x00"
	err := ValidString(secret)
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("ValidString error %v must describe the problem without repeating the input", err)
	}
}
