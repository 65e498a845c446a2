// Package password hashes and checks passwords exactly as Synapse does, so
// hashes move between Synapse and Axon in both directions.
package password

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// DefaultRounds is Synapse's default bcrypt_rounds.
const DefaultRounds = 12

// bcryptMaxInput is bcrypt's input limit. Synapse's Python bcrypt silently
// ignored bytes past it, so passwords are truncated here the same way:
// otherwise a long password set on Synapse could never log in to Axon.
const bcryptMaxInput = 72

// Hasher hashes with Synapse's scheme: bcrypt over the UTF-8 password
// followed by password_config.pepper.
type Hasher struct {
	Rounds int
	Pepper string
}

// Hash returns a bcrypt hash in Synapse's "$2b$" spelling.
func (h Hasher) Hash(password string) (string, error) {
	rounds := h.Rounds
	if rounds == 0 {
		rounds = DefaultRounds
	}
	if rounds < bcrypt.MinCost || rounds > bcrypt.MaxCost {
		return "", fmt.Errorf("bcrypt_rounds %d out of range %d-%d", rounds, bcrypt.MinCost, bcrypt.MaxCost)
	}
	hash, err := bcrypt.GenerateFromPassword(h.input(password), rounds)
	if err != nil {
		return "", fmt.Errorf("bcrypt: %w", err)
	}
	// Go writes "$2a$", Python's bcrypt "$2b$"; the algorithm is the same and
	// both libraries accept either, but matching Synapse's output keeps
	// hashes byte-for-byte comparable with hash_password's.
	if hash[0] == '$' && hash[1] == '2' && hash[2] == 'a' {
		hash[2] = 'b'
	}
	return string(hash), nil
}

// Check reports whether password matches hash. A malformed hash is an error;
// a wrong password is not.
func (h Hasher) Check(hash, password string) (bool, error) {
	err := bcrypt.CompareHashAndPassword([]byte(hash), h.input(password))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, fmt.Errorf("check password hash: %w", err)
	}
}

func (h Hasher) input(password string) []byte {
	b := []byte(password + h.Pepper)
	if len(b) > bcryptMaxInput {
		b = b[:bcryptMaxInput]
	}
	return b
}
