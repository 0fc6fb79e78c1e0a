//go:build !race

package signedurl

const raceEnabled = false
