package startest

import (
	"bytes"
	"fmt"
	"sort"
	"sync"

	"go.starlark.net/starlark"

	"github.com/vicish/vicish/internal/recording"
	"github.com/vicish/vicish/vici"
)

// replay is a recording a fake daemon answers from: for each command the
// recorded exchanges, each used once (the one whose request is the same
// first, else the next in order), the last repeating; the events recorded
// after each.
type replay struct {
	mu       sync.Mutex
	commands map[string][]*recording.Item
	used     map[*recording.Item]bool
	events   map[int][]*recording.Item // by the Seq of the command they followed
	initial  []*recording.Item         // events before any command
}

// newReplay keeps the items of a recording made with the daemon at uri.
func newReplay(items []recording.Item, uri string) *replay {
	r := &replay{commands: map[string][]*recording.Item{}, used: map[*recording.Item]bool{}, events: map[int][]*recording.Item{}}
	var cmds []*recording.Item
	for i := range items {
		it := &items[i]
		if it.URI != uri || it.Command == "" {
			continue
		}
		cmds = append(cmds, it)
	}
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].Seq < cmds[j].Seq })
	for _, it := range cmds {
		r.commands[it.Command] = append(r.commands[it.Command], it)
	}
	for i := range items {
		ev := &items[i]
		if ev.URI != uri || ev.Event == "" {
			continue
		}
		// The event follows the last command to this daemon sent before it.
		k := sort.Search(len(cmds), func(j int) bool { return cmds[j].Seq > ev.After }) - 1
		if k < 0 {
			r.initial = append(r.initial, ev)
		} else {
			r.events[cmds[k].Seq] = append(r.events[cmds[k].Seq], ev)
		}
	}
	return r
}

func (r *replay) has(command string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.commands[command]) > 0
}

// next returns the exchange that answers req and, the first time it is
// used, the events that followed it.
func (r *replay) next(command string, req *vici.Message) (*recording.Item, []*recording.Item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	items := r.commands[command]
	want, _ := req.MarshalBinary()
	var pick *recording.Item
	for _, it := range items {
		if got, _ := it.Request.MarshalBinary(); !r.used[it] && bytes.Equal(got, want) {
			pick = it
			break
		}
	}
	for _, it := range items {
		if pick == nil && !r.used[it] {
			pick = it
		}
	}
	if pick == nil {
		return items[len(items)-1], nil
	}
	r.used[pick] = true
	events := r.events[pick.Seq]
	delete(r.events, pick.Seq)
	return pick, events
}

// uris returns the daemons a recording talked to, in order of first use.
func uris(items []recording.Item) []string {
	var out []string
	seen := map[string]bool{}
	for _, it := range items {
		if !seen[it.URI] {
			seen[it.URI] = true
			out = append(out, it.URI)
		}
	}
	return out
}

// replayBuiltin implements d.replay(path, uri=None): the daemon answers
// the commands the recording at path (vicish --record) holds as the daemon
// at uri did (without uri: the one daemon of the recording), replies given
// with d.reply still winning; the events recorded before any command are
// raised at once.
func (d *daemon) replayBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path, uri string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path, "uri?", &uri); err != nil {
		return nil, err
	}
	path = relativeTo(thread, path)
	items, err := recording.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	all := uris(items)
	switch {
	case uri == "" && len(all) == 1:
		uri = all[0]
	case uri == "":
		return nil, fmt.Errorf("%s: %s holds the exchanges of %d daemons %q: say which with uri=", b.Name(), path, len(all), all)
	}
	r := newReplay(items, uri)
	if len(r.commands) == 0 && len(r.initial) == 0 && len(r.events) == 0 {
		return nil, fmt.Errorf("%s: %s holds nothing from %s (it has %q)", b.Name(), path, uri, all)
	}
	d.mu.Lock()
	d.replay = r
	d.mu.Unlock()
	for _, ev := range r.initial {
		if err := d.emit(ev.Event, ev.Data); err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
	}
	return starlark.None, nil
}
