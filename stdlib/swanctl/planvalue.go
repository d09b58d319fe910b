package swanctl

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
	"go.starlark.net/starlark"
)

// PlanValue is what swanctl.plan returns: the plan of one daemon or of
// every member of a group, which apply() applies and proves and
// rollback() undoes, on every member at once. It prints as the plans'
// text; p[name] is a member's plan as a dict; iterating gives the member
// names.
//
// Members are planned, applied and rolled back each in a goroutine of its
// own, which only touches its Update and its vici client; Starlark values
// are made on the script's thread once every goroutine has finished (as
// vici.group does). mu serialises apply and rollback, so that a rollback
// run by a cleanup waits for an interrupted apply to wind down.
type PlanValue struct {
	mu      sync.Mutex
	members []*planMember
}

type planMember struct {
	name       string
	conf, prev string  // the paths as given
	confs      []*Conf // what was read, for the runtime's redaction
	u          *Update
	err        error // planning failed
	reason     string
}

var (
	_ starlark.HasAttrs = (*PlanValue)(nil)
	_ starlark.Mapping  = (*PlanValue)(nil)
	_ starlark.Iterable = (*PlanValue)(nil)
	_ starlark.Sequence = (*PlanValue)(nil)
)

// plan is swanctl.plan(conf, previous, target=None).
func (m *module) plan(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var conf, previous, target starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "conf", &conf, "previous", &previous, "target?", &target); err != nil {
		return nil, err
	}
	ts, many, err := m.targets(b.Name(), target)
	if err != nil {
		return nil, err
	}
	confs, err := pathsFor(b.Name(), "conf", conf, ts, many)
	if err != nil {
		return nil, err
	}
	prevs, err := pathsFor(b.Name(), "previous", previous, ts, many)
	if err != nil {
		return nil, err
	}
	ctx := starctx.From(thread)
	pv := &PlanValue{}
	for i, t := range ts {
		pv.members = append(pv.members, &planMember{name: t.name, conf: confs[i], prev: prevs[i]})
	}
	var wg sync.WaitGroup
	for i, pm := range pv.members {
		wg.Go(func() { pm.plan(ctx, ts[i]) })
	}
	wg.Wait()
	if err := starctx.Interrupted(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if m.cfg.Seen != nil {
		for _, pm := range pv.members {
			for _, c := range pm.confs {
				for _, secret := range c.Secrets {
					m.cfg.Seen(secret)
				}
			}
		}
	}
	return pv, nil
}

// plan reads both configurations and the daemon's state.
func (pm *planMember) plan(ctx context.Context, t namedTarget) {
	next, err := loadConf(ctx, pm.conf)
	if err != nil {
		pm.err, pm.reason = fmt.Errorf("conf: %w", err), ReasonFiles
		return
	}
	pm.confs = append(pm.confs, next)
	prev, err := loadConf(ctx, pm.prev)
	if err != nil {
		pm.err, pm.reason = fmt.Errorf("previous: %w", err), ReasonFiles
		return
	}
	pm.confs = append(pm.confs, prev)
	d, err := t.daemon(ctx)
	if err != nil {
		pm.err, pm.reason = err, reasonOf(err)
		return
	}
	if pm.name == "" {
		pm.name = d.URI()
	}
	pm.u, err = newUpdate(ctx, d, pm.name, next, prev)
	if err != nil {
		pm.err, pm.reason = err, reasonOf(err)
	}
}

// Reasons a member failed, besides vici.Reason's (unreachable, timeout,
// protocol, refused).
const (
	ReasonFiles       = "files"       // a configuration cannot be read
	ReasonDrift       = "drift"       // the daemon differs from the previous files
	ReasonProblems    = "problems"    // an item cannot be loaded, or charon will refuse it
	ReasonLoad        = "load"        // the daemon refused an item
	ReasonProof       = "proof"       // the configuration was loaded but not proven
	ReasonInterrupted = "interrupted" // the script was interrupted
)

// reasonOf is the reason for a failure to talk to a daemon: vici.Reason's
// (unreachable, timeout, protocol, refused, budget).
func reasonOf(err error) string { return vici.Reason(err) }

