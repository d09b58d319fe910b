package vicitest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/vicish/vicish/vici"
)

// The pieces below make a Daemon hostile, for tests that run a client
// against a peer that answers "version" like charon and then misbehaves:
// a listing that never ends, a flood of big events, a packet of a type
// that cannot be an answer where the answer belongs.

// NoReply is what a Handler returns when it has answered by itself, or
// never will: Serve sends nothing for the command.
var NoReply = new(vici.Message)

// Version answers "version" as charon 5.9.8 on Linux does.
func Version(*Conn, *vici.Message) *vici.Message {
	return vici.NewMessage().Set("daemon", "charon").Set("version", "5.9.8").
		Set("sysname", "Linux").Set("release", "6.1.0").Set("machine", "x86_64")
}

// Entry returns a message of at least size bytes on the wire, shaped like
// a list-sa entry of charon: one IKE_SA whose child-sas section holds as
// many CHILD_SAs, each with the keys charon lists, as make up the size.
func Entry(size int) *vici.Message {
	children := vici.NewMessage()
	ike := vici.NewMessage().Set("uniqueid", "1").Set("version", "2").Set("state", "ESTABLISHED").
		Set("local-host", "192.0.2.1").Set("local-port", "500").Set("local-id", "gw.example.org").
		Set("remote-host", "192.0.2.2").Set("remote-port", "500").Set("remote-id", "peer.example.org").
		Set("initiator", "yes").Set("initiator-spi", "a1b2c3d4e5f60718").Set("responder-spi", "0817f6e5d4c3b2a1").
		Set("encr-alg", "AES_CBC").Set("encr-keysize", "256").Set("integ-alg", "HMAC_SHA2_256_128").
		Set("prf-alg", "PRF_HMAC_SHA2_256").Set("dh-group", "CURVE_25519").Set("established", "42").
		Set("rekey-time", "13000").SetSection("child-sas", children)
	m := vici.NewMessage().SetSection("gw", ike)
	child := func(i int) *vici.Message {
		return vici.NewMessage().Set("name", "net").Set("uniqueid", strconv.Itoa(i)).
			Set("reqid", strconv.Itoa(i)).Set("state", "INSTALLED").Set("mode", "TUNNEL").Set("protocol", "ESP").
			Set("spi-in", fmt.Sprintf("c%07x", i)).Set("spi-out", fmt.Sprintf("c%07x", i+1<<20)).
			Set("encr-alg", "AES_GCM_16").Set("encr-keysize", "256").
			Set("bytes-in", strconv.Itoa(i*1500)).Set("packets-in", strconv.Itoa(i)).
			Set("bytes-out", strconv.Itoa(i*1400)).Set("packets-out", strconv.Itoa(i)).
			Set("rekey-time", "3000").Set("life-time", "3400").Set("install-time", "200").
			SetList("local-ts", "10.1."+strconv.Itoa(i%256)+".0/24").SetList("remote-ts", "10.2."+strconv.Itoa(i%256)+".0/24")
	}
	// Size walks the whole message: add children in rounds, each of at
	// most as many as the bytes still missing make.
	for i, have := 1, m.Size(); have < size; have = m.Size() {
		per := (3 + len("net-") + 6 + child(i).Size()) * 11 / 10
		for n := max((size-have)/per, 1); n > 0; n-- {
			children.SetSection("net-"+strconv.Itoa(i), child(i))
			i++
		}
	}
	return m
}

// Endless returns a Handler that answers a streamed command with events
// named event, each m, until the client hangs up, and never replies: a
// listing that never ends.
func Endless(event string, m *vici.Message) Handler {
	frame := Frame(Packet{Type: Event, Name: event, Message: m})
	return func(c *Conn, _ *vici.Message) *vici.Message {
		for c.WriteRaw(frame) == nil {
		}
		return NoReply
	}
}

// Flood sends events named event, each m, one every interval (0: as fast
// as the client reads them), until the client hangs up; it returns why it
// stopped.
func (c *Conn) Flood(event string, m *vici.Message, every time.Duration) error {
	frame := Frame(Packet{Type: Event, Name: event, Message: m})
	for {
		if err := c.WriteRaw(frame); err != nil {
			return err
		}
		if every > 0 {
			time.Sleep(every)
		}
	}
}

// ServeAll serves d on every connection the server accepts, each in a
// goroutine of its own, until the test ends.
func (s *Server) ServeAll(d *Daemon) {
	done := make(chan struct{})
	s.t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case c := <-s.conns:
				go func() {
					defer c.Close()
					_ = d.Serve(c)
				}()
			case <-done:
				return
			}
		}
	}()
}
