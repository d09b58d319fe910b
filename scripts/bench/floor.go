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
// checks, every short string shared, and without the garbage collector
// (it makes almost no garbage, and a collection could only mark the
// growing result again). No VICI client that returns native
// Starlark values can spend less; its figures against the frame counter
// are the floor under the end-to-end goal.
const floorChildFlag = "floor-child"

// runFloorChild is the child side of floorChildFlag.
func runFloorChild(socket string) error {
	debug.SetGCPercent(-1)
	raw, err := dialRaw(socket)
	if err != nil {
		return err
	}
	defer raw.Close()
	var b nativeBuilder
	b.strs = make(map[string]starlark.Value)
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

// nativeBuilder turns message encodings into Starlark dicts.
type nativeBuilder struct {
	strs map[string]starlark.Value // short strings made so far
}

// str returns p as a Starlark string, shared when short.
func (b *nativeBuilder) str(p []byte) starlark.Value {
	if v, ok := b.strs[string(p)]; ok {
		return v
	}
	v := starlark.Value(starlark.String(p))
	if len(p) <= 64 {
		b.strs[string(p)] = v
	}
	return v
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
