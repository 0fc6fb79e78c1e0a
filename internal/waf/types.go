package waf

// The types below are AWS WAFv2's web ACL model in its JSON shape (the
// field names of the WAFv2 API and of `aws wafv2 get-web-acl`), reduced to
// what Strata evaluates plus the fields an exported web ACL carries that have
// no effect here (Id, ARN, Capacity, VisibilityConfig, …). Decode refuses
// every other field, naming its JSON path.

// WebACL is a web ACL (AWS WAFv2 WebACL).
type WebACL struct {
	Name                 string                        `json:"Name"`
	Id                   string                        `json:"Id,omitempty"`
	ARN                  string                        `json:"ARN,omitempty"`
	Description          string                        `json:"Description,omitempty"`
	Scope                string                        `json:"Scope,omitempty"` // CLOUDFRONT | REGIONAL: informative
	DefaultAction        DefaultAction                 `json:"DefaultAction"`
	Rules                []Rule                        `json:"Rules,omitempty"`
	VisibilityConfig     *VisibilityConfig             `json:"VisibilityConfig,omitempty"`
	Capacity             int64                         `json:"Capacity,omitempty"`
	LabelNamespace       string                        `json:"LabelNamespace,omitempty"`
	CustomResponseBodies map[string]CustomResponseBody `json:"CustomResponseBodies,omitempty"`
	CaptchaConfig        *ImmunityConfig               `json:"CaptchaConfig,omitempty"`
	ChallengeConfig      *ImmunityConfig               `json:"ChallengeConfig,omitempty"`
	TokenDomains         []string                      `json:"TokenDomains,omitempty"`
	AssociationConfig    *AssociationConfig            `json:"AssociationConfig,omitempty"`

	ManagedByFirewallManager     bool `json:"ManagedByFirewallManager,omitempty"`
	RetrofittedByFirewallManager bool `json:"RetrofittedByFirewallManager,omitempty"`
	// Firewall Manager rule groups: accepted when empty (as exported).
	PreProcessFirewallManagerRuleGroups  []struct{} `json:"PreProcessFirewallManagerRuleGroups,omitempty"`
	PostProcessFirewallManagerRuleGroups []struct{} `json:"PostProcessFirewallManagerRuleGroups,omitempty"`
}

// DefaultAction is what a request that no rule terminated gets.
type DefaultAction struct {
	Allow *AllowAction `json:"Allow,omitempty"`
	Block *BlockAction `json:"Block,omitempty"`
}

// VisibilityConfig says whether requests are sampled (SampledRequestsEnabled)
// and names the metric (MetricName). CloudWatch has no meaning here.
type VisibilityConfig struct {
	SampledRequestsEnabled   bool   `json:"SampledRequestsEnabled"`
	CloudWatchMetricsEnabled bool   `json:"CloudWatchMetricsEnabled"`
	MetricName               string `json:"MetricName"`
}

// CustomResponseBody is a body that a Block action's custom response names.
type CustomResponseBody struct {
	ContentType string `json:"ContentType"` // TEXT_PLAIN | TEXT_HTML | APPLICATION_JSON
	Content     string `json:"Content"`
}

// ImmunityConfig is CaptchaConfig / ChallengeConfig; accepted because
// exports carry it, inert because Captcha and Challenge are refused.
type ImmunityConfig struct {
	ImmunityTimeProperty *struct {
		ImmunityTime int64 `json:"ImmunityTime"`
	} `json:"ImmunityTimeProperty,omitempty"`
}

// AssociationConfig sets how much of a request body is inspected.
type AssociationConfig struct {
	RequestBody map[string]struct {
		DefaultSizeInspectionLimit string `json:"DefaultSizeInspectionLimit"` // KB_16 | KB_32 | KB_48 | KB_64
	} `json:"RequestBody,omitempty"`
}

// Rule is one rule of a web ACL.
type Rule struct {
	Name             string            `json:"Name"`
	Priority         int64             `json:"Priority"`
	Statement        Statement         `json:"Statement"`
	Action           *RuleAction       `json:"Action,omitempty"`
	OverrideAction   *OverrideAction   `json:"OverrideAction,omitempty"`
	RuleLabels       []Label           `json:"RuleLabels,omitempty"`
	VisibilityConfig *VisibilityConfig `json:"VisibilityConfig,omitempty"`
	CaptchaConfig    *ImmunityConfig   `json:"CaptchaConfig,omitempty"`
	ChallengeConfig  *ImmunityConfig   `json:"ChallengeConfig,omitempty"`
}

// Label is a label name, e.g. "ns1:mylabel".
type Label struct {
	Name string `json:"Name"`
}

