package auth

import (
	"context"
	"time"

	"github.com/switchyard/switchyard/internal/store"
)

// IssueKey generates a secret and stores a key built from template (its
// Hash and Prefix are overwritten). The returned Secret must be shown to
// the user now: it cannot be recovered later.
func IssueKey(ctx context.Context, st store.KeyStore, template store.Key) (GeneratedKey, store.Key, error) {
	g := GenerateKey()
	template.Hash, template.Prefix = g.Hash, g.Prefix
	k, err := st.CreateKey(ctx, template)
	if err != nil {
		return GeneratedKey{}, store.Key{}, err
	}
	return g, k, nil
}

// RotateKey issues a successor carrying the old key's name, owners, limits
// and policy, and lets the old secret keep working for grace.
func RotateKey(ctx context.Context, st store.KeyStore, id string, grace time.Duration) (GeneratedKey, store.Key, error) {
	old, err := st.Key(ctx, id)
	if err != nil {
		return GeneratedKey{}, store.Key{}, err
	}
	g := GenerateKey()
	succ := old
	succ.ID, succ.Hash, succ.Prefix = "", g.Hash, g.Prefix
	succ.RevokedAt, succ.GraceUntil, succ.RotatedTo = nil, nil, ""
	succ.CreatedAt, succ.UpdatedAt = time.Time{}, time.Time{}
	k, err := st.RotateKey(ctx, id, succ, store.Now().Add(grace))
	if err != nil {
		return GeneratedKey{}, store.Key{}, err
	}
	return g, k, nil
}
