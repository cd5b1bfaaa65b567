package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
)

// FeatureNames are scikit-learn's names of the eight features, in its order.
var FeatureNames = [...]string{"MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"}

// RawNames are the nine columns of the StatLib file, in its order.
var RawNames = [...]string{"longitude", "latitude", "housingMedianAge", "totalRooms", "totalBedrooms", "population", "households", "medianIncome", "medianHouseValue"}

// TargetName is scikit-learn's name of the target (median house value in
// units of 100,000 US dollars).
const TargetName = "MedHouseVal"

// NumFeatures is the number of features per row.
const NumFeatures = 8

// Checksums and location of the public copies of the data.
const (
	// RawSHA256 is the SHA-256 of the StatLib file cal_housing.data.
	RawSHA256 = "d3d8a1a722ae78f91134862727d27a70b1415e7d512a89140406248687f4b902"
	// ArchiveURL is where scikit-learn's fetch_california_housing downloads cal_housing.tgz.
	ArchiveURL = "https://ndownloader.figshare.com/files/5976036"
	// ArchiveOriginURL is the archive's original host.
	ArchiveOriginURL = "https://www.dcc.fc.up.pt/~ltorgo/Regression/cal_housing.tgz"
	// ArchiveSHA256 is the SHA-256 of cal_housing.tgz.
	ArchiveSHA256 = "aaa5c9a6afe2225cc2aed2723682ae403280c4a3695a2ddda4ffb5d8215ea681"
	// ArchiveMember is the data file's name inside cal_housing.tgz.
	ArchiveMember = "CaliforniaHousing/cal_housing.data"
)

// Dataset is the California housing data as scikit-learn presents it.
type Dataset struct {
	// X holds the features row-major: row i is X[i*NumFeatures : (i+1)*NumFeatures],
	// in the order of FeatureNames.
	X []float64
	// Y holds the target, one value per row.
	Y []float64
	// Source names where the data came from (a path or URL); informational.
	Source string
}

// Rows returns the number of rows.
func (d *Dataset) Rows() int { return len(d.Y) }

// Row returns the features of row i. The slice aliases d.X: writing to it
// changes the dataset. It panics if i is out of range.
func (d *Dataset) Row(i int) []float64 {
	return d.X[i*NumFeatures : (i+1)*NumFeatures : (i+1)*NumFeatures]
}

// Subset returns a new dataset holding copies of the rows idx, in that
// order (an index may repeat). It panics if an index is out of range.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := &Dataset{
		X:      make([]float64, 0, len(idx)*NumFeatures),
		Y:      make([]float64, len(idx)),
		Source: d.Source,
	}
	for k, i := range idx {
		s.X = append(s.X, d.Row(i)...)
		s.Y[k] = d.Y[i]
	}
	return s
}

// Digest returns the SHA-256, in hex, of the values: for each row its eight
// features then its target, each as a little-endian IEEE-754 float64. It
// depends on the values and their order only, not on the source or format,
// and equals hashlib.sha256(np.column_stack([X, y]).astype("<f8").tobytes()).
func (d *Dataset) Digest() string {
	h := sha256.New()
	buf := make([]byte, 0, 8*(NumFeatures+1)*256)
	for i := range d.Rows() {
		for _, v := range d.Row(i) {
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		}
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(d.Y[i]))
		if len(buf) == cap(buf) {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// validate checks the shape and that every value is finite.
func (d *Dataset) validate(name string) error {
	if len(d.X) != len(d.Y)*NumFeatures {
		return &Error{File: name, Msg: fmt.Sprintf("%d feature values for %d rows, want %d", len(d.X), len(d.Y), len(d.Y)*NumFeatures)}
	}
	for i := range d.Rows() {
		for j, v := range d.Row(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return &Error{File: name, Msg: fmt.Sprintf("row %d feature %s is %v", i, FeatureNames[j], v)}
			}
		}
		if v := d.Y[i]; math.IsNaN(v) || math.IsInf(v, 0) {
			return &Error{File: name, Msg: fmt.Sprintf("row %d target is %v", i, v)}
		}
	}
	return nil
}