// RuleAction is a rule's action: exactly one of its fields.
type RuleAction struct {
	Allow     *AllowAction `json:"Allow,omitempty"`
	Block     *BlockAction `json:"Block,omitempty"`
	Count     *CountAction `json:"Count,omitempty"`
	Captcha   *struct{}    `json:"Captcha,omitempty"`   // refused by Compile
	Challenge *struct{}    `json:"Challenge,omitempty"` // refused by Compile
}

// OverrideAction is the action of a rule that holds a rule group.
type OverrideAction struct {
	None  *struct{}    `json:"None,omitempty"`
	Count *CountAction `json:"Count,omitempty"`
}

// AllowAction lets the request through, optionally adding headers.
type AllowAction struct {
	CustomRequestHandling *CustomRequestHandling `json:"CustomRequestHandling,omitempty"`
}

// CountAction counts and labels the request and goes on.
type CountAction struct {
	CustomRequestHandling *CustomRequestHandling `json:"CustomRequestHandling,omitempty"`
}

// BlockAction refuses the request: 403, or the custom response.
type BlockAction struct {
	CustomResponse *CustomResponse `json:"CustomResponse,omitempty"`
}

// CustomRequestHandling inserts headers (prefixed x-amzn-waf-) into the
// request that goes on.
type CustomRequestHandling struct {
	InsertHeaders []HeaderNV `json:"InsertHeaders"`
}

// CustomResponse is a Block action's response.
type CustomResponse struct {
	ResponseCode          int        `json:"ResponseCode"`
	CustomResponseBodyKey string     `json:"CustomResponseBodyKey,omitempty"`
	ResponseHeaders       []HeaderNV `json:"ResponseHeaders,omitempty"`
}

// HeaderNV is a header name and value.
type HeaderNV struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// Statement is a rule statement: exactly one of its fields is set.
type Statement struct {
	ByteMatchStatement                *ByteMatchStatement                `json:"ByteMatchStatement,omitempty"`
	SqliMatchStatement                *SqliMatchStatement                `json:"SqliMatchStatement,omitempty"`
	XssMatchStatement                 *XssMatchStatement                 `json:"XssMatchStatement,omitempty"`
	SizeConstraintStatement           *SizeConstraintStatement           `json:"SizeConstraintStatement,omitempty"`
	GeoMatchStatement                 *GeoMatchStatement                 `json:"GeoMatchStatement,omitempty"`
	IPSetReferenceStatement           *IPSetReferenceStatement           `json:"IPSetReferenceStatement,omitempty"`
	RegexMatchStatement               *RegexMatchStatement               `json:"RegexMatchStatement,omitempty"`
	RegexPatternSetReferenceStatement *RegexPatternSetReferenceStatement `json:"RegexPatternSetReferenceStatement,omitempty"`
	LabelMatchStatement               *LabelMatchStatement               `json:"LabelMatchStatement,omitempty"`
	AndStatement                      *AndStatement                      `json:"AndStatement,omitempty"`
	OrStatement                       *OrStatement                       `json:"OrStatement,omitempty"`
	NotStatement                      *NotStatement                      `json:"NotStatement,omitempty"`
	RateBasedStatement                *RateBasedStatement                `json:"RateBasedStatement,omitempty"`
	ManagedRuleGroupStatement         *ManagedRuleGroupStatement         `json:"ManagedRuleGroupStatement,omitempty"`
}

// TextTransformation is one transformation, applied in Priority order.
type TextTransformation struct {
	Priority int64  `json:"Priority"`
	Type     string `json:"Type"`
}

// FieldToMatch is the part of the request a statement inspects: exactly one
// of its fields is set.
type FieldToMatch struct {
	UriPath             *struct{}            `json:"UriPath,omitempty"`
	QueryString         *struct{}            `json:"QueryString,omitempty"`
	Method              *struct{}            `json:"Method,omitempty"`
	AllQueryArguments   *struct{}            `json:"AllQueryArguments,omitempty"`
	SingleHeader        *NamedField          `json:"SingleHeader,omitempty"`
	SingleQueryArgument *NamedField          `json:"SingleQueryArgument,omitempty"`
	Body                *BodyField           `json:"Body,omitempty"`
	Headers             *HeadersField        `json:"Headers,omitempty"`
	Cookies             *CookiesField        `json:"Cookies,omitempty"`
	JA3Fingerprint      *JA3FingerprintField `json:"JA3Fingerprint,omitempty"` // refused by Compile
}

// NamedField names a header or a query argument.
type NamedField struct {
	Name string `json:"Name"`
}

// BodyField inspects the first bytes of the body (the body limit).
type BodyField struct {
	OversizeHandling string `json:"OversizeHandling,omitempty"` // CONTINUE (default) | MATCH | NO_MATCH
}

