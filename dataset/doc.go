// Package dataset reads the California housing data (Pace & Barry, StatLib)
// and turns it into scikit-learn's eight features and target, exactly as
// sklearn.datasets.fetch_california_housing does; it splits it the way
// scikit-learn's train_test_split and KFold do for the same random_state,
// and writes and reads it as CSV and as a compact checksummed binary file.
//
// Inputs: the raw StatLib file cal_housing.data (nine numeric columns, no
// header), the cal_housing.tgz archive holding it, a CSV with a header (the
// eight feature names plus MedHouseVal, or the nine raw names), or this
// package's binary format. Read sniffs which one it has; Load also fetches a
// local path, an http(s):// URL (downloaded once, checksummed, cached) or an
// s3:// object.
package dataset
