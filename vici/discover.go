package vici

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/vicish/vicish/internal/settings"
)

// Discover finds the daemon's VICI socket the way swanctl does, for a host
// that was not given one: $VICI_URI, else the strongswan.conf settings
// swanctl.socket, swanctl.plugins.vici.socket or charon.plugins.vici.socket
// (from $STRONGSWAN_CONF or /etc/strongswan.conf, with its includes and
// section references), else DefaultURI. getenv is usually os.Getenv.
//
// A strongswan.conf that is missing or cannot be read means the defaults.
// One that does not parse is an error, as it is for swanctl, which refuses
// to start; the URI returned with the error is DefaultURI.
func Discover(getenv func(string) string) (string, error) {
	if uri := getenv("VICI_URI"); uri != "" {
		return uri, nil
	}
	path := getenv("STRONGSWAN_CONF")
	if path == "" {
		path = "/etc/strongswan.conf"
	}
	s, err := settings.ParseFile(context.Background(), path)
	var unreadable *fs.PathError
	switch {
	case errors.As(err, &unreadable):
		return DefaultURI, nil
	case err != nil:
		return DefaultURI, fmt.Errorf("vici: finding the daemon's socket: %w", err)
	}
	for _, key := range []string{"swanctl.socket", "swanctl.plugins.vici.socket", "charon.plugins.vici.socket"} {
		if v, ok := s.Get(key); ok && v != "" {
			return v, nil
		}
	}
	return DefaultURI, nil
}
