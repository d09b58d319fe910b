package swanctl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vicish/vicish/starctx"
	"github.com/vicish/vicish/vici"
)

// Proof is what proving a configuration on a daemon did: charon keeps
// SAs on the configuration they were made with (TestReloadBehaviour), so
// the new configuration is proven by fresh SAs made under it, before the
// SAs of the old one are closed (make-before-break).
type Proof struct {
	OK bool
	// Expected are the children ("conn/child") that had to be up under
	// the configuration.
	Expected []string
	// Initiated are the children initiated to prove them.
	Initiated []string
	// Reauthenticated are IKE_SAs ("conn #id") reauthenticated to prove a
	// changed credential.
	Reauthenticated []string
	// Closed are the SAs of the other configuration closed once their
	// replacements were up ("IKE_SA conn #id", "CHILD_SA conn/child #id").
	Closed   []string
	Failures []string
	Elapsed  time.Duration
}

// Err summarises the failures, or returns nil.
func (p *Proof) Err() error {
	if len(p.Failures) == 0 {
		return nil
	}
	return errors.New(strings.Join(p.Failures, "; "))
}

// proofPoll is how often the prover looks at list-sas while it waits for
// charon (a start_action=start initiation, a reauthentication).
const proofPoll = 100 * time.Millisecond

// prover proves the configuration t.to on one daemon.
type prover struct {
	ctx context.Context
	c   daemon
	t   *transition
	// old are the SAs ("ike:<id>", "child:<id>") made under t.from: on
	// applying, every SA live right before; on a rollback, those live
	// right before it that were not before the apply. Any other SA is of
	// t.to, or made by charon once t.to was loaded.
	old   map[string]bool
	proof *Proof
}

// snapshotIDs keys the SAs of a snapshot for prover.old.
func snapshotIDs(sas []IKESA) map[string]bool {
	ids := map[string]bool{}
	for _, s := range sas {
		ids["ike:"+s.ID] = true
		for _, ch := range s.Children {
			ids["child:"+ch.ID] = true
		}
	}
	return ids
}

