package textdiff

import (
	"fmt"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	old := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\n"
	new := "a\nB\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\nm\nn\n"
	// What GNU diff -u prints for these (headers aside).
	want := `--- old
+++ new
@@ -1,5 +1,5 @@
 a
-b
+B
 c
 d
 e
@@ -11,3 +11,4 @@
 k
 l
 m
+n
`
	if got := string(Unified("old", "new", []byte(old), []byte(new))); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := Unified("x", "y", []byte(old), []byte(old)); got != nil {
		t.Errorf("equal texts give %q, want nil", got)
	}
	got := string(Unified("old", "new", []byte("x\ny"), []byte("x\nz\n")))
	if want := "--- old\n+++ new\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+z\n"; got != want {
		t.Errorf("missing newline: got %q, want %q", got, want)
	}
	got = string(Unified("old", "new", nil, []byte("x\n")))
	if want := "--- old\n+++ new\n@@ -0,0 +1 @@\n+x\n"; got != want {
		t.Errorf("from nothing: got %q, want %q", got, want)
	}
}

// TestRandom checks on random texts that applying the diff to the old
// text gives the new one and that it changes no more lines than needed.
func TestRandom(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for range 500 {
		a, b := randomText(r), randomText(r)
		d := Unified("a", "b", []byte(a), []byte(b))
		if got := apply(t, a, string(d)); got != b {
			t.Fatalf("applying\n%s\nto %q gives %q, want %q", d, a, got, b)
		}
		changed := 0
		for _, l := range strings.Split(string(d), "\n")[2:] {
			if strings.HasPrefix(l, "-") || strings.HasPrefix(l, "+") {
				changed++
			}
		}
		if want := len(lines([]byte(a))) + len(lines([]byte(b))) - 2*lcs(lines([]byte(a)), lines([]byte(b))); changed != want {
			t.Fatalf("%q to %q: %d lines changed, a shortest script changes %d:\n%s", a, b, changed, want, d)
		}
	}
}

func randomText(r *rand.Rand) string {
	var b strings.Builder
	for range r.Intn(30) {
		fmt.Fprintf(&b, "%c\n", 'a'+r.Intn(4))
	}
	return b.String()
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$`)

// apply applies a unified diff to old.
func apply(t *testing.T, old, diff string) string {
	a := lines([]byte(old))
	var out []string
	next := 0 // a[:next] are done
	for _, l := range strings.Split(diff, "\n")[2:] {
		switch {
		case l == "":
		case strings.HasPrefix(l, "@@"):
			m := hunkHeader.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("bad hunk header %q", l)
			}
			start, _ := strconv.Atoi(m[1])
			if m[2] != "0" {
				start--
			}
			out = append(out, a[next:start]...)
			next = start
		case l[0] == ' ' || l[0] == '-':
			if next >= len(a) || a[next] != l[1:]+"\n" {
				t.Fatalf("context %q does not match line %d of the old text", l, next+1)
			}
			if l[0] == ' ' {
				out = append(out, a[next])
			}
			next++
		case l[0] == '+':
			out = append(out, l[1:]+"\n")
		default:
			t.Fatalf("bad diff line %q", l)
		}
	}
	return strings.Join(append(out, a[next:]...), "")
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}
