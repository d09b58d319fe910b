package recording

import (
	"bytes"
	"testing"

	"github.com/vicish/vicish/vici"
)

// TestMessageRoundTrip writes a message with sections, lists, text and
// binary values and reads it back the same, in order.
func TestMessageRoundTrip(t *testing.T) {
	inner := vici.NewMessage().Set("z", "last").Set("a", "first")
	m := vici.NewMessage().
		Set("text", "café <&>").
		SetBytes("der", []byte{0x30, 0x82, 0xff, 0x00}).
		SetList("list", "x", "y").
		SetBytesList("mixed", [][]byte{[]byte("ok"), {0xfe}}).
		SetSection("sec", inner).
		SetSection("empty", vici.NewMessage()).
		Set("$base64", "a key that looks like the marker")
	var b bytes.Buffer
	encodeMessage(&b, m, func(s string) string { return s })
	got, err := decodeMessage(b.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	want, _ := m.MarshalBinary()
	if have, _ := got.MarshalBinary(); !bytes.Equal(have, want) {
		t.Errorf("round trip of\n%s\ngives a different message: %v", b.String(), got.Keys())
	}
	var r bytes.Buffer
	encodeMessage(&r, m, func(s string) string {
		if s == "first" {
			return "<redacted>"
		}
		return s
	})
	if !bytes.Contains(r.Bytes(), []byte(`"a":"<redacted>"`)) {
		t.Errorf("redaction not applied: %s", r.String())
	}
}
