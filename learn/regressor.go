package learn

// Regressor predicts one value per row of a row-major feature matrix.
type Regressor interface {
	// Predict writes one prediction per row of X (row-major, NumFeatures
	// columns) into dst, growing it if it is too short, and returns it.
	Predict(dst, X []float64) []float64
	// NumFeatures is the number of columns Predict expects.
	NumFeatures() int
}
