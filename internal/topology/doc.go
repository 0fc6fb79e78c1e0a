// Package topology is Strata's world catalog and the helpers that build a
// topology of PoPs from it.
//
// # The catalog
//
// catalog.json, embedded in the binary, lists real CDN edge cities (places
// where CloudFront, Cloudflare or Fastly have edge locations) and the
// regional edge caches that serve them. A [Location] is named by the IATA
// code of its city's airport (FRA, IAD, NRT, GRU, BOM, ...). Where one city
// has two airports that CDNs use as PoP names, both may appear (Tokyo: NRT
// and HND; Osaka: KIX and ITM).
//
// A [RegionalCache] is modelled on CloudFront's regional edge caches. Its id
// is the IATA code of its city followed by "-R", so it never collides with
// an edge location of the same city:
//
//	IAD-R  N. Virginia (us-east-1)      FRA-R  Frankfurt (eu-central-1)
//	CMH-R  Ohio (us-east-2)             DUB-R  Ireland (eu-west-1)
//	SFO-R  N. California (us-west-1)    LHR-R  London (eu-west-2)
//	PDX-R  Oregon (us-west-2)           ARN-R  Stockholm (eu-north-1)
//	GRU-R  São Paulo (sa-east-1)        BAH-R  Bahrain (me-south-1)
//	NRT-R  Tokyo (ap-northeast-1)       CPT-R  Cape Town (af-south-1)
//	ICN-R  Seoul (ap-northeast-2)       BOM-R  Mumbai (ap-south-1)
//	HKG-R  Hong Kong (ap-east-1)        SYD-R  Sydney (ap-southeast-2)
//	SIN-R  Singapore (ap-southeast-1)
//
// Thirteen are the regional edge caches CloudFront documents (IAD, CMH,
// SFO, PDX, BOM, ICN, SIN, SYD, NRT, FRA, DUB, LHR, GRU); ARN, HKG, BAH and
// CPT are additions at other AWS Regions, so that every edge has a regional
// cache in its own pricing region and on its own continent. Each edge names
// the regional cache of its geography: the nearest one in its own pricing
// region, except that in region me the African edges (South Africa, Kenya,
// Nigeria) use Cape Town and the Middle East and Egypt use Bahrain.
//
// # Pricing regions and price classes
//
// Every country of the catalog belongs to exactly one of CloudFront's eight
// pricing regions ([Regions]): na (United States, Mexico, Canada), eu
// (Europe, Israel, Türkiye), me (South Africa, Kenya, Nigeria, the Middle
// East), sa (South America), jp (Japan), au (Australia, New Zealand), ap
// (Hong Kong, Indonesia, Philippines, Singapore, South Korea, Taiwan,
// Thailand, Malaysia, Vietnam) and in (India). Each [Region] carries the price
// per GB of CloudFront's first 10 TB tier. [PriceClassRegions] and
// [InPriceClass] say which regions a price class (PriceClass_100,
// PriceClass_200, PriceClass_All) serves.
//
// # PoP ids and loopback addresses
//
// A PoP instance id is a location id followed by an instance number: FRA1,
// FRA2 are two edge PoPs in Frankfurt, FRA-R1 is the first instance of the
// Frankfurt regional cache. [ParsePoPID] splits one.
//
// [Demo] and [DemoN] build a world that runs on one machine, each PoP on its
// own loopback address, all on the same port:
//
//	regional caches  127.0.1.1, 127.0.1.2, ...            (127.0.1.<1+i>)
//	edges            127.0.2.1 ... 127.0.2.250, 127.0.3.1, ...
//	                 (edge i on 127.0.<2+i/250>.<1+i%250>)
//
// Linux routes all of 127.0.0.0/8 to the loopback interface, so these
// addresses need no set-up: a server can listen on 127.0.2.7 and a client
// can bind 127.0.2.7 as its source address. PoPs stay inside 127.0.0.0/16
// (127.0.0.1 is left to the control plane and the demo origin), so
// 127.1.0.0/16 and above remain free for the viewer sub-ranges that the test
// geo database maps to countries. A PoP's egress address (the source address
// of its requests to its parent or to the origin) is its own address, so a
// parent can tell its children apart by source. (macOS routes only
// 127.0.0.1 by default; there each address needs an alias on lo0.)
package topology
