package signing

import (
	"encoding/base64"
	"errors"
	"strings"
)

// ErrBadBase64 reports a string that is not valid (padded or unpadded)
// base64.
var ErrBadBase64 = errors.New("invalid base64")

// EncodeBase64 encodes b as unpadded standard base64, the encoding Matrix
// uses for keys, signatures and hashes.
func EncodeBase64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }

// DecodeBase64 decodes standard base64 with or without padding: the spec
// says implementations SHOULD accept both. Whitespace (which the Go decoder
// would otherwise skip) is rejected, so a value has one spelling.
func DecodeBase64(s string) ([]byte, error) {
	return decode64(s, base64.StdEncoding, base64.RawStdEncoding)
}

// EncodeURLBase64 encodes b as unpadded URL-safe base64 (event IDs from
// room version 4, room IDs from version 12).
func EncodeURLBase64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// DecodeURLBase64 decodes URL-safe base64 with or without padding.
func DecodeURLBase64(s string) ([]byte, error) {
	return decode64(s, base64.URLEncoding, base64.RawURLEncoding)
}

func decode64(s string, padded, raw *base64.Encoding) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, ErrBadBase64
	}
	enc := raw
	if strings.HasSuffix(s, "=") {
		enc = padded
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, errors.Join(ErrBadBase64, err)
	}
	return b, nil
}
