package vici

import (
	"bufio"
	"bytes"
	"strconv"
	"testing"
)

// ListSA builds a list-sa event message shaped like charon's: one IKE_SA
// with the usual keys and children CHILD_SAs.
func ListSA(children int) *Message {
	ike := NewMessage().
		Set("uniqueid", "4711").Set("version", "2").Set("state", "ESTABLISHED").
		Set("local-host", "192.0.2.1").Set("local-port", "500").Set("local-id", "gw-a.example.org").
		Set("remote-host", "192.0.2.2").Set("remote-port", "500").Set("remote-id", "gw-b.example.org").
		Set("initiator", "yes").Set("initiator-spi", "9b5bd1c5a9dd8c4e").Set("responder-spi", "3f0f2d3b16b8a4a1").
		Set("encr-alg", "AES_CBC").Set("encr-keysize", "256").Set("integ-alg", "HMAC_SHA2_256_128").
		Set("prf-alg", "PRF_HMAC_SHA2_256").Set("dh-group", "CURVE_25519").Set("established", "1234").
		Set("rekey-time", "12345").Set("reauth-time", "0").
		SetList("local-vips").SetList("remote-vips").
		SetList("tasks-queued").SetList("tasks-active").SetList("tasks-passive", "IKE_DPD")
	kids := NewMessage()
	for i := range children {
		id := strconv.Itoa(1000 + i)
		kids.SetSection("net-"+id, NewMessage().
			Set("name", "net").Set("uniqueid", id).Set("reqid", strconv.Itoa(i+1)).
			Set("state", "INSTALLED").Set("mode", "TUNNEL").Set("protocol", "ESP").
			Set("spi-in", "c1a2b3c4").Set("spi-out", "d5e6f708").
			Set("encr-alg", "AES_GCM_16").Set("encr-keysize", "256").
			Set("dh-group", "CURVE_25519").
			Set("bytes-in", "123456789").Set("packets-in", "98765").Set("use-in", "3").
			Set("bytes-out", "987654321").Set("packets-out", "56789").Set("use-out", "2").
			Set("rekey-time", "3000").Set("life-time", "3500").Set("install-time", "600").
			SetList("local-ts", "10.1."+strconv.Itoa(i%256)+".0/24").
			SetList("remote-ts", "10.2."+strconv.Itoa(i%256)+".0/24", "10.3."+strconv.Itoa(i%256)+".0/24"))
	}
	ike.SetSection("child-sas", kids)
	return NewMessage().SetSection("gw-"+strconv.Itoa(children), ike)
}

// BenchmarkReadDecode measures the reader's per-packet work: framing,
// packet split and message decode with the connection's reused decoder,
// into new memory for every packet (a message kept) or into the memory of
// the one before (a stream whose consumer releases every entry).
func BenchmarkReadDecode(b *testing.B) {
	for _, children := range []int{1, 500} {
		for _, recycled := range []bool{false, true} {
			name := "children=" + strconv.Itoa(children)
			if recycled {
				name += "/released"
			}
			b.Run(name, func(b *testing.B) {
				m := ListSA(children)
				pkt, err := encodePacket(pktEvent, "list-sa", m)
				if err != nil {
					b.Fatal(err)
				}
				const batch = 16
				stream := bytes.Repeat(pkt, batch)
				b.SetBytes(int64(len(pkt)))
				b.ReportAllocs()
				var dec decoder
				var spare *tree
				br := bufio.NewReaderSize(nil, 64*1024)
				r := bytes.NewReader(stream)
				for i := 0; b.Loop(); i++ {
					if i%batch == 0 {
						r.Reset(stream)
						br.Reset(r)
					}
					var into []byte
					if spare != nil {
						into = spare.seg
					}
					p, err := readPacket(br, into)
					if err != nil {
						b.Fatal(err)
					}
					msg, err := dec.decode(p.body, spare)
					if err != nil {
						b.Fatal(err)
					}
					if recycled {
						msg.t.seg, spare = p.seg, msg.t
					}
				}
			})
		}
	}
}
