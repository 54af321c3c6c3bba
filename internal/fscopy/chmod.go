package fscopy

import (
	"fmt"
	"strconv"
	"strings"
)

// Mode is a COPY/ADD --chmod value: an octal mode that replaces the
// permission bits, or a symbolic one (chmod(1)'s "u+x", "a=r,g+w", "go-w")
// that changes each copied entry's own mode.
type Mode struct {
	// Octal is the mode of an octal --chmod (permission bits plus setuid,
	// setgid and sticky); unused when Clauses is set.
	Octal uint32 `json:"octal,omitempty"`
	// Clauses are the parsed clauses of a symbolic --chmod, in order.
	Clauses []ModeClause `json:"clauses,omitempty"`
}

// ModeClause is one "who op perms" clause of a symbolic mode.
type ModeClause struct {
	Who   uint32 `json:"who"`  // the bits the clause may touch (u: 0o4700, g: 0o2070, o: 0o1007)
	Op    byte   `json:"op"`   // '+', '-' or '='
	Perm  uint32 `json:"perm"` // r, w, x, s, t as bits of all classes (masked by Who)
	CondX bool   `json:"condX,omitempty"`
	Copy  byte   `json:"copy,omitempty"` // 'u', 'g' or 'o': copy that class's bits
}

// ParseMode parses a --chmod value: octal ("755", "0644", "4755") or
// symbolic as chmod(1) writes it ("u+x", "a=r", "u=rwx,go=rx", "+x",
// "g=u"). A clause with no class letter applies to all of them (a),
// without umask, as BuildKit does.
func ParseMode(s string) (Mode, error) {
	if s == "" {
		return Mode{}, fmt.Errorf("parsing --chmod: empty mode")
	}
	if s[0] >= '0' && s[0] <= '9' {
		m, err := strconv.ParseUint(s, 8, 32)
		if err != nil || m > 0o7777 {
			return Mode{}, fmt.Errorf("parsing --chmod=%s: not an octal mode like 0755 nor a symbolic one like u+x", s)
		}
		return Mode{Octal: uint32(m)}, nil
	}
	var out Mode
	for _, clause := range strings.Split(s, ",") {
		cs, err := parseClause(clause)
		if err != nil {
			return Mode{}, fmt.Errorf("parsing --chmod=%s: %w", s, err)
		}
		out.Clauses = append(out.Clauses, cs...)
	}
	return out, nil
}

// classBits are the bits each class letter names, special bit included.
var classBits = map[byte]uint32{'u': 0o4700, 'g': 0o2070, 'o': 0o1007, 'a': 0o7777}

// parseClause parses one clause: [ugoa]* then one or more op+perms.
func parseClause(c string) ([]ModeClause, error) {
	i := 0
	var who uint32
	for ; i < len(c) && strings.IndexByte("ugoa", c[i]) >= 0; i++ {
		who |= classBits[c[i]]
	}
	if who == 0 {
		who = 0o7777
	}
	if i == len(c) {
		return nil, fmt.Errorf("clause %q has no +, - or =", c)
	}
	var out []ModeClause
	for i < len(c) {
		op := c[i]
		if op != '+' && op != '-' && op != '=' {
			return nil, fmt.Errorf("clause %q: want +, - or = at %q", c, c[i:])
		}
		i++
		mc := ModeClause{Who: who, Op: op}
		if i < len(c) && strings.IndexByte("ugo", c[i]) >= 0 {
			mc.Copy = c[i]
			i++
		} else {
			for ; i < len(c) && strings.IndexByte("+-=", c[i]) < 0; i++ {
				switch c[i] {
				case 'r':
					mc.Perm |= 0o444
				case 'w':
					mc.Perm |= 0o222
				case 'x':
					mc.Perm |= 0o111
				case 'X':
					mc.CondX = true
				case 's':
					mc.Perm |= 0o6000
				case 't':
					mc.Perm |= 0o1000
				default:
					return nil, fmt.Errorf("clause %q: unknown permission %q (want r, w, x, X, s, t, or one of u, g, o)", c, c[i])
				}
			}
		}
		out = append(out, mc)
	}
	return out, nil
}

// Apply returns the permission and special bits (0o7777) that the mode
// gives an entry whose own bits are cur; isDir tells X whether to apply.
func (m Mode) Apply(cur uint32, isDir bool) uint32 {
	if m.Clauses == nil {
		return m.Octal
	}
	cur &= 0o7777
	for _, c := range m.Clauses {
		perm := c.Perm
		if c.CondX && (isDir || cur&0o111 != 0) {
			perm |= 0o111
		}
		if c.Copy != 0 {
			perm = copyClass(cur, c.Copy)
		}
		perm &= c.Who
		switch c.Op {
		case '+':
			cur |= perm
		case '-':
			cur &^= perm
		case '=':
			// = clears the class's rwx bits and its own special bit
			// (setuid for u, setgid for g, sticky for o)
			cur = cur&^(c.Who&0o7777) | perm
		}
	}
	return cur
}

// copyClass returns the rwx bits of class (u, g or o) of cur, spread over
// all three classes.
func copyClass(cur uint32, class byte) uint32 {
	var rwx uint32
	switch class {
	case 'u':
		rwx = cur >> 6 & 7
	case 'g':
		rwx = cur >> 3 & 7
	default:
		rwx = cur & 7
	}
	return rwx<<6 | rwx<<3 | rwx
}
