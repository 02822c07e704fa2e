package dlp

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHookCheck(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Texts []string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		switch in.Texts[0] {
		case "fine":
			w.Write([]byte(`{"action":"allow"}`))
		case "secret":
			w.Write([]byte(`{"action":"block","reason":"codename","detectors":["codename"]}`))
		case "slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "broken":
			http.Error(w, "oops", http.StatusInternalServerError)
		case "garbage":
			w.Write([]byte(`{"action":"shrug"}`))
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })

	tests := []struct {
		desc       string
		text       string
		failOpen   bool
		want       Action
		failedOpen bool
		wantErr    bool
	}{
		{"allow", "fine", false, ActionAllow, false, false},
		{"block", "secret", false, ActionBlock, false, false},
		{"timeout fail closed", "slow", false, ActionBlock, false, true},
		{"timeout fail open", "slow", true, ActionAllow, true, false},
		{"server error fail closed", "broken", false, ActionBlock, false, true},
		{"server error fail open", "broken", true, ActionAllow, true, false},
		{"bad answer fail closed", "garbage", false, ActionBlock, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			h, err := NewHook(HookConfig{URL: srv.URL, Timeout: 50 * time.Millisecond, FailOpen: tt.failOpen,
				Headers: map[string]string{"Authorization": "Bearer t"}}, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			v, err := h.Check(context.Background(), []string{tt.text})
			if v.Action != tt.want || v.FailedOpen != tt.failedOpen {
				t.Errorf("verdict = %+v; want action %s failedOpen %v", v, tt.want, tt.failedOpen)
			}
			var he *HookError
			if tt.wantErr != errors.As(err, &he) {
				t.Fatalf("err = %v; want HookError: %v", err, tt.wantErr)
			}
			if tt.wantErr && !strings.Contains(err.Error(), "fail closed") {
				t.Errorf("message %q should say the request was refused because of fail-closed", err)
			}
			if tt.failedOpen && v.Reason == "" {
				t.Error("fail-open verdict should carry the reason for audit")
			}
		})
	}
	if v, _ := mustHook(t, srv.URL).Check(context.Background(), []string{"secret"}); v.Reason != "codename" || len(v.Detectors) != 1 {
		t.Errorf("block verdict = %+v; want reason and detectors", v)
	}
}

func mustHook(t *testing.T, url string) *Hook {
	h, err := NewHook(HookConfig{URL: url, Headers: map[string]string{"Authorization": "Bearer t"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNewHookNeedsURL(t *testing.T) {
	t.Parallel()
	if _, err := NewHook(HookConfig{}, nil); err == nil || !strings.Contains(err.Error(), "url") {
		t.Errorf("err = %v; want url required", err)
	}
}
