package waf

// LogRecord is one AWS WAF log record (logging-fields), in AWS's JSON
// shape: the PoP writes one per request that a web ACL evaluated.
type LogRecord struct {
	Timestamp                   int64              `json:"timestamp"` // ms since the epoch
	FormatVersion               int                `json:"formatVersion"`
	WebACLID                    string             `json:"webaclId"`
	TerminatingRuleID           string             `json:"terminatingRuleId"`
	TerminatingRuleType         string             `json:"terminatingRuleType"`
	Action                      string             `json:"action"`
	TerminatingRuleMatchDetails []any              `json:"terminatingRuleMatchDetails"`
	HTTPSourceName              string             `json:"httpSourceName"`
	HTTPSourceID                string             `json:"httpSourceId"`
	RuleGroupList               []LogRuleGroup     `json:"ruleGroupList"`
	RateBasedRuleList           []LogRateBasedRule `json:"rateBasedRuleList"`
	NonTerminatingMatchingRules []LogRuleAction    `json:"nonTerminatingMatchingRules"`
	HTTPRequest                 LogHTTPRequest     `json:"httpRequest"`
	Labels                      []LogLabel         `json:"labels,omitempty"`
	ResponseCodeSent            int                `json:"responseCodeSent,omitempty"`
}

// LogRuleGroup is a managed rule group's part of a log record.
type LogRuleGroup struct {
	RuleGroupID                 string          `json:"ruleGroupId"`
	TerminatingRule             *LogRuleAction  `json:"terminatingRule"`
	NonTerminatingMatchingRules []LogRuleAction `json:"nonTerminatingMatchingRules"`
	ExcludedRules               any             `json:"excludedRules"`
}

// LogRuleAction is a rule id and its action.
type LogRuleAction struct {
	RuleID string `json:"ruleId"`
	Action string `json:"action"`
}

// LogRateBasedRule is a rate-based rule that limited the request.
type LogRateBasedRule struct {
	RateBasedRuleID string `json:"rateBasedRuleId"`
	LimitKey        string `json:"limitKey"`
	MaxRateAllowed  int64  `json:"maxRateAllowed"`
	LimitValue      string `json:"limitValue,omitempty"`
}

// LogHTTPRequest is the request part of a log record.
type LogHTTPRequest struct {
	ClientIP    string     `json:"clientIp"`
	Country     string     `json:"country"`
	Headers     []LogLabel `json:"headers"`
	URI         string     `json:"uri"`
	Args        string     `json:"args"`
	HTTPVersion string     `json:"httpVersion"`
	HTTPMethod  string     `json:"httpMethod"`
	RequestID   string     `json:"requestId"`
}

// LogLabel is a {"name": …} (labels) or {"name", "value"} (headers) pair.
type LogLabel struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// LogRecord builds the log record of r and its verdict. webACLID names the
// web ACL (its id or ARN), sourceID the distribution.
func (p *Program) LogRecord(r *Request, v *Verdict, webACLID, sourceID string) LogRecord {
	rec := LogRecord{
		Timestamp: p.now().UnixMilli(), FormatVersion: 1, WebACLID: webACLID,
		TerminatingRuleID: v.TerminatingRule, TerminatingRuleType: v.TerminatingRuleType, Action: string(v.Action),
		TerminatingRuleMatchDetails: []any{}, HTTPSourceName: "CF", HTTPSourceID: sourceID,
		RuleGroupList: []LogRuleGroup{}, RateBasedRuleList: []LogRateBasedRule{}, NonTerminatingMatchingRules: []LogRuleAction{},
		HTTPRequest: LogHTTPRequest{ClientIP: r.ClientIP.String(), Country: r.Country, URI: r.Path, Args: r.RawQuery,
			HTTPVersion: r.Proto, HTTPMethod: r.Method, RequestID: r.ID},
	}
	if rec.TerminatingRuleType == "" {
		rec.TerminatingRuleType = TypeRegular
	}
	for _, kv := range headerPairs(r) {
		rec.HTTPRequest.Headers = append(rec.HTTPRequest.Headers, LogLabel{Name: kv[0], Value: kv[1]})
	}
	for _, l := range v.Labels {
		rec.Labels = append(rec.Labels, LogLabel{Name: l})
	}
	if v.Action == Block {
		rec.ResponseCodeSent = 403
		if v.Response != nil {
			rec.ResponseCodeSent = v.Response.Status
		}
	}
	groups := map[string]int{}
	for _, m := range v.Matches {
		terminating := m.Rule == v.TerminatingRule && m.RuleWithinGroup == v.RuleWithinGroup && m.Action == v.Action
		switch m.Type {
		case TypeManaged:
			i, ok := groups[m.Rule]
			if !ok {
				i = len(rec.RuleGroupList)
				groups[m.Rule] = i
				rec.RuleGroupList = append(rec.RuleGroupList, LogRuleGroup{RuleGroupID: m.Rule, NonTerminatingMatchingRules: []LogRuleAction{}})
			}
			ra := LogRuleAction{RuleID: m.RuleWithinGroup, Action: string(m.Action)}
			if terminating {
				rec.RuleGroupList[i].TerminatingRule = &ra
			} else {
				rec.RuleGroupList[i].NonTerminatingMatchingRules = append(rec.RuleGroupList[i].NonTerminatingMatchingRules, ra)
			}
		case TypeRateBased:
			rr := LogRateBasedRule{RateBasedRuleID: m.Rule, LimitKey: p.rateKeyType(m.Rule), MaxRateAllowed: p.rateLimit(m.Rule)}
			if rr.LimitKey == "IP" || rr.LimitKey == "FORWARDED_IP" {
				rr.LimitValue = m.RateKey
			}
			rec.RateBasedRuleList = append(rec.RateBasedRuleList, rr)
			if !terminating {
				rec.NonTerminatingMatchingRules = append(rec.NonTerminatingMatchingRules, LogRuleAction{RuleID: m.Rule, Action: string(m.Action)})
			}
		default:
			if !terminating {
				rec.NonTerminatingMatchingRules = append(rec.NonTerminatingMatchingRules, LogRuleAction{RuleID: m.Rule, Action: string(m.Action)})
			}
		}
	}
	return rec
}

func (p *Program) rateMatcher(rule string) *rateMatcher {
	for _, r := range p.rules {
		if r.name == rule {
			if m, ok := r.m.(*rateMatcher); ok {
				return m
			}
		}
	}
	return nil
}

func (p *Program) rateKeyType(rule string) string {
	if m := p.rateMatcher(rule); m != nil {
		return m.keyType
	}
	return ""
}

func (p *Program) rateLimit(rule string) int64 {
	if m := p.rateMatcher(rule); m != nil {
		return m.limit
	}
	return 0
}
