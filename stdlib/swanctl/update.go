package swanctl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Update is applying a plan to its daemon: Apply, prove, Rollback.
// It remembers the SAs live right before the apply: those are of the
// previous configuration, the ones made later of the new one, which is
// how a rollback knows which SAs to replace (charon itself regards an SA
// as of whatever equal configuration is loaded; TestReloadBehaviour).
type Update struct {
	Plan       *Plan
	next, prev *Conf
	c          daemon

	// Before are the live SAs right before the apply.
	Before []IKESA
	// Applied is set once a load command may have been sent: a rollback
	// has something to undo.
	Applied bool
	Report  *applyReport // the apply's report
	Proof   *Proof       // the apply's proof (nil without one)
	// RolledBack is set once Rollback ran; its report and proof follow.
	RolledBack     bool
	RollbackReport *applyReport
	RollbackProof  *Proof
}

// newUpdate plans applying next over prev on daemon c.
func newUpdate(ctx context.Context, c daemon, name string, next, prev *Conf) (*Update, error) {
	p, err := newPlan(ctx, c, name, next, prev)
	if err != nil {
		return nil, err
	}
	return &Update{Plan: p, next: next, prev: prev, c: c}, nil
}

// ErrDrift is returned by Update.Apply when the daemon differs from the
// previous files, and ErrProblems when an item cannot be loaded: nothing
// is applied then.
var (
	ErrDrift    = errors.New("the daemon differs from the previous files (drift)")
	ErrProblems = errors.New("the change cannot be applied as it is")
)

// Apply loads the new configuration as applyConf does and, with prove > 0,
// proves it within that time: every child that was up (and is still
// configured) and every child charon initiates is up under the new
// configuration, in fresh SAs where charon kept old ones, which are
// closed once their replacements are up. A plan with drift or problems
// is not applied.
func (u *Update) Apply(ctx context.Context, prove time.Duration) error {
	if len(u.Plan.Drift) > 0 {
		return fmt.Errorf("%w: %s", ErrDrift, strings.Join(u.Plan.Drift, "; "))
	}
	if len(u.Plan.Problems) > 0 {
		return fmt.Errorf("%w: %s", ErrProblems, strings.Join(u.Plan.Problems, "; "))
	}
	before, err := listSAs(ctx, u.c)
	if err != nil {
		return err
	}
	u.Before = before
	u.Applied = true
	u.Report, u.Proof, err = u.load(ctx, u.next, u.Plan.t, before, snapshotIDs(before), prove)
	return err
}

// Rollback loads the previous configuration again (apply's promise
// holds: what fails to load is kept, never removed) and, with prove > 0,
// proves it the same way: what was up before the apply is up under the
// previous configuration, SAs made under the new one replaced. It does
// nothing when nothing was applied.
func (u *Update) Rollback(ctx context.Context, prove time.Duration) error {
	if !u.Applied {
		return nil
	}
	u.RolledBack = true
	now, err := listSAs(ctx, u.c)
	if err != nil {
		return err
	}
	old := snapshotIDs(now)
	for id := range snapshotIDs(u.Before) {
		delete(old, id)
	}
	t := newTransition(u.next, u.prev, u.Plan.t.v6)
	u.RollbackReport, u.RollbackProof, err = u.load(ctx, u.prev, t, u.Before, old, prove)
	return err
}

// load loads conf as applyConf does and, with prove > 0, proves the
// transition t to it within that time: what was up in before is up under
// t.to, the SAs of old (made under t.from) replaced. It returns the
// load's report, and the proof when there is one.
func (u *Update) load(ctx context.Context, conf *Conf, t *transition, before []IKESA, old map[string]bool, prove time.Duration) (*applyReport, *Proof, error) {
	report, err := applyConf(ctx, u.c, conf, false)
	if err == nil {
		err = report.Err()
	}
	if err != nil || prove <= 0 {
		return report, nil, err
	}
	p := &prover{ctx: ctx, c: u.c, t: t, old: old, proof: &Proof{}}
	p.run(expected(t, before), time.Now().Add(prove))
	return report, p.proof, p.proof.Err()
}
