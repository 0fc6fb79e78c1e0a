package topology

import "strings"

// awsRegions maps the AWS Region names that CloudFront's originShield.region
// takes to the regional edge caches of the catalog.
var awsRegions = map[string]string{
	"us-east-1": "IAD-R", "us-east-2": "CMH-R", "us-west-1": "SFO-R", "us-west-2": "PDX-R",
	"ap-south-1": "BOM-R", "ap-northeast-2": "ICN-R", "ap-southeast-1": "SIN-R",
	"ap-southeast-2": "SYD-R", "ap-northeast-1": "NRT-R", "ap-east-1": "HKG-R",
	"eu-central-1": "FRA-R", "eu-west-1": "DUB-R", "eu-west-2": "LHR-R", "eu-north-1": "ARN-R",
	"sa-east-1": "GRU-R", "me-south-1": "BAH-R", "af-south-1": "CPT-R",
}

// ShieldCache resolves an origin shield region, given as a regional cache id
// (FRA-R, any case) or as CloudFront's AWS Region name (eu-central-1), to a
// regional cache id.
func ShieldCache(region string) (string, bool) {
	if id, ok := awsRegions[strings.ToLower(region)]; ok {
		return id, true
	}
	if rc, ok := RegionalCacheByID(region); ok {
		return rc.ID, true
	}
	return "", false
}
