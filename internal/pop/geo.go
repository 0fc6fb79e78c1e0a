package pop

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/strata-cdn/strata/internal/config"
	"github.com/strata-cdn/strata/internal/geo"
)

// Stages 4 and 6: the geo lookup enriches the request with the viewer's
// location (it decides nothing); geo restriction allows or blocks by
// country, per distribution. The CloudFront-Viewer-* headers go to the
// origin only when the cache key or the origin request policy names them;
// viewers' own copies never do (strataOwned).

// geoLookup is stage 4.
// It enriches the exchange and decides nothing: it never fails.
func (p *PoP) geoLookup(ex *exchange) error {
	if p.opts.Geo == nil {
		return nil
	}
	if ip, err := netip.ParseAddr(ex.client); err == nil {
		ex.geo = p.opts.Geo.Lookup(ip)
	}
	return nil
}

// geoRestriction is stage 6.
func (p *PoP) geoRestriction(ex *exchange) error {
	g := ex.dist.cfg.Restrictions.GeoRestriction
	country := ex.geo.Country
	switch g.RestrictionType {
	case config.GeoWhitelist:
		if country == "" {
			return &Error{Status: http.StatusForbidden, Source: FromViewer, Reason: "geo-restricted: the viewer's country is unknown" + p.noGeoDB()}
		}
		if !slices.Contains(g.Locations, country) {
			return &Error{Status: http.StatusForbidden, Source: FromViewer, Reason: "geo-restricted: not served in " + country}
		}
	case config.GeoBlacklist:
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
// They describe the viewer of the edge: an edge computes them from its
// viewer's connection and its own geo lookup, and sends those the cache key
// and the origin request policy name to its parent (forwardHeader); a
// parent, on a request that came over the tier hop (the tier secret), takes
// them as they are and passes them on, through any number of tiers. Only
// the edge knows the viewer's port (CloudFront-Viewer-Address), and only its
// lookup saw the viewer. A viewer's own copies never count (strataOwned
// drops them; without the tier secret a request is a viewer's).
func (p *PoP) viewerHeaders(ex *exchange) http.Header {
	if ex.viewerHdr == nil {
		if ex.fromTier {
			h := http.Header{}
			for name, vv := range ex.r.Header {
				if strings.HasPrefix(name, viewerHeaderPrefix) {
					h[name] = vv
				}
			}
			ex.viewerHdr = h
		} else {
			ex.viewerHdr = geo.ViewerHeaders(ex.geo, ex.r.RemoteAddr)
		}
	}
	return ex.viewerHdr
}

const viewerHeaderPrefix = "Cloudfront-Viewer-"

// isViewerHeader: a CloudFront-Viewer-* name, "_" read as "-".
func isViewerHeader(name string) bool {
	return strings.HasPrefix(filterName(name), viewerHeaderPrefix)
}
