package accounts

import "time"

// SetClock replaces the service's clock, for tests that move time.
func (s *Service) SetClock(now func() time.Time) { s.now = now }