// String implements starlark.Value: every member's plan as text.
func (pv *PlanValue) String() string {
	var b strings.Builder
	for _, pm := range pv.members {
		switch {
		case pm.err != nil:
			fmt.Fprintf(&b, "plan for %s: %s: %v\n", pm.label(), pm.reason, pm.err)
		default:
			pm.u.Plan.Print(&b)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (pm *planMember) label() string {
	if pm.name == "" {
		return "the daemon"
	}
	return pm.name
}

// Type implements starlark.Value.
func (pv *PlanValue) Type() string { return "swanctl.plan" }

// Freeze implements starlark.Value; a plan is a handle on its daemons.
func (pv *PlanValue) Freeze() {}

// Truth implements starlark.Value.
func (pv *PlanValue) Truth() starlark.Bool { return true }

// Hash implements starlark.Value.
func (pv *PlanValue) Hash() (uint32, error) { return 0, errors.New("unhashable: swanctl.plan") }

// Len implements starlark.Sequence.
func (pv *PlanValue) Len() int { return len(pv.members) }

// Iterate implements starlark.Iterable: the member names.
func (pv *PlanValue) Iterate() starlark.Iterator {
	names := make([]starlark.Value, len(pv.members))
	for i, pm := range pv.members {
		names[i] = starlark.String(pm.label())
	}
	return starlark.NewList(names).Iterate()
}

// Get implements starlark.Mapping: p[name] is the member's plan as a dict.
func (pv *PlanValue) Get(k starlark.Value) (starlark.Value, bool, error) {
	name, ok := starlark.AsString(k)
	if !ok {
		return nil, false, fmt.Errorf("swanctl.plan: member names are str, got %s", k.Type())
	}
	for _, pm := range pv.members {
		if pm.label() == name {
			return pm.value(), true, nil
		}
	}
	return nil, false, nil
}

// Attr implements starlark.HasAttrs.
func (pv *PlanValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "apply":
		return starlark.NewBuiltin("swanctl.plan.apply", pv.apply), nil
	case "rollback":
		return starlark.NewBuiltin("swanctl.plan.rollback", pv.rollback), nil
	}
	return nil, nil
}

// AttrNames implements starlark.HasAttrs.
func (pv *PlanValue) AttrNames() []string { return []string{"apply", "rollback"} }

// apply is p.apply(prove=None): Update.Apply on every member at once.
func (pv *PlanValue) apply(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return pv.run(thread, b, args, kwargs, (*Update).Apply, func(u *Update) (*applyReport, *Proof) { return u.Report, u.Proof })
}

// rollback is p.rollback(prove=None): Update.Rollback on every member
// that apply reached.
func (pv *PlanValue) rollback(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	return pv.run(thread, b, args, kwargs, (*Update).Rollback, func(u *Update) (*applyReport, *Proof) { return u.RollbackReport, u.RollbackProof })
}

// outcome is what apply or rollback did on one member.
type outcome struct {
	err     error
	elapsed time.Duration
}

func (pv *PlanValue) run(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple,
	op func(*Update, context.Context, time.Duration) error, results func(*Update) (*applyReport, *Proof)) (starlark.Value, error) {
	var prove starctx.Duration
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "prove?", &prove); err != nil {
		return nil, err
	}
	pv.mu.Lock()
	defer pv.mu.Unlock()
	ctx := starctx.From(thread)
	outs := make([]outcome, len(pv.members))
	var wg sync.WaitGroup
	for i, pm := range pv.members {
		if pm.u == nil {
			continue
		}
		wg.Go(func() {
			start := time.Now()
			outs[i].err = op(pm.u, ctx, prove.D)
			outs[i].elapsed = time.Since(start)
		})
	}
	wg.Wait()
	out := starlark.NewDict(len(pv.members))
	for i, pm := range pv.members {
		_ = out.SetKey(starlark.String(pm.label()), pm.outcomeValue(ctx, outs[i], results))
	}
	return out, nil
}

// outcomeValue is a member's result of apply or rollback:
//
//	{"ok": bool, "applied": bool, "error": str or None, "reason": str or None,
//	 "report": {...} or None, "proof": {...} or None, "seconds": float}
func (pm *planMember) outcomeValue(ctx context.Context, o outcome, results func(*Update) (*applyReport, *Proof)) *starlark.Dict {
	d := starlark.NewDict(8)
	set := func(k string, v starlark.Value) { _ = d.SetKey(starlark.String(k), v) }
	err, reason := o.err, ""
	var report *applyReport
	var proof *Proof
	applied := false
	if pm.u == nil {
		err, reason = pm.err, pm.reason
	} else {
		report, proof = results(pm.u)
		applied = pm.u.Applied
	}
	if err != nil && reason == "" {
		switch {
		case starctx.Interrupted(ctx) != nil:
			reason = ReasonInterrupted
		case errors.Is(err, ErrDrift):
			reason = ReasonDrift
		case errors.Is(err, ErrProblems):
			reason = ReasonProblems
		case proof != nil && !proof.OK && report != nil && report.Err() == nil:
			reason = ReasonProof
		case report != nil && report.Err() != nil:
			reason = ReasonLoad
		default:
			reason = reasonOf(err)
		}
	}
	set("ok", starlark.Bool(err == nil))
	set("applied", starlark.Bool(applied))
	set("error", noneOr(err))
	set("reason", starlark.None)
	if reason != "" {
		set("reason", starlark.String(reason))
	}
	set("report", starlark.None)
	if report != nil {
		set("report", reportValue(report))
	}
	set("proof", starlark.None)
	if proof != nil {
		set("proof", proofValue(proof))
	}
	set("seconds", starlark.Float(o.elapsed.Seconds()))
	return d
}

func noneOr(err error) starlark.Value {
	if err == nil {
		return starlark.None
	}
	return starlark.String(err.Error())
}

func stringList(items []string) *starlark.List {
	vs := make([]starlark.Value, len(items))
	for i, s := range items {
		vs[i] = starlark.String(s)
	}
	return starlark.NewList(vs)
}

func proofValue(p *Proof) *starlark.Dict {
	d := starlark.NewDict(7)
	for k, v := range map[string]starlark.Value{
		"ok":              starlark.Bool(p.OK),
		"expected":        stringList(p.Expected),
		"initiated":       stringList(p.Initiated),
		"reauthenticated": stringList(p.Reauthenticated),
		"closed":          stringList(p.Closed),
		"failures":        stringList(p.Failures),
		"seconds":         starlark.Float(p.Elapsed.Seconds()),
	} {
		_ = d.SetKey(starlark.String(k), v)
	}
	return d
}

// value is a member's plan as a dict.
func (pm *planMember) value() *starlark.Dict {
	d := starlark.NewDict(12)
	set := func(k string, v starlark.Value) { _ = d.SetKey(starlark.String(k), v) }
	set("gateway", starlark.String(pm.label()))
	set("conf", starlark.String(pm.conf))
	set("previous", starlark.String(pm.prev))
	set("error", noneOr(pm.err))
	set("reason", starlark.None)
	if pm.reason != "" {
		set("reason", starlark.String(pm.reason))
	}
	if pm.u == nil {
		return d
	}
	p := pm.u.Plan
	set("version", starlark.String(p.Version))
	var changes []starlark.Value
	for _, c := range p.Changes {
		cd := starlark.NewDict(5)
		_ = cd.SetKey(starlark.String("kind"), starlark.String(c.Kind))
		_ = cd.SetKey(starlark.String("name"), starlark.String(c.Name))
		_ = cd.SetKey(starlark.String("verdict"), starlark.String(c.Verdict))
		_ = cd.SetKey(starlark.String("keys"), stringList(c.Keys))
		_ = cd.SetKey(starlark.String("ignored"), stringList(c.Ignored))
		changes = append(changes, cd)
	}
	set("changes", starlark.NewList(changes))
	set("drift", stringList(p.Drift))
	set("problems", stringList(p.Problems))
	var impact []starlark.Value
	for _, r := range p.Impact {
		rd := starlark.NewDict(9)
		for k, v := range map[string]string{"sa": r.SA, "conn": r.Conn, "id": r.ID, "ike_id": r.IKEID,
			"child": r.Child, "state": r.State, "effect": r.Effect, "proof": r.Proof, "why": r.Why} {
			_ = rd.SetKey(starlark.String(k), starlark.String(v))
		}
		impact = append(impact, rd)
	}
	set("impact", starlark.NewList(impact))
	initiates := append([]string(nil), p.Initiates...)
	sort.Strings(initiates)
	set("initiates", stringList(initiates))
	return d
}
