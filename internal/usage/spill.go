package usage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// spillFile is an append-only JSON Lines file. Replay renames it to
// <path>.replay first, so appends continue into a fresh file while the
// old one is fed back; a leftover .replay (crash, failed replay) is
// finished before the next rename. Lines that do not decode (a write torn
// by a crash) are moved to <path>.corrupt for a person to inspect.
type spillFile[T any] struct {
	path string
	mu   sync.Mutex
	f    *os.File // guarded by mu; or nil when not open
}

func (s *spillFile[T]) append(recs []T) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		if err := os.MkdirAll(filepath.Dir(s.path), 0o750); err != nil {
			return err
		}
		f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		s.f = f
	}
	// One write per call keeps a batch's lines together.
	_, err := s.f.Write(buf.Bytes())
	return err
}

// rotate moves the live file aside for replay; false when nothing to do.
func (s *spillFile[T]) rotate() (string, bool, error) {
	replayPath := s.path + ".replay"
	if _, err := os.Stat(replayPath); err == nil {
		return replayPath, true, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		if err := s.f.Close(); err != nil {
			return "", false, err
		}
		s.f = nil
	}
	st, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && st.Size() == 0) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return replayPath, true, os.Rename(s.path, replayPath)
}

// replay feeds the rotated file to fn in batches and returns how many
// records fn accepted. On failure the unreplayed rest is kept.
func (s *spillFile[T]) replay(ctx context.Context, batchSize int, fn func(context.Context, []T) error) (int, error) {
	path, ok, err := s.rotate()
	if err != nil || !ok {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	r := bufio.NewReaderSize(f, 1<<16)
	var (
		n     int
		batch []T
		raw   [][]byte
	)
	keepRest := func(cause error) (int, error) {
		rest, rerr := io.ReadAll(r)
		f.Close()
		if rerr != nil {
			return n, errors.Join(cause, rerr)
		}
		var out bytes.Buffer
		for _, l := range raw {
			out.Write(l)
		}
		out.Write(rest)
		tmp := path + ".tmp"
		if werr := os.WriteFile(tmp, out.Bytes(), 0o600); werr != nil {
			return n, errors.Join(cause, werr)
		}
		return n, errors.Join(cause, os.Rename(tmp, path))
	}
	for {
		line, rerr := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var rec T
			if err := json.Unmarshal(line, &rec); err != nil {
				if cerr := s.quarantine(line); cerr != nil {
					return keepRest(cerr)
				}
			} else {
				batch, raw = append(batch, rec), append(raw, line)
			}
		}
		last := rerr != nil
		if len(batch) == batchSize || (last && len(batch) > 0) {
			if err := ctx.Err(); err != nil {
				return keepRest(err)
			}
			if err := fn(ctx, batch); err != nil {
				return keepRest(err)
			}
			n += len(batch)
			batch, raw = nil, nil
		}
		if last {
			f.Close()
			if !errors.Is(rerr, io.EOF) {
				return n, rerr
			}
			return n, os.Remove(path)
		}
	}
}

func (s *spillFile[T]) quarantine(line []byte) error {
	f, err := os.OpenFile(s.path+".corrupt", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if len(line) > 0 && line[len(line)-1] != '\n' {
		line = append(line, '\n')
	}
	_, err = f.Write(line)
	return errors.Join(err, f.Close())
}

// pending counts records waiting on disk, for error messages.
func (s *spillFile[T]) pending() int {
	n := 0
	for _, p := range []string{s.path, s.path + ".replay"} {
		if b, err := os.ReadFile(p); err == nil {
			n += bytes.Count(b, []byte{'\n'})
		}
	}
	return n
}

// close releases the append handle.
func (s *spillFile[T]) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
