// Command switchyard is the Switchyard AI gateway: see `switchyard help`.
package main

import (
	"context"
	"os"

	"github.com/switchyard/switchyard/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
