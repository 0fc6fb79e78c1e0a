package config

// ValidID reports whether s is a well-formed id of a resource: 1 to 128
// letters, digits, '_' and '-', starting with a letter or digit (the rule
// validation applies to every id).
func ValidID(s string) bool { return s != "" && len(s) <= 128 && idPattern.MatchString(s) }
