package server

import (
	"context"
	"fmt"

	"github.com/axonhs/axon/internal/accounts"
	"github.com/axonhs/axon/internal/httpapi/clientapi"
	"github.com/axonhs/axon/internal/keys"
	"github.com/axonhs/axon/internal/streams"
	"github.com/axonhs/axon/internal/syncer"
	"github.com/axonhs/axon/internal/todevice"
)

// startE2EE starts the keys and to-device services and adds them to
// /sync. Their streams continue from the highest positions stored.
func (s *Server) startE2EE(ctx context.Context, rs *roomServices, notifier *streams.Notifier) error {
	dlPos, err := s.db.MaxDeviceListPos(ctx)
	if err != nil {
		return err
	}
	tdPos, err := s.db.MaxToDevicePos(ctx)
	if err != nil {
		return err
	}
	rs.keys = keys.New(s.db, streams.NewSequence(dlPos), notifier, s.cfg.ServerName)
	td := todevice.New(s.db, streams.NewSequence(tdPos), notifier, s.cfg.ServerName)
	rs.syncer.WithE2EE(syncer.E2EE{ToDevice: td, Keys: rs.keys})
	rs.e2ee = clientapi.E2EE{Keys: rs.keys, CrossSigning: rs.keys, ToDevice: td, DeviceLists: rs.syncer}
	if s.cfg.Experimental.MSC3814 {
		rs.e2ee.Dehydration, rs.e2ee.Inbox = rs.keys, td
	}
	return nil
}

// announceDeviceChanges tells users' contacts about their device changes,
// and keeps devices from taking cross-signing keys' names.
func (s *Server) announceDeviceChanges(accts *accounts.Service, k *keys.Service) {
	accts.ReserveDeviceIDs(k.DeviceIDReserved)
	accts.OnDevicesChanged(func(ctx context.Context, userID string, deviceIDs []string) {
		if err := k.DevicesChanged(ctx, userID, deviceIDs); err != nil {
			s.log.Warn("record device list change", "user", userID, "err", fmt.Errorf("%v devices: %w", len(deviceIDs), err))
		}
	})
}
