package recording_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
	"github.com/vicish/vicish/internal/recording"
	"github.com/vicish/vicish/redact"
	"github.com/vicish/vicish/script"
)

// TestRecordRealSession records a session with a real daemon through the
// runtime (as vicish --record does) and reads it back: every command in
// the order sent with its request, its streamed entries and its reply;
// the unknown command; the events that came during initiate, after it;
// and the pre-shared key the script loaded redacted in the file.
func TestRecordRealSession(t *testing.T) {
	l := labtest.Start(t, lab.TwoGateways)
	a := l.Gateway("a")
	path := filepath.Join(t.TempDir(), "session.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	secrets := redact.New()
	rec := recording.New(f, secrets.Redact)
	var out bytes.Buffer
	rt := script.New(script.Options{URI: a.URI, Dial: rec.Dial, Secrets: secrets, Stdout: &out, Stderr: &out})
	defer rt.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = rt.ExecFile(ctx, "session.star", `
vici.load_shared(type = "IKE", data = "recorded-s3cret", owners = ["someone"])
vici.initiate(child = "net", ike = "ab", log = lambda d: None)
print(len(vici.list_sas()))
`)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if _, err := rt.ExecFile(ctx, "unknown.star", `vici.call("no-such-command")`); err == nil || !strings.Contains(err.Error(), "does not know the command") {
		t.Fatalf("an unknown command: %v", err)
	}
	if err := f.Close(); err != nil || rec.Err() != nil {
		t.Fatal(err, rec.Err())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("recorded-s3cret")) || !bytes.Contains(raw, []byte(`"data":"<redacted>"`)) {
		t.Errorf("the loaded secret is not redacted in the recording:\n%s", raw)
	}

	items, err := recording.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var commands []string
	var initiate, listSAs *recording.Item
	var logs int
	for i := range items {
		it := &items[i]
		if it.URI != a.URI {
			t.Errorf("item %d: URI %q, want %q", i, it.URI, a.URI)
		}
		switch {
		case it.Command != "":
			commands = append(commands, it.Command)
			switch it.Command {
			case "initiate":
				initiate = it
			case "list-sas":
				listSAs = it
			case "no-such-command":
				if !it.Unknown {
					t.Errorf("the unknown command is not recorded as such: %+v", it)
				}
			}
		case it.Event == "control-log":
			logs++
			if initiate == nil && it.After == 0 {
				t.Errorf("a control-log event recorded before any command: %+v", it)
			}
		}
	}
	if got := strings.Join(commands, " "); got != "load-shared initiate list-sas no-such-command" {
		t.Errorf("commands %q", got)
	}
	if initiate == nil || initiate.Request.Get("ike") != "ab" || initiate.Reply.Get("success") != "yes" {
		t.Fatalf("initiate: %+v", initiate)
	}
	if logs == 0 {
		t.Error("no control-log event of the initiate was recorded")
	}
	for _, it := range items {
		if it.Event == "control-log" && it.After != initiate.Seq {
			t.Errorf("a control-log event came after command %d, want the initiate's %d", it.After, initiate.Seq)
		}
	}
	if listSAs == nil || len(listSAs.Stream) != 1 || listSAs.Stream[0].Section("ab").Get("state") != "ESTABLISHED" {
		t.Errorf("list-sas: %+v", listSAs)
	}
}
