package password

import (
	"errors"
	"testing"
)

func TestPolicy(t *testing.T) {
	strict := Policy{Enabled: true, MinimumLength: 8, RequireDigit: true, RequireSymbol: true, RequireLowercase: true, RequireUppercase: true}
	tests := []struct {
		pw   string
		code string
	}{
		{"Abcdef1!", ""},
		{"Ab1!", "M_PASSWORD_TOO_SHORT"},
		{"Abcdefg!", "M_PASSWORD_NO_DIGIT"},
		{"Abcdefg1", "M_PASSWORD_NO_SYMBOL"},
		{"ABCDEF1!", "M_PASSWORD_NO_LOWERCASE"},
		{"abcdef1!", "M_PASSWORD_NO_UPPERCASE"},
		{"Äbcdef1ß", "M_PASSWORD_NO_UPPERCASE"}, // non-ASCII letters count as symbols, as in Synapse
	}
	for _, tt := range tests {
		err := strict.Check(tt.pw)
		var pe *PolicyError
		switch {
		case tt.code == "" && err != nil:
			t.Errorf("Check(%q) = %v, want nil", tt.pw, err)
		case tt.code != "" && (!errors.As(err, &pe) || pe.Code != tt.code):
			t.Errorf("Check(%q) = %v, want %s", tt.pw, err, tt.code)
		}
	}
	if err := (Policy{MinimumLength: 100}).Check("x"); err != nil {
		t.Errorf("disabled policy enforced: %v", err)
	}
}
