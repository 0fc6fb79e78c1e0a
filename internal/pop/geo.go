package pop

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/strata-cdn/strata/internal/geo"
)

// Stages 4 and 6: the geo lookup enriches the request with the viewer's
// location (it decides nothing); geo restriction allows or blocks by
// country, per distribution. The CloudFront-Viewer-* headers go to the
// origin only when the cache key or the origin request policy names them;
// viewers' own copies never do (strataOwned).

// geoLookup is stage 4.
func (p *PoP) geoLookup(ex *exchange) {
	if p.opts.Geo == nil {
		return
	}
	if ip, err := netip.ParseAddr(ex.client); err == nil {
		ex.geo = p.opts.Geo.Lookup(ip)
	}
}

// geoRestriction is stage 6.
func (p *PoP) geoRestriction(ex *exchange) error {
	g := ex.dist.cfg.Restrictions.GeoRestriction
	country := ex.geo.Country
	switch g.RestrictionType {
	case "whitelist":
		if country == "" {
			return &Error{Status: http.StatusForbidden, Source: FromViewer, Reason: "geo-restricted: the viewer's country is unknown" + p.noGeoDB()}
		}
		if !slices.Contains(g.Locations, country) {
			return &Error{Status: http.StatusForbidden, Source: FromViewer, Reason: "geo-restricted: not served in " + country}
		}
	case "blacklist":
		if country != "" && slices.Contains(g.Locations, country) {
			return &Error{Status: http.StatusForbidden, Source: FromViewer, Reason: "geo-restricted: not served in " + country}
		}
	}
	return nil
}

func (p *PoP) noGeoDB() string {
	if p.opts.Geo == nil {
		return " (this PoP has no geo database: set pop.geoDatabase)"
	}
	return ""
}

// viewerHeaders are the CloudFront-Viewer-* values for ex, computed once.
func (p *PoP) viewerHeaders(ex *exchange) http.Header {
	if ex.viewerHdr == nil {
		addr := ex.r.RemoteAddr
		if ex.fromTier {
			addr = ex.client
		}
		ex.viewerHdr = geo.ViewerHeaders(ex.geo, addr)
	}
	return ex.viewerHdr
}

func isViewerHeader(name string) bool {
	return strings.HasPrefix(http.CanonicalHeaderKey(name), "Cloudfront-Viewer-")
}
