// Command token-budget streams an LLM answer and cancels it the moment the
// estimated tokens reach the budget. See conformance/SPEC.md for the contract
// and the budget package for the library.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/token-budget/examples/token-budget/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
