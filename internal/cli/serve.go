package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/switchyard/switchyard/internal/app"
	"github.com/switchyard/switchyard/internal/config"
	"github.com/switchyard/switchyard/internal/sim/fleet"
)

func init() {
	register("serve", "run the gateway (no --config: embedded default on simulated clouds)", runServe)
	register("sim", "run the simulated clouds on loopback", runSim)
	register("config", "config check FILE: validate a config file", runConfig)
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("serve", env)
	cfgPath := fs.String("config", "", "YAML config `file`; without it, the embedded default runs on simulated clouds")
	listen := fs.String("listen", "", "listen `address`, overriding server.listen")
	data := fs.String("data", "data", "data `folder` for the embedded default's SQLite store and demo key")
	if err := parse(fs, args); err != nil {
		return err
	}
	return app.Serve(ctx, app.ServeOptions{ConfigPath: *cfgPath, Listen: *listen, DataDir: *data, Stdout: env.Stdout, Stderr: env.Stderr})
}

func runSim(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("sim", env)
	host := fs.String("host", "127.0.0.1", "`address` to listen on")
	base := fs.Int("port", 9100, "first `port`; each cloud takes the next one")
	data := fs.String("data", os.TempDir(), "`folder` for files the fakes write (service-account key)")
	if err := parse(fs, args); err != nil {
		return err
	}
	f, err := fleet.Start(fleet.Options{Host: *host, BasePort: *base, DataDir: *data})
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintln(env.Stdout, "Simulated clouds (control API at <url>/_sim/):")
	for _, name := range fleet.Names() {
		fmt.Fprintf(env.Stdout, "  %-10s %s\n", name, f.Clouds[name].URL)
	}
	vars := f.Env()
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(env.Stdout, "\nConfig variables for these fakes:")
	for _, k := range keys {
		fmt.Fprintf(env.Stdout, "  export %s=%q\n", k, vars[k])
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	<-ctx.Done()
	return nil
}

func runConfig(_ context.Context, env *Env, args []string) error {
	if len(args) != 2 || args[0] != "check" {
		return fmt.Errorf("%w: switchyard config check FILE", errUsage)
	}
	_, err := config.Load(args[1])
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintf(env.Stderr, "%s: %v\n", args[1], e)
		}
		return fmt.Errorf("%d problem(s) in %s", len(errs), args[1])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: ok\n", args[1])
	return nil
}