// expected lists what must be up under t.to: every child installed in
// an established IKE_SA of before that t.to still has, and what charon
// initiates itself. (An IKE_SA without CHILD_SA is not expected: 6.x
// closes those whenever their connection is loaded.)
func expected(t *transition, before []IKESA) []string {
	var out []string
	add := func(e string) {
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	for _, s := range before {
		if !s.up() || !t.inTo(s.Conn, "") {
			continue
		}
		for _, ch := range s.Children {
			if ch.installed() && t.inTo(s.Conn, ch.Name) {
				add(s.Conn + "/" + ch.Name)
			}
		}
	}
	for _, e := range t.initiates() {
		add(e)
	}
	return out
}

// staleIKE reports whether IKE_SA s is of t.from, where t.to differs.
func (p *prover) staleIKE(s IKESA) bool {
	return p.t.ikeTouched(s.Conn) && p.old["ike:"+s.ID]
}

// staleChild reports whether CHILD_SA ch of s is of t.from, where t.to
// differs (or its IKE_SA is).
func (p *prover) staleChild(s IKESA, ch ChildSA) bool {
	return p.staleIKE(s) || p.t.childTouched(s.Conn, ch.Name) && p.old["child:"+ch.ID]
}

// proven reports whether e is up under t.to: an established IKE_SA of
// the configuration with an installed CHILD_SA of it.
func (p *prover) proven(sas []IKESA, e string) bool {
	conn, child, _ := strings.Cut(e, "/")
	for _, s := range sas {
		if s.Conn != conn || !s.up() || p.staleIKE(s) {
			continue
		}
		for _, ch := range s.Children {
			if ch.Name == child && ch.installed() && !p.staleChild(s, ch) {
				return true
			}
		}
	}
	return false
}

// busy reports whether charon is working on an IKE_SA of conn of the
// configuration (connecting it, or running exchanges on it).
func (p *prover) busy(sas []IKESA, conn string) bool {
	for _, s := range sas {
		if s.Conn == conn && !p.staleIKE(s) && (s.State == "CONNECTING" || s.Busy && s.up()) {
			return true
		}
	}
	return false
}

func (p *prover) fail(format string, args ...any) {
	p.proof.Failures = append(p.proof.Failures, fmt.Sprintf(format, args...))
}

// ms is the time left until deadline in milliseconds, for charon's
// timeout arguments (at least 1: 0 would mean no limit).
func ms(deadline time.Time) string {
	left := time.Until(deadline).Milliseconds()
	if left < 1 {
		left = 1
	}
	return strconv.FormatInt(left, 10)
}

// run proves every expected child by deadline, then closes the SAs of
// the other configuration.
func (p *prover) run(expect []string, deadline time.Time) {
	start := time.Now()
	defer func() { p.proof.Elapsed = time.Since(start) }()
	p.proof.Expected = expect
	reauthed := map[string]bool{}
	for _, e := range expect {
		if !p.up(e, deadline, reauthed) {
			return
		}
	}
	if !p.closeOld(deadline) {
		return
	}
	sas, err := listSAs(p.ctx, p.c)
	if err != nil {
		p.fail("list-sas: %v", err)
		return
	}
	for _, e := range expect {
		if !p.proven(sas, e) {
			p.fail("%s is not up after closing the SAs of the old configuration", e)
		}
	}
	p.proof.OK = len(p.proof.Failures) == 0
}

// up brings e up under t.to: it waits while charon works on the
// connection, then acts once (initiate, or reauthenticate for a changed
// credential) and waits for the result.
func (p *prover) up(e string, deadline time.Time, reauthed map[string]bool) bool {
	conn, child, _ := strings.Cut(e, "/")
	c := p.t.conns[conn]
	acted := false
	for {
		sas, err := listSAs(p.ctx, p.c)
		if err != nil {
			p.fail("list-sas: %v", err)
			return false
		}
		if p.proven(sas, e) {
			return true
		}
		if time.Now().After(deadline) {
			p.fail("%s is not up under the new configuration in time", e)
			return false
		}
		switch {
		case p.busy(sas, conn):
		case acted && c.initiable:
			p.fail("%s: initiated, but no CHILD_SA of the configuration is installed", e)
			return false
		case acted:
			// Nothing to initiate to: the peer has to come.
		case c.credOnly && p.staleEstablished(sas, conn, reauthed) != "":
			id := p.staleEstablished(sas, conn, reauthed)
			reauthed[id] = true
			acted = true
			if err := p.reauth(conn, id, e, deadline); err != nil {
				p.fail("%s: %v", e, err)
				return false
			}
			continue
		case !c.initiable:
			acted = true
		default:
			acted = true
			if err := p.initiate(conn, child, deadline); err != nil {
				p.fail("initiating %s: %v", e, err)
				return false
			}
			p.proof.Initiated = append(p.proof.Initiated, e)
			continue
		}
		if err := starctx.Sleep(p.ctx, proofPoll); err != nil {
			p.fail("%s: %v", e, err)
			return false
		}
	}
}

// initiate initiates conn's child and waits for the outcome. When it
// fails, the error ends with what charon logged about the failure (the
// lines of its control log that say "failed", "error" or name a notify,
// e.g. "received AUTHENTICATION_FAILED notify error").
func (p *prover) initiate(conn, child string, deadline time.Time) error {
	req := vici.NewMessage().Set("ike", conn).Set("child", child).Set("timeout", ms(deadline))
	var telling []string
	told := map[string]bool{}
	err := p.c.collect(p.ctx, "initiate", "control-log", req, func(m *vici.Message) int {
		msg := m.Get("msg")
		lower := strings.ToLower(msg)
		if strings.HasPrefix(msg, "parsed ") || strings.HasPrefix(msg, "generating ") {
			return 0 // packet dumps
		}
		if strings.Contains(lower, "fail") || strings.Contains(lower, "error") || strings.Contains(msg, "notify") && strings.Contains(msg, "received") {
			if !told[msg] {
				told[msg] = true
				telling = append(telling, msg)
				return 2*stringHeader + len(msg) + mapEntry
			}
		}
		return 0
	})
	if err != nil && len(telling) > 0 {
		return fmt.Errorf("%w (charon: %s)", err, strings.Join(telling[max(0, len(telling)-3):], "; "))
	}
	return err
}

// staleEstablished returns the id of an established IKE_SA of conn of the
// other configuration not reauthenticated yet, or "".
func (p *prover) staleEstablished(sas []IKESA, conn string, reauthed map[string]bool) string {
	for _, s := range sas {
		if s.Conn == conn && s.up() && p.staleIKE(s) && !reauthed[s.ID] {
			return s.ID
		}
	}
	return ""
}

// reauth reauthenticates IKE_SA id (rekey reauth=yes: a new IKE_SA of
// the same configuration, authenticated with the credentials loaded now;
// make-before-break on 6.x, break-before-make on 5.9.x by default) and
// waits until e is up in it. charon's answer to rekey does not say how it
// went, so the prover watches the log for the new IKE_SA's id: one that
// disappears without e coming up failed.
func (p *prover) reauth(conn, id, e string, deadline time.Time) error {
	sub, err := p.c.Subscribe(p.ctx, "log")
	if err != nil {
		return err
	}
	defer sub.Close()
	sas, err := listSAs(p.ctx, p.c)
	if err != nil {
		return err
	}
	known := map[string]bool{}
	for _, s := range sas {
		known[s.ID] = true
	}
	if _, err := p.c.Call(p.ctx, "rekey", vici.NewMessage().Set("ike-id", id).Set("reauth", "yes")); err != nil {
		return fmt.Errorf("reauthenticating IKE_SA #%s: %w", id, err)
	}
	p.proof.Reauthenticated = append(p.proof.Reauthenticated, conn+" #"+id)
	seen := map[string]bool{}
	timer := time.NewTicker(proofPoll)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return fmt.Errorf("the log subscription ended: %v", sub.Err())
			}
			if ev.Message != nil && ev.Message.Get("ikesa-name") == conn {
				if n := ev.Message.Get("ikesa-uniqueid"); n != "" && !known[n] {
					seen[n] = true
				}
			}
			continue
		case <-timer.C:
		case <-p.ctx.Done():
			return context.Cause(p.ctx)
		}
		sas, err := listSAs(p.ctx, p.c)
		if err != nil {
			return err
		}
		if p.proven(sas, e) {
			return nil
		}
		present := map[string]bool{}
		for _, s := range sas {
			present[s.ID] = true
		}
		for n := range seen {
			if !present[n] {
				return fmt.Errorf("reauthenticating IKE_SA #%s failed: the new IKE_SA #%s did not come up (charon's log says why)", id, n)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reauthenticating IKE_SA #%s: not done in time", id)
		}
	}
}

