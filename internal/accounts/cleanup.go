package accounts

import (
	"context"
	"log/slog"
	"time"
)

// ExpiredTokenRetention is how long an access or refresh token is kept
// after it has expired for good. Until then an expired access token is
// still recognised: requests with it get the soft-logout answer (the
// client may log in again on the same device and keep its encryption
// keys), and /logout accepts it. Synapse keeps such tokens forever; once
// Axon deletes one, requests with it get soft_logout false instead, so the
// retention is long enough for a client left unused for weeks.
const ExpiredTokenRetention = 30 * 24 * time.Hour

// expiredLoginTokenRetention is Synapse's: login tokens are deleted five
// minutes after they expire.
const expiredLoginTokenRetention = 5 * time.Minute

// CleanupInterval is how often the server deletes expired tokens.
const CleanupInterval = time.Hour

// cleanupBatch bounds the rows one cleanup transaction deletes, so that a
// backlog never holds SQLite's single writer for long.
const cleanupBatch = 500

// CleanupStats counts what a cleanup deleted.
type CleanupStats struct {
	AccessTokens  int // access tokens, with those deleted along with refresh tokens
	RefreshTokens int
	LoginTokens   int
}

// CleanupExpiredTokens deletes the tokens that can never be used again:
//
//   - access tokens issued without a refresh token that expired more than
//     ExpiredTokenRetention ago;
//   - refresh tokens that expired (or whose session_lifetime ended) more
//     than ExpiredTokenRetention ago, with the access tokens issued with
//     them, once those have expired as long ago;
//   - login tokens that expired more than five minutes ago, as Synapse.
//
// An access token issued with a refresh token that can still be used is
// kept, however long ago it expired: its session lives on. Refresh tokens
// replaced by rotation are deleted by Refresh and Authenticate already.
// The access tokens deleted are dropped from the cache.
func (s *Service) CleanupExpiredTokens(ctx context.Context) (CleanupStats, error) {
	now := s.now()
	cutoff := now.Add(-ExpiredTokenRetention)
	var st CleanupStats
	if err := inBatches(ctx, func() (int, error) {
		hashes, err := s.store.DeleteExpiredAccessTokens(ctx, cutoff, cleanupBatch)
		s.forgetDeleted(hashes)
		st.AccessTokens += len(hashes)
		return len(hashes), err
	}); err != nil {
		return st, err
	}
	if err := inBatches(ctx, func() (int, error) {
		hashes, n, err := s.store.DeleteDeadRefreshTokens(ctx, cutoff, cleanupBatch)
		s.forgetDeleted(hashes)
		st.AccessTokens += len(hashes)
		st.RefreshTokens += n
		return n, err
	}); err != nil {
		return st, err
	}
	err := inBatches(ctx, func() (int, error) {
		n, err := s.store.DeleteExpiredLoginTokens(ctx, now.Add(-expiredLoginTokenRetention), cleanupBatch)
		st.LoginTokens += n
		return n, err
	})
	return st, err
}

// inBatches calls deleteBatch until it deletes less than a full batch.
func inBatches(ctx context.Context, deleteBatch func() (int, error)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := deleteBatch()
		if err != nil || n < cleanupBatch {
			return err
		}
	}
}

func (s *Service) forgetDeleted(hashes [][]byte) {
	if len(hashes) > 0 {
		s.tokens.forget(hashes)
	}
}

// StartCleanup runs CleanupExpiredTokens every interval, in the
// background, until the stop it returns is called. stop cancels a run in
// progress and waits for it, so call it before closing the database. Call
// StartCleanup once, at start-up.
func (s *Service) StartCleanup(interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				st, err := s.CleanupExpiredTokens(ctx)
				switch {
				case err != nil && ctx.Err() == nil:
					slog.Warn("delete expired tokens", "err", err)
				case st != CleanupStats{}:
					slog.Info("deleted expired tokens", "access_tokens", st.AccessTokens,
						"refresh_tokens", st.RefreshTokens, "login_tokens", st.LoginTokens)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
