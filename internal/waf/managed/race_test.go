//go:build race

package managed

const raceEnabled = true