// closeOld closes the SAs of the other configuration whose connection
// and child t.to still has, now that their replacements are up: IKE_SAs
// first (with their CHILD_SAs), then CHILD_SAs in IKE_SAs that stay.
func (p *prover) closeOld(deadline time.Time) bool {
	sas, err := listSAs(p.ctx, p.c)
	if err != nil {
		p.fail("list-sas: %v", err)
		return false
	}
	terminate := func(what, key, id string) bool {
		req := vici.NewMessage().Set(key, id).Set("timeout", ms(deadline))
		if _, err := p.c.Call(p.ctx, "terminate", req); err != nil {
			p.fail("closing %s: %v", what, err)
			return false
		}
		p.proof.Closed = append(p.proof.Closed, what)
		return true
	}
	ok := true
	for _, s := range sas {
		if s.State == "DELETING" || !p.t.inTo(s.Conn, "") {
			continue
		}
		if p.staleIKE(s) {
			if len(s.Children) == 0 {
				continue // nothing replaced it: left as charon leaves it
			}
			ok = terminate(fmt.Sprintf("IKE_SA %s #%s", s.Conn, s.ID), "ike-id", s.ID) && ok
			continue
		}
		for _, ch := range s.Children {
			if ch.installed() && p.t.inTo(s.Conn, ch.Name) && p.staleChild(s, ch) {
				ok = terminate(fmt.Sprintf("CHILD_SA %s/%s #%s", s.Conn, ch.Name, ch.ID), "child-id", ch.ID) && ok
			}
		}
	}
	return ok
}
