package starlarkvici

import (
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// TestBadCommandNameInError: vici.call and vici.stream name a command or
// event the daemon cannot take (too long, not printable) once, quoted and
// cut, as the engine does. Found by the red team: vici.call("x" * 300)
// printed the 300 bytes before the engine's message, vici.call("\x00") a
// raw NUL byte.
func TestBadCommandNameInError(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	runGuarded(t, l, Config{}, time.Minute, `
load("assert.star", "assert")
long = "x" * 300
assert.fails(lambda: vici.call(long), r'^vici.call: vici: "x{40}"\.\.\.: .*exceeds the 255 byte limit$')
assert.fails(lambda: vici.call("\x00"), r'^vici.call: vici: "\\x00": .*non-printable byte 0x00')
assert.fails(lambda: vici.stream(long, "list-sa"), r'^vici.stream: vici: "x{40}"\.\.\.: .*exceeds the 255 byte limit$')
assert.fails(lambda: vici.stream("list-sas", long), '^vici.stream: .*exceeds the 255 byte limit$')
assert.fails(lambda: vici.call(""), '^vici.call: command must be a non-empty str, got ""$')
assert.fails(lambda: vici.call("nonexistent"), '^vici.call: nonexistent: the daemon at .* does not know the command "nonexistent"')
`)
}
