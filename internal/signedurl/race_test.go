//go:build race

package signedurl

const raceEnabled = true
