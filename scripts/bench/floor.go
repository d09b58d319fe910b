package main

import (
	"fmt"
	"runtime/debug"

	"go.starlark.net/starlark"
)

// floorChildFlag makes the bench binary a child that lists the
// connections like the raw frame counter and also builds the result a
// script gets, a Starlark list of native dicts and lists, as cheaply as it
// can be built: straight from each frame on the reading goroutine, with no
// checks, short strings shared through a small fixed table (a lookup is
// one hash and one comparison; a map of every string made costs more CPU
// and some 5 MiB more for 10,000 list-conn entries), and without the
// garbage collector (it makes almost no garbage, and a collection could
// only mark the growing result again). It is the cheapest way known to
// build that result: its figures against the frame counter are the floor
// under the end-to-end goal.
const floorChildFlag = "floor-child"

// runFloorChild is the child side of floorChildFlag.
func runFloorChild(socket string) error {
	debug.SetGCPercent(-1)
	raw, err := dialRaw(socket)
	if err != nil {
		return err
	}
	defer raw.Close()
	b := new(nativeBuilder)
	var result []starlark.Value
	n, err := raw.listConnsWith(func() (byte, error) {
		typ, body, err := raw.nextBody()
		if err != nil || typ != event {
			return typ, err
		}
		d, err := b.section(body)
		if err != nil {
			return typ, err
		}
		result = append(result, d)
		return typ, nil
	})
	if err != nil {
		return err
	}
	list := starlark.NewList(result)
	if list.Len() != n {
		return fmt.Errorf("built %d entries of %d", list.Len(), n)
	}
	fmt.Println(list.Len())
	return nil
}

// nativeBuilder turns message encodings into Starlark dicts. The zero
// nativeBuilder is ready to use.
type nativeBuilder struct {
	strs [1024]struct { // short strings made, by hash: the last one wins
		s string
		v starlark.Value
	}
}

// str returns p as a Starlark string, shared when short.
func (b *nativeBuilder) str(p []byte) starlark.Value {
	if len(p) > 64 {
		return starlark.String(p)
	}
	h := uint32(len(p))
	for _, c := range p {
		h = (h ^ uint32(c)) * 0x01000193 // FNV-1a
	}
	e := &b.strs[h%uint32(len(b.strs))]
	if e.v != nil && e.s == string(p) {
		return e.v
	}
	e.s = string(p)
	e.v = starlark.String(e.s)
	return e.v
}

// section builds the dict of one message encoding, trusting it to be
// well formed (as charon's are); a malformed one may panic.
func (b *nativeBuilder) section(p []byte) (*starlark.Dict, error) {
	stack := []*starlark.Dict{starlark.NewDict(0)}
	var list []starlark.Value
	var listName starlark.Value
	name := func() starlark.Value {
		n := int(p[1])
		v := b.str(p[2 : 2+n])
		p = p[2+n:]
		return v
	}
	value := func() starlark.Value {
		n := int(p[0])<<8 | int(p[1])
		v := b.str(p[2 : 2+n])
		p = p[2+n:]
		return v
	}
	for len(p) > 0 {
		top := stack[len(stack)-1]
		switch p[0] {
		case 1: // section start
			d := starlark.NewDict(0)
			if err := top.SetKey(name(), d); err != nil {
				return nil, err
			}
			stack = append(stack, d)
		case 2: // section end
			stack, p = stack[:len(stack)-1], p[1:]
		case 3: // key/value
			k := name()
			if err := top.SetKey(k, value()); err != nil {
				return nil, err
			}
		case 4: // list start
			listName, list = name(), nil
		case 5: // list item
			p = p[1:]
			list = append(list, value())
		case 6: // list end
			p = p[1:]
			if err := top.SetKey(listName, starlark.NewList(list)); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("element type %d", p[0])
		}
	}
	return stack[0], nil
}
