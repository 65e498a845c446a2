package server

import "github.com/axonhs/axon/internal/push"

// PushService exposes the server's push service to the integration tests,
// which read unread counts from it.
func (s *Server) PushService() *push.Service { return s.push }
