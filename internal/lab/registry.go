package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RegistryDir holds one state file per running lab, so that a later run can
// find and clear what a crashed one left behind.
const RegistryDir = "/run/vicish-lab"

// labState is what the registry records about a lab.
type labState struct {
	ID         string         `json:"id"`
	Dir        string         `json:"dir"`
	OwnDir     bool           `json:"own_dir"`
	Before     []string       `json:"before"` // a user's dir's entries before up (null: remove none)
	Topology   Topology       `json:"topology"`
	Spokes     int            `json:"spokes,omitempty"`
	Persistent bool           `json:"persistent"`
	OwnerPID   int            `json:"owner_pid"`
	OwnerStart string         `json:"owner_start"`
	Created    time.Time      `json:"created"`
	Netns      []string       `json:"netns"`
	Gateways   []gatewayState `json:"gateways"`
}

type gatewayState struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Netns string `json:"netns"`
	URI   string `json:"uri"`
	Addr  string `json:"addr"`
	// Daemon and Version say which strongSwan the gateway runs.
	Daemon  Daemon `json:"daemon,omitempty"`
	Version string `json:"version,omitempty"`
	// Charon and Root let `lab restart` start the same daemon again.
	Charon string `json:"charon,omitempty"`
	Root   string `json:"root,omitempty"`
}

type registry struct{ dir string }

func openRegistry() (*registry, error) {
	if err := os.MkdirAll(RegistryDir, 0o755); err != nil {
		return nil, fmt.Errorf("create lab registry %s: %w", RegistryDir, err)
	}
	return &registry{dir: RegistryDir}, nil
}

func (r *registry) path(id string) string { return filepath.Join(r.dir, id+".json") }

func (r *registry) save(st *labState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := r.path(st.ID) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write lab state: %w", err)
	}
	return os.Rename(tmp, r.path(st.ID))
}

func (r *registry) remove(id string) { os.Remove(r.path(id)) }

