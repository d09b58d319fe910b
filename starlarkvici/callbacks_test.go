package starlarkvici

import (
	"testing"
	"time"

	"github.com/vicish/vicish/internal/lab"
	"github.com/vicish/vicish/internal/lab/labtest"
)

// Mistakes in registering for events are refused when made, not at the
// first event (issue 17): a misspelt event name gets "did you mean", a
// callback or match= with the wrong parameters is refused by on() and
// wait(), naming its parameters and how it is called.
func TestEventMistakes(t *testing.T) {
	l := labtest.Start(t, lab.OneGateway)
	runGuarded(t, l, Config{}, time.Minute, `
load("assert.star", "assert")
assert.fails(lambda: vici.on("ike_updown", print), 'does not know the event "ike_updown"; did you mean "ike-updown"\\?')
assert.fails(lambda: vici.on("Child-Updown", print), 'did you mean "child-updown"\\?')
assert.fails(lambda: vici.wait("ike-updwn", timeout=1), 'vici.wait: .* does not know the event "ike-updwn"; did you mean "ike-updown"\\?')
assert.fails(lambda: vici.on("nonsense-event", print), 'does not know the event "nonsense-event"; check the name')
assert.fails(lambda: vici.off("child_updown"), 'vici.off: no callback is registered for the event "child_updown"; did you mean "child-updown"\\?')
vici.off("child-updown")   # a real name without callbacks: nothing to do
vici.off("nonsense-event")

def one(name):
    pass
def three(a, b, c):
    pass
def sess(name, session):
    pass
def kwonly(name, data, *, extra):
    pass
assert.fails(lambda: vici.on("ike-updown", one), "vici.on: the callback one\\(name\\) takes 1 argument, but it is called as fn\\(name, data\\)")
assert.fails(lambda: vici.on("ike-updown", lambda: None), "lambda\\(\\) takes 0 arguments")
assert.fails(lambda: vici.on("ike-updown", three), "three\\(a, b, c\\) takes 3 arguments")
assert.fails(lambda: vici.on("ike-updown", sess), "takes session as its parameter 2, but it comes as the keyword session=")
assert.fails(lambda: vici.on("ike-updown", kwonly), "has the keyword-only parameter extra, which no call gives")
assert.fails(lambda: vici.wait("ike-updown", match=lambda a, b: True, timeout=1), "vici.wait: match= lambda\\(a, b\\) takes 2 arguments, but it is called as match\\(data\\)")
assert.fails(lambda: vici.wait("ike-updown", match=sess, timeout=1), "takes 2 arguments")
g = vici.group({"a": lab.a.uri})
assert.fails(lambda: g.on("ike-updown", one), "vici.group.on: the callback one\\(name\\)")
assert.fails(lambda: g.off("ike_updown"), "vici.group.off: no callback is registered")

# what can be called as fn(name, data) is accepted
def opt(name, data, more=1):
    pass
def va(*args):
    pass
def with_session(name, data, session):
    pass
def kw_session(name, data, *, session):
    pass
for fn in [lambda name, data: None, opt, va, with_session, kw_session, print]:
    vici.on("ike-updown", fn)
vici.off("ike-updown")
assert.eq(vici.wait("ike-updown", match=lambda d, x=1: True, timeout=0.1), None)
`)
}
