//go:build !race

package managed

const raceEnabled = false
