//go:build !unix

package startest

import "net"

// socketPair returns the two ends of an in-memory connection.
func socketPair() (client, server net.Conn, err error) {
	client, server = net.Pipe()
	return client, server, nil
}