// list returns all recorded labs, newest first.
func (r *registry) list() []*labState {
	entries, _ := os.ReadDir(r.dir)
	var out []*labState
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.dir, e.Name()))
		if err != nil {
			continue
		}
		var st labState
		if json.Unmarshal(b, &st) != nil || st.ID == "" {
			continue
		}
		out = append(out, &st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// lock serialises stale-lab clearing between processes.
func (r *registry) lock() (unlock func()) {
	f, err := os.OpenFile(filepath.Join(r.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return func() {}
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// clearStale tears down labs whose owning process is gone (a test binary that
// crashed or was killed). Persistent labs ("lab up") stay until "lab down".
func (r *registry) clearStale() {
	unlock := r.lock()
	defer unlock()
	for _, st := range r.list() {
		if st.Persistent || processAlive(st.OwnerPID, st.OwnerStart) {
			continue
		}
		labFromState(r, st).Down()
	}
}

// Running returns the labs recorded on this machine, newest first: those
// "lab up" started and those of running (or crashed) test processes. Each
// is a handle that can stop the lab (Down) or a gateway (Kill, Restart).
func Running() ([]*Lab, error) {
	reg, err := openRegistry()
	if err != nil {
		return nil, err
	}
	var labs []*Lab
	for _, st := range reg.list() {
		labs = append(labs, labFromState(reg, st))
	}
	return labs, nil
}

// Owner returns the process that started a lab that is not Persistent
// (a test) and whether it still runs; 0 for a persistent lab.
func (l *Lab) Owner() (pid int, alive bool) {
	if l.st == nil || l.Persistent {
		return 0, false
	}
	return l.st.OwnerPID, processAlive(l.st.OwnerPID, l.st.OwnerStart)
}

func (l *Lab) state(persistent bool) *labState {
	st := &labState{
		ID:         l.ID,
		Dir:        l.Dir,
		OwnDir:     l.ownDir,
		Before:     l.kept,
		Topology:   l.Topology,
		Spokes:     l.Spokes,
		Persistent: persistent,
		Created:    l.Created,
		Netns:      l.netnsNames(),
		Gateways:   l.gatewayStates(),
	}
	if !persistent {
		st.OwnerPID = os.Getpid()
		st.OwnerStart = procStart(st.OwnerPID)
	}
	return st
}

// labFromState rebuilds a handle on a recorded lab, for stopping it or one of
// its gateways in a process other than the one that started it.
func labFromState(r *registry, st *labState) *Lab {
	l := &Lab{ID: st.ID, Dir: st.Dir, Topology: st.Topology, Spokes: st.Spokes, Persistent: st.Persistent, Created: st.Created,
		ownDir: st.OwnDir, kept: st.Before, reg: r, st: st}
	for _, gs := range st.Gateways {
		dir := filepath.Join(st.Dir, gs.Name)
		daemon := gs.Daemon
		if daemon == "" {
			daemon = SystemDaemon
		}
		charon := gs.Charon
		if charon == "" {
			charon = CharonPath
		}
		l.Gateways = append(l.Gateways, &Gateway{
			Name: gs.Name, URI: gs.URI, Socket: strings.TrimPrefix(gs.URI, "unix://"), Netns: gs.Netns,
			Addr: gs.Addr, LogPath: filepath.Join(dir, "charon.log"), ConfDir: dir, Daemon: daemon,
			lab: l, root: gs.Root, charon: charon, pid: gs.PID, version: gs.Version,
		})
	}
	return l
}

func (l *Lab) gatewayStates() []gatewayState {
	var gs []gatewayState
	for _, g := range l.Gateways {
		gs = append(gs, gatewayState{Name: g.Name, PID: g.PID(), Netns: g.Netns, URI: g.URI, Addr: g.Addr,
			Daemon: g.Daemon, Version: g.Version(), Charon: g.charon, Root: g.root})
	}
	return gs
}

// procStart returns the start time of a process (field 22 of /proc/PID/stat)
// so that a reused pid is not mistaken for the original process.
func procStart(pid int) string {
	if f := procStat(pid); len(f) >= 20 {
		return f[19]
	}
	return ""
}

// procStat returns the fields of /proc/PID/stat after the command name (so
// f[0] is the state, f[1] the parent pid, f[19] the start time), or nil.
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

func processAlive(pid int, start string) bool {
	if pid <= 0 {
		return false
	}
	s := procStart(pid)
	return s != "" && (start == "" || s == start)
}

// isLabDaemon reports whether pid is the charon of gateway gw in lab id, by
// the marker in its environment.
func isLabDaemon(pid int, id, gw string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	want := markerEnv + "=" + id + "/" + gw
	for _, kv := range strings.Split(string(b), "\x00") {
		if kv == want {
			return true
		}
	}
	return false
}

type markedProc struct {
	pid int
	gw  string
}

// stopMarked stops the daemons of lab id side by side (see stopPID).
func stopMarked(id string, procs []markedProc) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := stopPID(p.pid, id, p.gw); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// markedProcesses scans /proc for daemons of lab id (by their marker).
func markedProcesses(id string) []markedProc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	prefix := markerEnv + "=" + id + "/"
	var out []markedProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(b), "\x00") {
			if gw, ok := strings.CutPrefix(kv, prefix); ok {
				out = append(out, markedProc{pid: pid, gw: gw})
				break
			}
		}
	}
	return out
}

// markerEnv is set in every lab daemon's environment to recognise it.
const markerEnv = "VICISH_LAB"

// stopPID stops a lab daemon found by pid: SIGTERM, then SIGKILL after a
// grace period. A pid that is gone or belongs to another process is left alone.
func stopPID(pid int, id, gw string) error {
	if !isLabDaemon(pid, id, gw) {
		return nil
	}
	syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if !isLabDaemon(pid, id, gw) || isZombie(pid) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	deadline = time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if !isLabDaemon(pid, id, gw) || isZombie(pid) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("gateway %s (pid %d) did not exit after SIGKILL", gw, pid)
}

func isZombie(pid int) bool {
	f := procStat(pid)
	return len(f) == 0 || f[0] == "Z"
}
