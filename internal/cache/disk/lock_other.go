//go:build !unix

package disk

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir opens dir/LOCK; there is no advisory lock on this platform.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	return f, nil
}
