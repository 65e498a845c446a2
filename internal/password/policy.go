package password

import (
	"fmt"
	"unicode/utf8"
)

// Policy is password_config.policy: what a new password must contain.
type Policy struct {
	Enabled          bool
	MinimumLength    int
	RequireDigit     bool
	RequireSymbol    bool
	RequireLowercase bool
	RequireUppercase bool
}

// PolicyError says which rule a password broke, with Synapse's error code.
type PolicyError struct {
	Code    string // e.g. M_PASSWORD_TOO_SHORT
	Message string
}

func (e *PolicyError) Error() string { return e.Message }

// Check returns a *PolicyError for the first rule pw breaks, or nil. The
// character classes are ASCII, as Synapse's are: a "symbol" is anything
// that is not an ASCII letter or digit.
func (p Policy) Check(pw string) error {
	if !p.Enabled {
		return nil
	}
	if n := utf8.RuneCountInString(pw); n < p.MinimumLength {
		return &PolicyError{"M_PASSWORD_TOO_SHORT", fmt.Sprintf("The password must be at least %d characters long", p.MinimumLength)}
	}
	var digit, symbol, lower, upper bool
	for _, c := range pw {
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z':
			lower = true
		case c >= 'A' && c <= 'Z':
			upper = true
		default:
			symbol = true
		}
	}
	switch {
	case p.RequireDigit && !digit:
		return &PolicyError{"M_PASSWORD_NO_DIGIT", "The password must include at least one digit"}
	case p.RequireSymbol && !symbol:
		return &PolicyError{"M_PASSWORD_NO_SYMBOL", "The password must include at least one symbol"}
	case p.RequireLowercase && !lower:
		return &PolicyError{"M_PASSWORD_NO_LOWERCASE", "The password must include at least one lowercase letter"}
	case p.RequireUppercase && !upper:
		return &PolicyError{"M_PASSWORD_NO_UPPERCASE", "The password must include at least one uppercase letter"}
	}
	return nil
}
