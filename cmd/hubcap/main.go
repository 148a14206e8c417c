// Command hubcap simulates load on JupyterHub and plans its capacity.
//
// Each subcommand lives in its own file: it registers itself from init()
// with register(), turns its flags into an options struct and calls a
// library package. Only main exits the process; commands return errors,
// which exitCode maps to the codes in exitcodes.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	// Name is the first argument that selects it.
	Name string
	// Summary is its one-line description in the usage text.
	Summary string
	// Hidden commands are left out of the usage text (internal helpers).
	Hidden bool
	// Run executes the command with the arguments after its name.
	Run func(ctx context.Context, io IO, args []string) error
}

// IO is where a command reads and writes; tests substitute buffers.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// commands holds every registered subcommand by name.
var commands = map[string]*command{}

// register adds a subcommand; each command file calls it from init().
func register(c *command) {
	if c.Name == "" || c.Run == nil {
		panic("hubcap: command without a name or Run")
	}
	if _, dup := commands[c.Name]; dup {
		panic("hubcap: command " + c.Name + " registered twice")
	}
	commands[c.Name] = c
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfiling := startProfiling(os.Stderr)
	code := run(ctx, IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
	stopProfiling()
	stop()
	os.Exit(code)
}

// run dispatches args to a subcommand and returns the exit code.
func run(ctx context.Context, stdio IO, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdio.Stdout)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stdio.Stderr, "hubcap: unknown command %q\n\n", args[0])
		usage(stdio.Stderr)
		return ExitUsage
	}
	err := c.Run(ctx, stdio, args[1:])
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	code := exitCode(err)
	if ctx.Err() != nil && code == ExitError {
		code = ExitInterrupted
	}
	if !errors.Is(err, errSilent) {
		fmt.Fprintf(stdio.Stderr, "hubcap %s: %v\n", c.Name, err)
	}
	return code
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "hubcap: load simulation and capacity planning for JupyterHub")
	fmt.Fprintln(w, "\nUsage: hubcap <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.Hidden {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].Summary)
	}
	fmt.Fprintln(w, "\nRun hubcap <command> -h for a command's flags.")
}

// newFlags returns a FlagSet for a (sub)command whose errors go to stderr
// and do not exit.
func newFlags(name string, stdio IO, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(stdio.Stderr, "Usage: hubcap %s\n", synopsis)
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(stdio.Stderr)
		if b.Len() > 0 {
			fmt.Fprintf(stdio.Stderr, "\nFlags:\n%s", b.String())
		}
	}
	return fs
}

// parseFlags parses args and wraps problems as usage errors. Positional
// arguments are refused unless allowArgs.
func parseFlags(fs *flag.FlagSet, args []string, allowArgs bool) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return withExitCode(ExitUsage, errSilentWrap(err))
	}
	if !allowArgs && fs.NArg() > 0 {
		return withExitCode(ExitUsage, fmt.Errorf("unexpected arguments %q (flags go before them?)", fs.Args()))
	}
	return nil
}
