package govern

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// SigningKeySource says where the audit signing key comes from.
type SigningKeySource int

// Sources of the audit signing key.
const (
	// KeyFromFile reads an operator-provided file; a missing file is an error.
	KeyFromFile SigningKeySource = iota
	// KeyGenerated reads the gateway's own key file, creating it (mode
	// 0600) with a fresh key on first start.
	KeyGenerated
)

// LoadSigningKey reads an Ed25519 private key from path: a PKCS#8 PEM
// ("PRIVATE KEY") or a 32-byte seed, raw or hex or base64 encoded.
func LoadSigningKey(path string, src SigningKeySource) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && src == KeyGenerated {
		return generateSigningKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	k, err := ParseSigningKey(b)
	if err != nil {
		return nil, fmt.Errorf("audit signing key %s: %w", path, err)
	}
	return k, nil
}

// ParseSigningKey decodes a key in any of LoadSigningKey's formats.
func ParseSigningKey(b []byte) (ed25519.PrivateKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("PEM block is %q; want a PKCS#8 \"PRIVATE KEY\" (openssl genpkey -algorithm ed25519)", blk.Type)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("not a PKCS#8 private key: %w", err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("the PEM key is a %T; the audit log signs with Ed25519", k)
		}
		return ek, nil
	}
	if len(b) == ed25519.SeedSize {
		return ed25519.NewKeyFromSeed(b), nil
	}
	s := strings.TrimSpace(string(b))
	if seed, err := hex.DecodeString(s); err == nil && len(seed) == ed25519.SeedSize {
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if seed, err := base64.StdEncoding.DecodeString(s); err == nil && len(seed) == ed25519.SeedSize {
		return ed25519.NewKeyFromSeed(seed), nil
	}
	return nil, errors.New("not an Ed25519 key: want a PKCS#8 PEM private key or a 32-byte seed (raw, hex or base64)")
}

// generateSigningKey writes a fresh seed to path, hex encoded, unless a
// concurrent start got there first, in which case that key is used.
func generateSigningKey(path string) (ed25519.PrivateKey, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadSigningKey(path, KeyFromFile)
	}
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	_, werr := f.WriteString(hex.EncodeToString(seed) + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return nil, fmt.Errorf("audit signing key: writing %s: %w", path, werr)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
