package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

const (
	// SecretPrefix starts every Switchyard virtual key.
	SecretPrefix = "sk-sy-"
	// secretRandomLen is the number of base62 characters after the prefix
	// (40 x log2(62) ≈ 238 bits).
	secretRandomLen = 40
	// DisplayPrefixLen is how much of a secret is kept for display.
	DisplayPrefixLen = 12
	secretLen        = len(SecretPrefix) + secretRandomLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// GeneratedKey is a fresh secret with what the store keeps of it.
type GeneratedKey struct {
	// Secret is shown to the user once and then forgotten.
	Secret string
	// Hash is the hex SHA-256 of Secret (store.Key.Hash).
	Hash string
	// Prefix is the first DisplayPrefixLen characters (store.Key.Prefix).
	Prefix string
}

// GenerateKey returns "sk-sy-" + 40 base62 characters from crypto/rand,
// drawn without modulo bias.
func GenerateKey() GeneratedKey {
	out := make([]byte, 0, secretLen)
	out = append(out, SecretPrefix...)
	var buf [64]byte
	for len(out) < secretLen {
		_, _ = rand.Read(buf[:]) // never fails since Go 1.24
		for _, b := range buf {
			// 248 = 4*62: rejecting the top 8 values keeps every
			// character equally likely.
			if b >= 248 || len(out) == secretLen {
				continue
			}
			out = append(out, base62[b%62])
		}
	}
	s := string(out)
	return GeneratedKey{Secret: s, Hash: HashSecret(s), Prefix: s[:DisplayPrefixLen]}
}

// HashSecret returns the lowercase hex SHA-256 of secret, the form stored
// in store.Key.Hash. A fast hash suffices: secrets carry ~238 random bits,
// so there is nothing to brute-force.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// plausible rejects strings that cannot be a key before any lookup, so
// junk never reaches the store.
func plausible(secret string) bool {
	if len(secret) != secretLen || secret[:len(SecretPrefix)] != SecretPrefix {
		return false
	}
	for i := len(SecretPrefix); i < len(secret); i++ {
		c := secret[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}
