package signedurl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/strata-cdn/strata/pkg/cfsign"
)

// parsePolicy parses a custom policy document strictly: one statement (in an
// array, or as a bare object as in some AWS examples), keys spelled exactly
// as CloudFront spells them, no unknown or repeated key, DateLessThan
// required, epoch times as non-negative integers.
func parsePolicy(doc []byte) (*policy, error) {
	top, err := object(doc, "Statement")
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	stRaw, ok := top["Statement"]
	if !ok {
		return nil, errors.New("policy: no Statement")
	}
	stRaw = bytes.TrimSpace(stRaw)
	if len(stRaw) > 0 && stRaw[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(stRaw, &list); err != nil {
			return nil, fmt.Errorf("policy: Statement: %v", err)
		}
		if len(list) != 1 {
			return nil, fmt.Errorf("policy: Statement has %d statements, CloudFront allows exactly one", len(list))
		}
		stRaw = list[0]
	}
	st, err := object(stRaw, "Resource", "Condition")
	if err != nil {
		return nil, fmt.Errorf("policy: Statement: %w", err)
	}
	p := &policy{}
	if raw, ok := st["Resource"]; ok {
		if p.resource, err = jsonString(raw); err != nil {
			return nil, fmt.Errorf("policy: Resource: %w", err)
		}
		p.hasResource = true
	}
	condRaw, ok := st["Condition"]
	if !ok {
		return nil, errors.New("policy: no Condition (DateLessThan is required)")
	}
	cond, err := object(condRaw, "DateLessThan", "DateGreaterThan", "IpAddress")
	if err != nil {
		return nil, fmt.Errorf("policy: Condition: %w", err)
	}
	raw, ok := cond["DateLessThan"]
	if !ok {
		return nil, errors.New("policy: no Condition.DateLessThan")
	}
	if p.lessThan, err = epochTime(raw); err != nil {
		return nil, fmt.Errorf("policy: DateLessThan: %w", err)
	}
	if raw, ok := cond["DateGreaterThan"]; ok {
		if p.greaterThan, err = epochTime(raw); err != nil {
			return nil, fmt.Errorf("policy: DateGreaterThan: %w", err)
		}
		p.hasGreaterThan = true
	}
	if raw, ok := cond["IpAddress"]; ok {
		ipObj, err := object(raw, "AWS:SourceIp")
		if err != nil {
			return nil, fmt.Errorf("policy: IpAddress: %w", err)
		}
		ipRaw, ok := ipObj["AWS:SourceIp"]
		if !ok {
			return nil, errors.New("policy: IpAddress without AWS:SourceIp")
		}
		s, err := jsonString(ipRaw)
		if err != nil {
			return nil, fmt.Errorf("policy: AWS:SourceIp: %w", err)
		}
		if p.sourceIP, err = cfsign.ParseSourceIP(s); err != nil {
			return nil, fmt.Errorf("policy: AWS:SourceIp: %v", err)
		}
		p.hasSourceIP = true
	}
	return p, nil
}

// object decodes a JSON object whose keys must be among allowed, each at
// most once, and returns its raw values.
func object(data []byte, allowed ...string) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	m := make(map[string]json.RawMessage, len(allowed))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("not JSON: a key is not a string")
		}
		known := false
		for _, a := range allowed {
			if key == a {
				known = true
				break
			}
		}
		if !known {
			return nil, fmt.Errorf("unknown field %.64q", key)
		}
		if _, dup := m[key]; dup {
			return nil, fmt.Errorf("field %q appears twice", key)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
		m[key] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("text after the JSON object")
	}
	return m, nil
}

// jsonString decodes a JSON string (not null, not another type).
func jsonString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return "", errors.New("not a string")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// epochTime decodes {"AWS:EpochTime": <non-negative integer>}.
func epochTime(raw json.RawMessage) (int64, error) {
	obj, err := object(raw, "AWS:EpochTime")
	if err != nil {
		return 0, err
	}
	v, ok := obj["AWS:EpochTime"]
	if !ok {
		return 0, errors.New("no AWS:EpochTime")
	}
	s := string(bytes.TrimSpace(v))
	if s == "" || len(s) > 18 {
		return 0, errors.New("AWS:EpochTime is not an epoch time")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("AWS:EpochTime is not a non-negative integer")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errors.New("AWS:EpochTime is not an epoch time")
	}
	return n, nil
}
