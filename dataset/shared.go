package dataset

import (
	"os"
	"path/filepath"
)

// sharedDataRel is where the development copy of the data sits relative to
// a directory beside the checkout: /work/main's sibling /work/shared/data.
var sharedDataRel = filepath.Join("shared", "data", "cal_housing.data")

// SharedDataPath finds the development copy of cal_housing.data: the path in
// the environment variable HOUSING_DATA if that is set, otherwise the first
// shared/data/cal_housing.data found in the working directory or one of its
// parents (so ../shared/data beside the checkout is found from the
// repository root and from package directories below it). The bool reports
// whether a file was found; a HOUSING_DATA naming a missing file counts as
// not found.
func SharedDataPath() (string, bool) {
	if p := os.Getenv("HOUSING_DATA"); p != "" {
		return p, isFile(p)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for dir := wd; ; {
		if p := filepath.Join(dir, sharedDataRel); isFile(p) {
			return p, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
