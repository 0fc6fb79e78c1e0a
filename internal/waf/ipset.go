package waf

import (
	"net/netip"
	"strings"
)

// ipTrie is a binary prefix trie over addresses: a lookup walks at most 32
// (IPv4) or 128 (IPv6) nodes whatever the number of prefixes, so an IP set
// of 10,000 entries costs what one of ten does. IPv4 and IPv4-mapped IPv6
// addresses share the IPv4 trie. It is immutable once built.
type ipTrie struct {
	v4, v6 []trieNode // node 0 is the root
}

type trieNode struct {
	child [2]int32 // 0: none (the root is never a child)
	term  bool     // a prefix ends here
}

func newIPTrie() *ipTrie {
	return &ipTrie{v4: make([]trieNode, 1), v6: make([]trieNode, 1)}
}

// parsePrefix parses an IP set address: a CIDR, or a bare address (a /32 or
// /128).
func parsePrefix(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func (t *ipTrie) insert(p netip.Prefix) {
	nodes := &t.v6
	if p.Addr().Is4() {
		nodes = &t.v4
	}
	b := p.Addr().AsSlice()
	n := int32(0)
	for i := range p.Bits() {
		if (*nodes)[n].term {
			return // a shorter prefix covers it
		}
		bit := b[i/8] >> (7 - i%8) & 1
		next := (*nodes)[n].child[bit]
		if next == 0 {
			*nodes = append(*nodes, trieNode{})
			next = int32(len(*nodes) - 1)
			(*nodes)[n].child[bit] = next
		}
		n = next
	}
	(*nodes)[n].term = true
	(*nodes)[n].child = [2]int32{} // longer prefixes under it are redundant
}

// contains reports whether a falls in any prefix of the trie.
func (t *ipTrie) contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	nodes := t.v6
	if a.Is4() {
		nodes = t.v4
	}
	var buf [16]byte
	var b []byte
	if a.Is4() {
		a4 := a.As4()
		b = append(buf[:0], a4[:]...)
	} else {
		a16 := a.As16()
		b = append(buf[:0], a16[:]...)
	}
	n := int32(0)
	for i := 0; ; i++ {
		if nodes[n].term {
			return true
		}
		if i == len(b)*8 {
			return false
		}
		n = nodes[n].child[b[i/8]>>(7-i%8)&1]
		if n == 0 {
			return false
		}
	}
}
