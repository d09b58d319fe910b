package exec

import (
	"errors"
	"fmt"
	"time"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/starctx"
)

// startBuiltin implements exec.start(argv, timeout=None, stdin=None,
// env=None): it starts the program and returns at once with an
// exec.process, whose poll() and wait() give the exec.result once the
// program has ended. The program is killed, with what it started, when
// timeout passes (code 128 + 9) or when the host cancels the script.
func startBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	prog, err := prepare(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	if err := prog.cmd.Start(); err != nil {
		prog.cancel()
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	p := &Process{pid: prog.cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		prog.cmd.Wait() // the outcome is in cmd.ProcessState and the output
		if prog.ctx.Err() != nil {
			killGroup(prog.cmd) // what it started, too, as exec.run does
		}
		prog.cancel()
		p.result = prog.result()
		close(p.done)
	}()
	p.members = starlark.StringDict{
		"poll": starlark.NewBuiltin("exec.process.poll", p.poll).BindReceiver(p),
		"wait": starlark.NewBuiltin("exec.process.wait", p.wait).BindReceiver(p),
		"kill": starlark.NewBuiltin("exec.process.kill", p.killBuiltin).BindReceiver(p),
	}
	p.kill = prog.cancel
	return p, nil
}

// Process is an exec.process: a program exec.start started.
type Process struct {
	pid     int
	done    chan struct{} // closed once the program has ended and result is set
	result  starlark.Value
	kill    func()
	members starlark.StringDict
}

var _ starlark.HasAttrs = (*Process)(nil)

// String implements starlark.Value.
func (p *Process) String() string { return fmt.Sprintf("<exec.process %d>", p.pid) }

// Type implements starlark.Value.
func (p *Process) Type() string { return "exec.process" }

// Freeze implements starlark.Value; a process is a handle.
func (p *Process) Freeze() {}

// Truth implements starlark.Value.
func (p *Process) Truth() starlark.Bool { return true }

// Hash implements starlark.Value.
func (p *Process) Hash() (uint32, error) { return 0, errors.New("unhashable: exec.process") }

// Attr implements starlark.HasAttrs.
func (p *Process) Attr(name string) (starlark.Value, error) {
	if name == "pid" {
		return starlark.MakeInt(p.pid), nil
	}
	return p.members[name], nil
}

// AttrNames implements starlark.HasAttrs.
func (p *Process) AttrNames() []string { return []string{"kill", "pid", "poll", "wait"} }

// poll implements p.poll(): the exec.result once the program has ended,
// None while it runs.
func (p *Process) poll(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	select {
	case <-p.done:
		return p.result, nil
	default:
		return starlark.None, nil
	}
}

// wait implements p.wait(timeout=None): the exec.result once the program
// has ended, or None when timeout passes first.
func (p *Process) wait(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var timeout starctx.Duration
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "timeout??", &timeout); err != nil {
		return nil, err
	}
	var expired <-chan time.Time
	if timeout.Set {
		t := time.NewTimer(timeout.D)
		defer t.Stop()
		expired = t.C
	}
	ctx := starctx.From(thread)
	select {
	case <-p.done:
		return p.result, nil
	case <-expired:
		return starlark.None, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", b.Name(), starctx.Interrupted(ctx))
	}
}

// killBuiltin implements p.kill(): it kills the program and what it
// started (SIGKILL to its process group); wait() then gives its result.
func (p *Process) killBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	p.kill()
	return starlark.None, nil
}