// HeadersField inspects some or all headers.
type HeadersField struct {
	MatchPattern     HeaderMatchPattern `json:"MatchPattern"`
	MatchScope       string             `json:"MatchScope"` // ALL | KEY | VALUE
	OversizeHandling string             `json:"OversizeHandling"`
}

// HeaderMatchPattern selects headers: All, or included or excluded names.
type HeaderMatchPattern struct {
	All             *struct{} `json:"All,omitempty"`
	IncludedHeaders []string  `json:"IncludedHeaders,omitempty"`
	ExcludedHeaders []string  `json:"ExcludedHeaders,omitempty"`
}

// CookiesField inspects some or all cookies (names are case-sensitive).
type CookiesField struct {
	MatchPattern     CookieMatchPattern `json:"MatchPattern"`
	MatchScope       string             `json:"MatchScope"`
	OversizeHandling string             `json:"OversizeHandling"`
}

// CookieMatchPattern selects cookies: All, or included or excluded names.
type CookieMatchPattern struct {
	All             *struct{} `json:"All,omitempty"`
	IncludedCookies []string  `json:"IncludedCookies,omitempty"`
	ExcludedCookies []string  `json:"ExcludedCookies,omitempty"`
}

// JA3FingerprintField is accepted by the decoder so that the error names
// it; Strata does not compute TLS fingerprints.
type JA3FingerprintField struct {
	FallbackBehavior string `json:"FallbackBehavior"`
}

// ByteMatchStatement looks for SearchString in a field. SearchString is the
// text itself (as in the console's JSON editor and CloudFormation), not
// base64.
type ByteMatchStatement struct {
	SearchString         string               `json:"SearchString"`
	FieldToMatch         FieldToMatch         `json:"FieldToMatch"`
	TextTransformations  []TextTransformation `json:"TextTransformations"`
	PositionalConstraint string               `json:"PositionalConstraint"` // EXACTLY | STARTS_WITH | ENDS_WITH | CONTAINS | CONTAINS_WORD
}

// SqliMatchStatement looks for SQL injection (libinjection).
type SqliMatchStatement struct {
	FieldToMatch        FieldToMatch         `json:"FieldToMatch"`
	TextTransformations []TextTransformation `json:"TextTransformations"`
	SensitivityLevel    string               `json:"SensitivityLevel,omitempty"` // LOW (default) | HIGH
}

// XssMatchStatement looks for cross-site scripting (libinjection).
type XssMatchStatement struct {
	FieldToMatch        FieldToMatch         `json:"FieldToMatch"`
	TextTransformations []TextTransformation `json:"TextTransformations"`
}

// SizeConstraintStatement compares the size of a field with Size.
type SizeConstraintStatement struct {
	FieldToMatch        FieldToMatch         `json:"FieldToMatch"`
	ComparisonOperator  string               `json:"ComparisonOperator"` // EQ NE LE LT GE GT
	Size                int64                `json:"Size"`
	TextTransformations []TextTransformation `json:"TextTransformations"`
}

// ForwardedIPConfig takes the client address from a header.
type ForwardedIPConfig struct {
	HeaderName       string `json:"HeaderName"`
	FallbackBehavior string `json:"FallbackBehavior"` // MATCH | NO_MATCH
}

// IPSetForwardedIPConfig is ForwardedIPConfig for IP sets, with Position.
type IPSetForwardedIPConfig struct {
	HeaderName       string `json:"HeaderName"`
	FallbackBehavior string `json:"FallbackBehavior"`
	Position         string `json:"Position"` // FIRST | LAST | ANY
}

// GeoMatchStatement matches the viewer's country.
type GeoMatchStatement struct {
	CountryCodes      []string           `json:"CountryCodes"`
	ForwardedIPConfig *ForwardedIPConfig `json:"ForwardedIPConfig,omitempty"`
}

// IPSetReferenceStatement matches the client address against an IP set.
type IPSetReferenceStatement struct {
	ARN                    string                  `json:"ARN"`
	IPSetForwardedIPConfig *IPSetForwardedIPConfig `json:"IPSetForwardedIPConfig,omitempty"`
}

// RegexMatchStatement matches a regular expression (Go RE2 syntax, which
// covers the PCRE subset AWS accepts).
type RegexMatchStatement struct {
	RegexString         string               `json:"RegexString"`
	FieldToMatch        FieldToMatch         `json:"FieldToMatch"`
	TextTransformations []TextTransformation `json:"TextTransformations"`
}

// RegexPatternSetReferenceStatement matches any regex of a pattern set.
type RegexPatternSetReferenceStatement struct {
	ARN                 string               `json:"ARN"`
	FieldToMatch        FieldToMatch         `json:"FieldToMatch"`
	TextTransformations []TextTransformation `json:"TextTransformations"`
}

