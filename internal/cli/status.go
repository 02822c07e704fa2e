package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

func init() {
	register("status", "show the gateway's deployments: health, breaker, load, latency", runStatus)
}

// deploymentRow is the part of a deployment's status the table shows.
type deploymentRow struct {
	Name              string  `json:"name"`
	Provider          string  `json:"provider"`
	Model             string  `json:"model"`
	Region            string  `json:"region"`
	Breaker           string  `json:"breaker"`
	Healthy           bool    `json:"healthy"`
	Saturated         bool    `json:"saturated"`
	InFlight          int     `json:"in_flight"`
	TTFTMillis        float64 `json:"ttft_ms"`
	RequestsPerMinute int     `json:"requests_this_minute"`
	LastError         string  `json:"last_error"`
}

func runStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("status", env)
	af := addAdminFlags(fs)
	_, c, err := af.connect(fs, args)
	if err != nil {
		return err
	}
	raw, err := c.Status(ctx)
	if err != nil {
		return err
	}
	var deps []deploymentRow
	if af.json || json.Unmarshal(raw, &deps) != nil {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("the gateway sent an unreadable status: %w", err)
		}
		fmt.Fprintln(env.Stdout, buf.String())
		return nil
	}
	rows := make([][]string, 0, len(deps))
	for _, d := range deps {
		health := "healthy"
		switch {
		case !d.Healthy:
			health = "unhealthy"
		case d.Saturated:
			health = "saturated"
		}
		ttft := "-"
		if d.TTFTMillis > 0 {
			ttft = strconv.FormatFloat(d.TTFTMillis, 'f', 0, 64) + "ms"
		}
		rows = append(rows, []string{d.Name, d.Provider, d.Model, orDash(d.Region), health, orDash(d.Breaker),
			strconv.Itoa(d.InFlight), strconv.Itoa(d.RequestsPerMinute), ttft, orDash(d.LastError)})
	}
	return table(env.Stdout, []string{"DEPLOYMENT", "PROVIDER", "MODEL", "REGION", "HEALTH", "BREAKER", "IN-FLIGHT", "REQ/MIN", "TTFT", "LAST ERROR"}, rows)
}
