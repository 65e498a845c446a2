package signing

import (
	"errors"
	"fmt"
	"strings"
)

// AlgorithmEd25519 is the only signing algorithm Matrix servers use.
const AlgorithmEd25519 = "ed25519"

// ErrInvalidKeyID reports a signing key identifier that is not
// "algorithm:version" with both parts made of [a-zA-Z0-9_].
var ErrInvalidKeyID = errors.New("invalid signing key ID")

// ErrUnsupportedAlgorithm reports a key ID whose algorithm is not ed25519.
var ErrUnsupportedAlgorithm = errors.New("unsupported signing algorithm")

// SplitKeyID validates a signing key identifier such as "ed25519:a_AbCd"
// and returns its algorithm and version. The spec (server keys, "Key ID")
// says the version must match [a-zA-Z0-9_]; the algorithm is held to the
// same alphabet. Unknown algorithms are not an error here: the checking
// procedure skips them, it does not fail on them.
func SplitKeyID(keyID string) (algorithm, version string, err error) {
	algorithm, version, ok := strings.Cut(keyID, ":")
	if !ok || !isKeyIDPart(algorithm) || !isKeyIDPart(version) {
		return "", "", fmt.Errorf("%w %q: want algorithm:version of [a-zA-Z0-9_]", ErrInvalidKeyID, keyID)
	}
	return algorithm, version, nil
}

// ValidateKeyID checks that keyID is a well-formed ed25519 key ID, the
// only kind we can sign or verify with.
func ValidateKeyID(keyID string) error {
	alg, _, err := SplitKeyID(keyID)
	if err != nil {
		return err
	}
	if alg != AlgorithmEd25519 {
		return fmt.Errorf("%w %q in key ID %q", ErrUnsupportedAlgorithm, alg, keyID)
	}
	return nil
}

func isKeyIDPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
