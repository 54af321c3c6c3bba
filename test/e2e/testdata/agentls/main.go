// Command agentls lists the keys of the SSH agent at $SSH_AUTH_SOCK, one
// "base64-blob comment" line each, as ssh-add -L does: the RUN
// --mount=type=ssh tests run it inside the build, where busybox has no ssh.
package main

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "agentls:", err)
		os.Exit(1)
	}
}

func run() error {
	c, err := net.Dial("unix", os.Getenv("SSH_AUTH_SOCK"))
	if err != nil {
		return err
	}
	defer c.Close()
	// SSH_AGENTC_REQUEST_IDENTITIES (11)
	if _, err := c.Write([]byte{0, 0, 0, 1, 11}); err != nil {
		return err
	}
	var n uint32
	if err := binary.Read(c, binary.BigEndian, &n); err != nil {
		return err
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(c, msg); err != nil {
		return err
	}
	if len(msg) < 5 || msg[0] != 12 { // SSH_AGENT_IDENTITIES_ANSWER
		return fmt.Errorf("unexpected agent answer %v", msg)
	}
	count := binary.BigEndian.Uint32(msg[1:5])
	rest := msg[5:]
	str := func() ([]byte, error) {
		if len(rest) < 4 {
			return nil, fmt.Errorf("short answer")
		}
		l := binary.BigEndian.Uint32(rest)
		if uint32(len(rest)-4) < l {
			return nil, fmt.Errorf("short answer")
		}
		s := rest[4 : 4+l]
		rest = rest[4+l:]
		return s, nil
	}
	for i := uint32(0); i < count; i++ {
		blob, err := str()
		if err != nil {
			return err
		}
		comment, err := str()
		if err != nil {
			return err
		}
		fmt.Printf("%s %s\n", base64.StdEncoding.EncodeToString(blob), comment)
	}
	return nil
}
