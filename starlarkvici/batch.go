package starlarkvici

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// Why a member failed, as the "reason" of its error value: the classes of
// vici.Reason, a small fixed set a monitoring script can use as a label.
const (
	ReasonUnreachable = vici.ReasonUnreachable // no connection
	ReasonTimeout     = vici.ReasonTimeout     // the deadline passed
	ReasonProtocol    = vici.ReasonProtocol    // the peer broke the VICI protocol
	ReasonRefused     = vici.ReasonRefused     // the daemon refused the command
	ReasonBudget      = vici.ReasonBudget      // what it sent was more than Config.MaxListing
)

// Reason classifies the error of a failed command (vici.Reason).
func Reason(err error) string { return vici.Reason(err) }

// batchStep is one command of a batch with its keyword arguments.
type batchStep struct {
	name   string // the command's Starlark name, e.g. "list_sas"
	c      *Command
	kwargs []starlark.Tuple
}

// parseBatch reads the commands argument of g.batch: a list of command
// names, or (name, {keyword: value}) pairs.
func parseBatch(fname string, v starlark.Value) ([]batchStep, error) {
	seq, ok := v.(starlark.Indexable)
	if _, isStr := v.(starlark.String); !ok || isStr {
		return nil, fmt.Errorf("%s: got %s, want a list of command names such as [\"version\", \"list_sas\"]", fname, v.Type())
	}
	if seq.Len() == 0 {
		return nil, fmt.Errorf("%s: no commands given", fname)
	}
	steps := make([]batchStep, 0, seq.Len())
	seen := map[string]bool{}
	for i := 0; i < seq.Len(); i++ {
		var step batchStep
		item := seq.Index(i)
		var kw starlark.Value
		switch item := item.(type) {
		case starlark.String:
			step.name = string(item)
		case starlark.Tuple:
			name, ok := starlark.AsString(item[0])
			if len(item) != 2 || !ok {
				return nil, fmt.Errorf("%s: commands[%d]: want a name or a (name, {keyword: value}) pair, got %s", fname, i, item.String())
			}
			step.name, kw = name, item[1]
		default:
			return nil, fmt.Errorf("%s: commands[%d]: want a name or a (name, {keyword: value}) pair, got %s", fname, i, item.Type())
		}
		c, ok := commands().byName[step.name]
		if !ok {
			return nil, fmt.Errorf("%s: commands[%d]: %q is not a command of the vici module", fname, i, step.name)
		}
		if seen[step.name] {
			return nil, fmt.Errorf("%s: command %q is given twice (the result has one reply per command name)", fname, step.name)
		}
		seen[step.name] = true
		step.c = c
		if kw != nil {
			d, ok := kw.(starlark.IterableMapping)
			if !ok {
				return nil, fmt.Errorf("%s: commands[%d]: the keywords of %s must be a dict, got %s", fname, i, step.name, kw.Type())
			}
			for _, kv := range d.Items() {
				k, ok := kv[0].(starlark.String)
				if !ok {
					return nil, fmt.Errorf("%s: commands[%d]: keyword names are str, got %s", fname, i, kv[0].Type())
				}
				step.kwargs = append(step.kwargs, starlark.Tuple{k, kv[1]})
			}
		}
		steps = append(steps, step)
	}
	return steps, nil
}

// batch implements g.batch(commands): every member runs the commands one
// after another on its own connection, all members at once, and stops at
// its first failure. It returns {name: {command: reply, ..., "seconds":
// s}}, or {name: {"error": message, "reason": r, "command": c, "seconds":
// s}} for a member that failed; seconds is how long that member took.
func (g *Group) batch(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var list starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "commands", &list); err != nil {
		return nil, err
	}
	steps, err := parseBatch(b.Name(), list)
	if err != nil {
		return nil, err
	}
	parent := starctx.From(thread)
	reqs := make([][]request, len(g.sessions))
	for i, s := range g.sessions {
		reqs[i] = make([]request, len(steps))
		for j, st := range steps {
			r, err := s.tableRequest(thread, "vici."+st.name, st.c, nil, st.kwargs)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", b.Name(), err)
			}
			if r.opts.each != nil || r.opts.log != nil {
				return nil, fmt.Errorf("%s: %s: a group command takes no each= or log= callback", b.Name(), st.name)
			}
			reqs[i][j] = r
		}
		leave, err := s.enter(thread, b.Name(), false)
		if err != nil {
			return nil, err
		}
		leave()
	}
	if err := starctx.Interrupted(parent); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	// One goroutine per member, touching no Starlark value (see Group).
	type outcome struct {
		replies [][]*vici.Message // per step: the reply, then streamed entries
		failed  int               // index of the failed step, or -1
		reply   *vici.Message     // the failed step's reply, if any
		err     error
		took    time.Duration
	}
	outs := make([]outcome, len(g.sessions))
	var wg sync.WaitGroup
	for i, s := range g.sessions {
		wg.Go(func() {
			o := &outs[i]
			o.failed = -1
			start := time.Now()
			defer func() { o.took = time.Since(start) }()
			for j, r := range reqs[i] {
				var msgs []*vici.Message
				reply, err := s.send(parent, r, r.event, func(m *vici.Message) error {
					msgs = append(msgs, m)
					return nil
				}, true)
				var cmdErr *vici.CommandError
				if err != nil && !r.opts.check && errors.As(err, &cmdErr) && cmdErr.Reply != nil {
					reply, err = cmdErr.Reply, nil // check=False: the refusal is the reply
				}
				if err != nil {
					o.failed, o.reply, o.err = j, reply, err
					return
				}
				o.replies = append(o.replies, append([]*vici.Message{reply}, msgs...))
			}
		})
	}
	wg.Wait()
	if err := starctx.Interrupted(parent); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	out := starlark.NewDict(len(g.sessions))
	for i, s := range g.sessions {
		o := outs[i]
		d := starlark.NewDict(len(steps) + 1)
		if o.failed >= 0 {
			var conv fromConverter
			r := reqs[i][o.failed]
			_, err := s.failed(r, parent, r.event, o.reply, o.err, &conv)
			if err == nil { // cannot happen: a refusal with check=False is a reply
				err = o.err
			}
			d = errorValue(err)
			_ = d.SetKey(starlark.String("command"), starlark.String(steps[o.failed].name))
		} else {
			for j, st := range steps {
				var conv fromConverter
				msgs := o.replies[j]
				var v starlark.Value
				if reqs[i][j].stream {
					entries := make([]starlark.Value, len(msgs)-1)
					for k, m := range msgs[1:] {
						entries[k] = conv.dict(m)
					}
					v = starlark.NewList(entries)
				} else {
					v = conv.dict(msgs[0])
				}
				_ = d.SetKey(starlark.String(st.name), v)
			}
		}
		_ = d.SetKey(starlark.String("seconds"), starlark.Float(o.took.Seconds()))
		if err := out.SetKey(starlark.String(g.names[i]), d); err != nil {
			return nil, err
		}
	}
	return out, nil
}
