// Package exec provides the Starlark "exec" module, which runs a program and
// captures its output:
//
//	exec.run(argv, timeout=None, stdin=None, env=None)
//	    → exec.result(code=0, stdout="...", stderr="...")
//	exec.start(argv, timeout=None, stdin=None, env=None)
//	    → exec.process(pid): .poll(), .wait(timeout=None), .kill()
//
// argv is a list of strings: the program (looked up in $PATH) and its
// arguments; no shell is involved. timeout is a number of seconds, a
// duration or a string such as "5s" (None or 0: no limit); when it passes
// (or the host cancels the script) the program and everything it started
// in its process group are killed, even children that outlived it, and
// run fails. A program that exits in time may leave background children
// running; run waits at most 2 s for them to close its output. stdin is a
// string or bytes fed to the program. env is a dict of variables added to
// (or replacing those of) the inherited environment.
// A non-zero exit status is not an error: check result.code. A program
// killed by a signal reports 128 + the signal number, as shells do.
//
// exec.start runs the program in the background: the script goes on, and
// the process's poll() (None while it runs) or wait() gives the same
// exec.result once it has ended; the timeout, or the host cancelling the
// script, kills it (code 128 + 9), and kill() does so at once.
//
// Running programs is a privilege the host grants (capability.Exec): unless
// the module's gate grants it, exec.run and exec.start refuse every call.
package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"syscall"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/vicish/vicish/capability"
	"github.com/vicish/vicish/starctx"
)

// MaxOutput is the most bytes run captures from each of stdout and stderr.
// A program writing more is stopped and run fails.
const MaxOutput = 16 << 20

// waitDelay is how long run waits for the output pipes to close after the
// program has exited or been killed (a background child may hold them).
const waitDelay = 2 * time.Second

// NewModule returns an "exec" module. Unless gate grants capability.Exec,
// exec.run fails with a *capability.DeniedError.
func NewModule(gate *capability.Gate) *starlarkstruct.Module { return Spec().Build(gate) }

func runBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	p, err := prepare(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	defer p.cancel()
	argv := p.cmd.Args
	err = p.cmd.Run()
	var exitErr *osexec.ExitError
	switch {
	case err != nil && p.ctx.Err() != nil:
		// The program was killed (or never started) because the deadline
		// passed or the host cancelled the script; so is anything it
		// started that is still running.
		killGroup(p.cmd)
		if err := starctx.Interrupted(starctx.From(thread)); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", b.Name(), argv[0], err)
		}
		return nil, fmt.Errorf("%s: %s: timed out after %v; the program was killed", b.Name(), argv[0], p.timeout)
	case p.stdout.err != nil || p.stderr.err != nil:
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), argv[0], errors.Join(p.stdout.err, p.stderr.err))
	case err == nil, errors.Is(err, osexec.ErrWaitDelay), errors.As(err, &exitErr):
		// Finished: a non-zero status or a background child keeping the
		// output open is reported through code and output, not as an error.
	default:
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return p.result(), nil
}

// program is a program exec.run or exec.start prepared from their
// arguments, not started yet.
type program struct {
	cmd            *osexec.Cmd
	stdout, stderr *capped
	// ctx ends when the timeout passes or the host cancels the script,
	// which kills the program; cancel releases it.
	ctx     context.Context
	cancel  context.CancelFunc
	timeout time.Duration // 0: none
}

// prepare reads the arguments exec.run and exec.start share (argv,
// timeout=None, stdin=None, env=None) and prepares their program.
func prepare(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (*program, error) {
	var (
		argvV   starlark.Value
		timeout starctx.Duration
		stdinV  starlark.Value
		envD    *starlark.Dict
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"argv", &argvV, "timeout??", &timeout, "stdin??", &stdinV, "env??", &envD); err != nil {
		return nil, err
	}
	ctx, cancel := starctx.WithTimeout(thread, timeout.D)
	cmd, stdout, stderr, err := command(ctx, b.Name(), argvV, stdinV, envD)
	if err != nil {
		cancel()
		return nil, err
	}
	return &program{cmd: cmd, stdout: stdout, stderr: stderr, ctx: ctx, cancel: cancel, timeout: timeout.D}, nil
}

// command prepares the program argvV (a list of strings) with stdinV (a
// string or bytes, or nil) and the variables of envD added to the
// environment, in a process group of its own that ctx's end kills, its
// output captured. Errors are prefixed with name.
func command(ctx context.Context, name string, argvV, stdinV starlark.Value, envD *starlark.Dict) (*osexec.Cmd, *capped, *capped, error) {
	argv, err := stringList(argvV)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: argv: %w", name, err)
	}
	cmd := osexec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = waitDelay
	ownGroup(cmd)
	if stdinV != nil {
		switch s := stdinV.(type) {
		case starlark.String:
			cmd.Stdin = bytes.NewReader([]byte(s))
		case starlark.Bytes:
			cmd.Stdin = bytes.NewReader([]byte(s))
		default:
			return nil, nil, nil, fmt.Errorf("%s: stdin: got %s, want string or bytes", name, stdinV.Type())
		}
	}
	if envD != nil {
		cmd.Env = os.Environ()
		for _, kv := range envD.Items() {
			k, ok1 := kv[0].(starlark.String)
			v, ok2 := kv[1].(starlark.String)
			if !ok1 || !ok2 {
				return nil, nil, nil, fmt.Errorf("%s: env: got %s: %s entry, want string: string", name, kv[0].Type(), kv[1].Type())
			}
			cmd.Env = append(cmd.Env, string(k)+"="+string(v))
		}
	}
	stdout := &capped{name: "stdout"}
	stderr := &capped{name: "stderr"}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd, stdout, stderr, nil
}

// result is the exec.result of the program, which has ended.
func (p *program) result() starlark.Value {
	return starlarkstruct.FromStringDict(starlark.String("exec.result"), starlark.StringDict{
		"code":   starlark.MakeInt(exitCode(p.cmd.ProcessState)),
		"stdout": starlark.String(p.stdout.buf.String()),
		"stderr": starlark.String(p.stderr.buf.String()),
	})
}

// exitCode returns the program's exit status, or 128 + the signal number if
// a signal ended it.
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// stringList converts a list or tuple of strings to a non-empty []string.
func stringList(v starlark.Value) ([]string, error) {
	var seq starlark.Indexable
	switch v := v.(type) {
	case *starlark.List:
		seq = v
	case starlark.Tuple:
		seq = v
	default:
		return nil, fmt.Errorf("got %s, want a list of strings such as [\"ip\", \"xfrm\", \"state\"]", v.Type())
	}
	if seq.Len() == 0 {
		return nil, errors.New("empty list: want the program and its arguments")
	}
	out := make([]string, seq.Len())
	for i := range out {
		s, ok := seq.Index(i).(starlark.String)
		if !ok {
			return nil, fmt.Errorf("element %d is %s, want string", i, seq.Index(i).Type())
		}
		out[i] = string(s)
	}
	return out, nil
}

// capped collects up to MaxOutput bytes and then fails, which stops the copy
// and closes the pipe (the program sees EPIPE/SIGPIPE).
type capped struct {
	name string
	buf  bytes.Buffer
	err  error
}

func (c *capped) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > MaxOutput {
		c.err = fmt.Errorf("%s exceeded %d MiB; the program was stopped", c.name, MaxOutput>>20)
		return 0, c.err
	}
	return c.buf.Write(p)
}
