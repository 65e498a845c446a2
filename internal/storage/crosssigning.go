package storage

import (
	"context"
	"fmt"
	"slices"
)

// CrossSigningKey is a user's current cross-signing key of one type
// (master, self_signing, user_signing), as canonical JSON.
type CrossSigningKey struct {
	UserID, Type, PublicKey string
	JSON                    string
}

// CrossSigningKeys returns the current cross-signing keys of users.
func (db *DB) CrossSigningKeys(ctx context.Context, userIDs []string) ([]CrossSigningKey, error) {
	var out []CrossSigningKey
	err := db.ReadTx(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(userIDs, maxInList) {
			rows, err := tx.Query(ctx, `SELECT user_id, key_type, public_key, key_json FROM cross_signing_keys
				WHERE user_id IN (`+placeholders(1, len(chunk))+`)`, stringArgs(chunk)...)
			if err != nil {
				return err
			}
			err = scanRows(rows, func() error {
				var k CrossSigningKey
				if err := rows.Scan(&k.UserID, &k.Type, &k.PublicKey, &k.JSON); err != nil {
					return err
				}
				out = append(out, k)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cross-signing keys of %d users: %w", len(userIDs), err)
	}
	return out, nil
}

// CrossSigningUpload is a user's new cross-signing keys, stored at one
// device-list position.
type CrossSigningUpload struct {
	UserID string
	Keys   []CrossSigningKey
	Pos    int64
	// DeviceListChange: the master or self-signing key changed, which
	// everyone sharing a room with the user hears of; the public keys
	// stand for device IDs. SelfSignature: the user-signing key changed,
	// which only the user hears of.
	DeviceListChange, SelfSignature bool
}

// PutCrossSigningKeys stores new cross-signing keys in place of the
// user's keys of the same types, and remembers their public keys for good
// (they share the namespace of device IDs).
func (db *DB) PutCrossSigningKeys(ctx context.Context, up CrossSigningUpload) error {
	err := db.writeOnly(ctx, func(w execer) error {
		err := insertRows(ctx, w, `INSERT INTO cross_signing_keys (user_id, key_type, public_key, key_json)`,
			` ON CONFLICT (user_id, key_type) DO UPDATE SET public_key = excluded.public_key, key_json = excluded.key_json`,
			4, up.Keys, func(args []any, k CrossSigningKey) []any { return append(args, up.UserID, k.Type, k.PublicKey, k.JSON) })
		if err != nil {
			return err
		}
		err = insertRows(ctx, w, `INSERT INTO cross_signing_key_ids (user_id, public_key)`, ` ON CONFLICT DO NOTHING`,
			2, up.Keys, func(args []any, k CrossSigningKey) []any { return append(args, up.UserID, k.PublicKey) })
		if err != nil {
			return err
		}
		if up.DeviceListChange {
			var ids []string
			for _, k := range up.Keys {
				if k.Type != "user_signing" {
					ids = append(ids, k.PublicKey)
				}
			}
			if err := recordDeviceListChanges(ctx, w, up.Pos, up.UserID, ids); err != nil {
				return err
			}
		}
		if up.SelfSignature {
			return recordSignatureChanges(ctx, w, up.Pos, up.UserID, []string{up.UserID})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store cross-signing keys of %s: %w", up.UserID, err)
	}
	return nil
}

func recordSignatureChanges(ctx context.Context, w execer, pos int64, signer string, targets []string) error {
	return insertRows(ctx, w, `INSERT INTO user_signature_changes (signer_user_id, target_user_id, stream_pos)`,
		` ON CONFLICT (signer_user_id, target_user_id) DO UPDATE SET stream_pos = excluded.stream_pos`, 3, targets,
		func(args []any, target string) []any { return append(args, signer, target, pos) })
}

// IsCrossSigningKeyID reports whether id is, or was, one of user's
// cross-signing public keys, which no device may be named after.
func (db *DB) IsCrossSigningKeyID(ctx context.Context, userID, id string) (bool, error) {
	var found bool
	err := db.readOne(ctx, func(tx *Tx) error {
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cross_signing_key_ids WHERE user_id = $1 AND public_key = $2)`,
			userID, id).Scan(&found)
	})
	if err != nil {
		return false, fmt.Errorf("look up cross-signing key ID of %s: %w", userID, err)
	}
	return found, nil
}

// Signature is one signature uploaded apart from the key it signs.
type Signature struct {
	SignerUserID, SignerKeyID string // key ID: ed25519:<device ID or public key>
	TargetUserID, TargetKeyID string // a device ID or a cross-signing public key
	Signature                 string
}

// SignatureUpload is the signatures of one /keys/signatures/upload,
// stored at one device-list position.
type SignatureUpload struct {
	Signatures []Signature
	Pos        int64
	// ChangedDevices: the uploader signed their own devices or master
	// key (IDs as device-list entries). SignedUsers: the uploader signed
	// these users' master keys.
	Uploader       string
	ChangedDevices []string
	SignedUsers    []string
}

// PutSignatures stores signatures and records the changes they make.
func (db *DB) PutSignatures(ctx context.Context, up SignatureUpload) error {
	err := db.writeOnly(ctx, func(w execer) error {
		err := insertRows(ctx, w, `INSERT INTO cross_signing_signatures
			(signer_user_id, signer_key_id, target_user_id, target_key_id, signature)`,
			` ON CONFLICT (signer_user_id, target_user_id, target_key_id, signer_key_id) DO UPDATE SET signature = excluded.signature`,
			5, up.Signatures, func(args []any, s Signature) []any {
				return append(args, s.SignerUserID, s.SignerKeyID, s.TargetUserID, s.TargetKeyID, s.Signature)
			})
		if err != nil {
			return err
		}
		if len(up.ChangedDevices) > 0 {
			if err := recordDeviceListChanges(ctx, w, up.Pos, up.Uploader, up.ChangedDevices); err != nil {
				return err
			}
		}
		if len(up.SignedUsers) > 0 {
			return recordSignatureChanges(ctx, w, up.Pos, up.Uploader, up.SignedUsers)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store %d signatures by %s: %w", len(up.Signatures), up.Uploader, err)
	}
	return nil
}

// SignaturesOn returns the stored signatures on keys of users that the
// users made themselves or that requester made: what /keys/query shows
// requester.
func (db *DB) SignaturesOn(ctx context.Context, requester string, userIDs []string) ([]Signature, error) {
	var out []Signature
	err := db.ReadTx(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(userIDs, maxInList) {
			rows, err := tx.Query(ctx, `SELECT signer_user_id, signer_key_id, target_user_id, target_key_id, signature
				FROM cross_signing_signatures WHERE target_user_id IN (`+placeholders(2, len(chunk))+`)
				AND (signer_user_id = target_user_id OR signer_user_id = $1)`, append([]any{requester}, stringArgs(chunk)...)...)
			if err != nil {
				return err
			}
			err = scanRows(rows, func() error {
				var s Signature
				if err := rows.Scan(&s.SignerUserID, &s.SignerKeyID, &s.TargetUserID, &s.TargetKeyID, &s.Signature); err != nil {
					return err
				}
				out = append(out, s)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("signatures on keys of %d users: %w", len(userIDs), err)
	}
	return out, nil
}
