package http

import "time"

// NewServersLimited returns servers whose listeners hold at most conns
// connections and held bytes of request bodies at once, and give a
// client readBody to send a request's body and write to take an answer.
func NewServersLimited(conns int, held int64, readBody, write time.Duration) *Servers {
	ss := NewServers()
	ss.limits = limits{conns: conns, heldBodies: held, readBody: readBody, write: write}
	return ss
}
