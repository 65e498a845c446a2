package clientapi

import (
	"net/http"
	"time"

	"github.com/axonhs/axon/internal/accounts"
)

// Room rate limits (rc_message, rc_joins, rc_invites). Server admins are
// exempt, as in Synapse; whether the requester is one is only looked up
// when a limit would refuse, so the common path costs no query.

// limitMessage counts an event sent by who against rc_message.
func (a *API) limitMessage(r *http.Request, who accounts.Requester) error {
	return a.limitUser(r, who, func() (bool, time.Duration) { return a.limits.Message.AllowFor(who.UserID, who.UserID) })
}

// limitJoin counts a join by who against rc_joins.local.
func (a *API) limitJoin(r *http.Request, who accounts.Requester) error {
	return a.limitUser(r, who, func() (bool, time.Duration) { return a.limits.JoinsLocal.AllowFor(who.UserID, who.UserID) })
}

// limitInvite counts an invite of invitee to roomID by who against the
// three rc_invites limits.
func (a *API) limitInvite(r *http.Request, who accounts.Requester, roomID, invitee string) error {
	return a.limitUser(r, who, func() (bool, time.Duration) {
		for _, check := range []func() (bool, time.Duration){
			func() (bool, time.Duration) { return a.limits.InvitesPerRoom.Allow(roomID) },
			func() (bool, time.Duration) { return a.limits.InvitesPerUser.Allow(invitee) },
			func() (bool, time.Duration) { return a.limits.InvitesPerIssuer.AllowFor(who.UserID, who.UserID) },
		} {
			if ok, wait := check(); !ok {
				return false, wait
			}
		}
		return true, 0
	})
}

func (a *API) limitUser(r *http.Request, who accounts.Requester, allow func() (bool, time.Duration)) error {
	ok, wait := allow()
	if ok {
		return nil
	}
	if admin, err := a.accounts.IsAdmin(r.Context(), who.UserID); err == nil && admin {
		return nil
	}
	return limitErr(false, wait)
}
