// Package starcall tells, when a script hands a builtin a function, whether
// the builtin will be able to call it: a callback registered now and
// called at the first event, or a cleanup called only when a step fails,
// should be refused at once rather than fail at the worst moment.
package starcall

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
)

// Check reports why fn cannot be called with n positional arguments plus,
// when fn declares a parameter named keyword, that keyword (keyword may be
// ""). call describes the call for the message, e.g. "fn(name, data)". A
// builtin passes: its parameters are not known before it runs.
func Check(fn starlark.Callable, n int, keyword, call string) error {
	f, ok := fn.(*starlark.Function)
	if !ok {
		return nil
	}
	named := f.NumParams()
	if f.HasVarargs() {
		named--
	}
	if f.HasKwargs() {
		named--
	}
	positional := named - f.NumKwonlyParams()
	var params []string
	required := 0
	for i := range named {
		name, _ := f.Param(i)
		given := keyword != "" && name == keyword
		switch {
		case i < positional && f.ParamDefault(i) == nil && !given:
			required++
		case i >= positional && f.ParamDefault(i) == nil && !given:
			return fmt.Errorf("%s has the keyword-only parameter %s, which no call gives; it is called as %s",
				f.Name(), name, call)
		}
		if given && i < n {
			return fmt.Errorf("%s takes %s as its parameter %d, but it comes as the keyword %s=; it is called as %s (declare %s after them)",
				f.Name(), keyword, i+1, keyword, call, keyword)
		}
		params = append(params, name)
	}
	if required > n || positional < n && !f.HasVarargs() {
		return fmt.Errorf("%s(%s) takes %s, but it is called as %s",
			f.Name(), strings.Join(params, ", "), arity(required, positional, f.HasVarargs()), call)
	}
	return nil
}

// arity says how many positional arguments a function takes.
func arity(required, positional int, varargs bool) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return fmt.Sprintf("%d arguments", n)
	}
	switch {
	case varargs:
		return "at least " + plural(required)
	case required == positional:
		return plural(required)
	}
	return fmt.Sprintf("%d to %s", required, plural(positional))
}
