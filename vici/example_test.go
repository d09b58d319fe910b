package vici_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/vicish/vicish/vici"
)

func ExampleMessage_MarshalBinary() {
	m := vici.NewMessage().
		Set("child", "net").
		SetSection("auth", vici.NewMessage().SetList("certs", "a.pem", "b.pem")).
		SetFlag("noblock", false) // off means omitted
	b, err := m.MarshalBinary()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", b)

	var back vici.Message
	if err := back.UnmarshalBinary(b); err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Keys(), back.Section("auth").List("certs"))
	// Output:
	// 03 05 63 68 69 6c 64 00 03 6e 65 74 01 04 61 75 74 68 04 05 63 65 72 74 73 05 00 05 61 2e 70 65 6d 05 00 05 62 2e 70 65 6d 06 02
	// [child auth] [a.pem b.pem]
}

func ExampleMessage_MarshalBinary_limits() {
	m := vici.NewMessage().SetSection("conns", vici.NewMessage().
		SetSection("gw", vici.NewMessage().SetBytes("data", make([]byte, 70000))))
	_, err := m.MarshalBinary()
	var pe *vici.ProtocolError
	if errors.As(err, &pe) {
		fmt.Println(pe.Path)
		fmt.Println(pe.Reason)
	}
	// Output:
	// conns.gw.data
	// value of 70000 bytes exceeds the 65535 byte limit
}

func ExampleClient_Call() {
	ctx := context.Background()
	c, err := vici.Dial(ctx, "") // unix:///var/run/charon.vici
	if err != nil {
		log.Fatal(err) // the message says what to check
	}
	defer c.Close()

	v, err := c.Call(ctx, "version", nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Get("daemon"), v.Get("version"))

	// A daemon-side limit on initiate, and a caller-side one.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req := vici.NewMessage().Set("ike", "gw").Set("child", "net").Set("timeout", "20000")
	_, err = c.Call(ctx, "initiate", req)
	var failed *vici.CommandError
	switch {
	case errors.As(err, &failed):
		fmt.Println("initiate failed:", failed.Errmsg)
	case errors.Is(err, vici.ErrClosed):
		fmt.Println("daemon went away:", err)
	case err != nil:
		fmt.Println(err)
	}
}

func ExampleClient_Stream() {
	ctx := context.Background()
	c, err := vici.Dial(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	req := vici.NewMessage().SetFlag("noblock", true)
	for sa, err := range c.Stream(ctx, "list-sas", "list-sa", req) {
		if err != nil {
			log.Fatal(err)
		}
		for _, name := range sa.Keys() {
			fmt.Println(name, sa.Section(name).Get("state"))
		}
	}
}

func ExampleClient_CallStream() {
	ctx := context.Background()
	c, err := vici.Dial(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	req := vici.NewMessage().Set("ike", "gw").Set("child", "net").Set("loglevel", "1")
	_, err = c.CallStream(ctx, "initiate", "control-log", req, func(m *vici.Message) error {
		fmt.Println(m.Get("msg"))
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
}

func ExampleClient_Subscribe() {
	ctx := context.Background()
	// Events on their own connection, so a slow consumer never delays
	// commands on another (see "Events and slow consumers").
	events, err := vici.DialOptions(ctx, "", vici.Options{Reconnect: true})
	if err != nil {
		log.Fatal(err)
	}
	defer events.Close()

	sub, err := events.Subscribe(ctx, "ike-updown", "child-updown")
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	for ev := range sub.Events() {
		if ev.Reconnected {
			fmt.Println("daemon restarted; resync state with list-sas")
			continue
		}
		fmt.Println(ev.Name, ev.Message.Keys())
	}
	if err := sub.Err(); err != nil {
		log.Fatal(err)
	}
}