// LabelMatchStatement matches a label added by an earlier rule.
type LabelMatchStatement struct {
	Scope string `json:"Scope"` // LABEL | NAMESPACE
	Key   string `json:"Key"`
}

// AndStatement matches when all of its statements do.
type AndStatement struct {
	Statements []Statement `json:"Statements"`
}

// OrStatement matches when any of its statements does.
type OrStatement struct {
	Statements []Statement `json:"Statements"`
}

// NotStatement matches when its statement does not.
type NotStatement struct {
	Statement Statement `json:"Statement"`
}

// RateBasedStatement matches requests from keys that sent more than Limit
// requests within EvaluationWindowSec.
type RateBasedStatement struct {
	Limit               int64              `json:"Limit"`
	EvaluationWindowSec int64              `json:"EvaluationWindowSec,omitempty"` // 60 | 120 | 300 (default) | 600
	AggregateKeyType    string             `json:"AggregateKeyType"`              // IP | FORWARDED_IP | CUSTOM_KEYS | CONSTANT
	ScopeDownStatement  *Statement         `json:"ScopeDownStatement,omitempty"`
	ForwardedIPConfig   *ForwardedIPConfig `json:"ForwardedIPConfig,omitempty"`
	CustomKeys          []RateBasedKey     `json:"CustomKeys,omitempty"`
}

// RateBasedKey is one component of a CUSTOM_KEYS aggregate key: exactly
// one field is set.
type RateBasedKey struct {
	Cookie         *NamedTransformedKey `json:"Cookie,omitempty"`
	ForwardedIP    *struct{}            `json:"ForwardedIP,omitempty"`
	HTTPMethod     *struct{}            `json:"HTTPMethod,omitempty"`
	Header         *NamedTransformedKey `json:"Header,omitempty"`
	IP             *struct{}            `json:"IP,omitempty"`
	LabelNamespace *struct {
		Namespace string `json:"Namespace"`
	} `json:"LabelNamespace,omitempty"`
	QueryArgument *NamedTransformedKey `json:"QueryArgument,omitempty"`
	QueryString   *TransformedKey      `json:"QueryString,omitempty"`
	UriPath       *TransformedKey      `json:"UriPath,omitempty"`
}

// NamedTransformedKey is a named key component with transformations.
type NamedTransformedKey struct {
	Name                string               `json:"Name"`
	TextTransformations []TextTransformation `json:"TextTransformations"`
}

// TransformedKey is an unnamed key component with transformations.
type TransformedKey struct {
	TextTransformations []TextTransformation `json:"TextTransformations"`
}

// ManagedRuleGroupStatement runs a managed rule group (the factory in
// Options builds it).
type ManagedRuleGroupStatement struct {
	VendorName          string               `json:"VendorName"`
	Name                string               `json:"Name"`
	Version             string               `json:"Version,omitempty"`
	ExcludedRules       []ExcludedRule       `json:"ExcludedRules,omitempty"`
	RuleActionOverrides []RuleActionOverride `json:"RuleActionOverrides,omitempty"`
	ScopeDownStatement  *Statement           `json:"ScopeDownStatement,omitempty"`
	// ManagedRuleGroupConfigs configure AWS's bot-control and
	// account-takeover groups; accepted only when empty.
	ManagedRuleGroupConfigs []struct{} `json:"ManagedRuleGroupConfigs,omitempty"`
}

// ExcludedRule is a rule of a group whose action is set to Count.
type ExcludedRule struct {
	Name string `json:"Name"`
}

// RuleActionOverride replaces the action of one rule of a group.
type RuleActionOverride struct {
	Name        string     `json:"Name"`
	ActionToUse RuleAction `json:"ActionToUse"`
}

// IPSet is an AWS WAFv2 IP set.
type IPSet struct {
	Name             string   `json:"Name"`
	Id               string   `json:"Id,omitempty"`
	ARN              string   `json:"ARN,omitempty"`
	Description      string   `json:"Description,omitempty"`
	Scope            string   `json:"Scope,omitempty"`
	IPAddressVersion string   `json:"IPAddressVersion"` // IPV4 | IPV6
	Addresses        []string `json:"Addresses"`
}

// RegexPatternSet is an AWS WAFv2 regex pattern set.
type RegexPatternSet struct {
	Name                  string  `json:"Name"`
	Id                    string  `json:"Id,omitempty"`
	ARN                   string  `json:"ARN,omitempty"`
	Description           string  `json:"Description,omitempty"`
	Scope                 string  `json:"Scope,omitempty"`
	RegularExpressionList []Regex `json:"RegularExpressionList"`
}

// Regex is one expression of a pattern set.
type Regex struct {
	RegexString string `json:"RegexString"`
}
