package main

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

func TestEmbedAgainstLab(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), l.Gateway("a").URI, &out, &errOut); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, errOut.String())
	}
	// The first line names the version the daemon reports.
	want := regexp.MustCompile(`^charon ` + regexp.QuoteMeta(l.Gateway("a").Version()) + ` on embed-example: 0 IKE_SAs\n` +
		`inventory token: <redacted>\n` +
		`report\(\) = \{"daemon": "charon", "ike_sas": 0, "extra": "from Go"\}\n$`)
	if !want.MatchString(out.String()) {
		t.Errorf("output:\n%s\nwant it to match %s", out.String(), want)
	}
}

func TestEmbedUnreachable(t *testing.T) {
	uri := "unix://" + filepath.Join(t.TempDir(), "none.vici")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), uri, &out, &errOut); code != 3 {
		t.Errorf("exit code %d, want 3; stderr:\n%s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), uri) || !strings.Contains(errOut.String(), "report.star:2:") {
		t.Errorf("stderr does not name the URI and the line:\n%s", errOut.String())
	}
}
