// Package auth authenticates virtual keys on the request path.
//
// A KeyCache holds every key's hash in memory and follows the store's
// change feed (KeysChangedSince) every Refresh, so a revocation made on
// any replica takes effect everywhere within about a second, while a
// request costs one SHA-256 and one lock-free map read. Secrets are never
// stored or logged: only their hash and 12-character display prefix.
package auth
