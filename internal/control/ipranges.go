package control

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"
)

// The network's egress addresses in the shape of CloudFront's
// ip-ranges.json, so origin owners can allow exactly the PoPs: every PoP
// the control plane knows reports the source address it connects to origins
// from (its heartbeat's egress, else its URL's host). Public, like AWS's file.

type ipRanges struct {
	SyncToken    string       `json:"syncToken"`
	CreateDate   string       `json:"createDate"`
	Prefixes     []ipPrefix   `json:"prefixes"`
	IPv6Prefixes []ipv6Prefix `json:"ipv6_prefixes"`
}

type ipPrefix struct {
	IPPrefix           string `json:"ip_prefix"`
	Region             string `json:"region"`
	Service            string `json:"service"`
	NetworkBorderGroup string `json:"network_border_group"`
}

type ipv6Prefix struct {
	IPv6Prefix         string `json:"ipv6_prefix"`
	Region             string `json:"region"`
	Service            string `json:"service"`
	NetworkBorderGroup string `json:"network_border_group"`
}

func (s *Server) ipRanges(w http.ResponseWriter, r *http.Request) {
	now := s.now().UTC()
	out := ipRanges{SyncToken: fmt.Sprint(now.Unix()), CreateDate: now.Format("2006-01-02-15-04-05"),
		Prefixes: []ipPrefix{}, IPv6Prefixes: []ipv6Prefix{}}
	seen := map[string]bool{}
	for _, p := range s.PoPs() {
		addr := p.Egress
		if addr == "" {
			if i := strings.Index(p.URL, "://"); i >= 0 {
				if host, _, err := net.SplitHostPort(p.URL[i+3:]); err == nil {
					addr = host
				}
			}
		}
		ip := net.ParseIP(addr)
		if ip == nil || ip.IsUnspecified() || seen[ip.String()] {
			continue
		}
		seen[ip.String()] = true
		region := strings.ToUpper(p.Region)
		if region == "" {
			region = "GLOBAL"
		}
		if ip.To4() != nil {
			out.Prefixes = append(out.Prefixes, ipPrefix{IPPrefix: ip.String() + "/32", Region: region, Service: "CLOUDFRONT_ORIGIN_FACING", NetworkBorderGroup: region})
		} else {
			out.IPv6Prefixes = append(out.IPv6Prefixes, ipv6Prefix{IPv6Prefix: ip.String() + "/128", Region: region, Service: "CLOUDFRONT_ORIGIN_FACING", NetworkBorderGroup: region})
		}
	}
	sort.Slice(out.Prefixes, func(i, j int) bool { return out.Prefixes[i].IPPrefix < out.Prefixes[j].IPPrefix })
	sort.Slice(out.IPv6Prefixes, func(i, j int) bool { return out.IPv6Prefixes[i].IPv6Prefix < out.IPv6Prefixes[j].IPv6Prefix })
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age="+fmt.Sprint(int(time.Minute/time.Second)))
	json.NewEncoder(w).Encode(out)
}
