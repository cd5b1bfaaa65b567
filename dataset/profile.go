package dataset

import "math"

// ColumnProfile summarises one column.
type ColumnProfile struct {
	Name  string  `json:"name"`
	Count int     `json:"count"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
	// Std is the sample standard deviation (n-1 in the denominator, as
	// pandas' describe reports it); 0 for fewer than two values.
	Std float64 `json:"std"`
}

// Profile summarises a dataset: its row count, digest and every column's
// statistics, features first (in FeatureNames order) and the target last.
type Profile struct {
	Rows    int             `json:"rows"`
	Digest  string          `json:"digest"`
	Columns []ColumnProfile `json:"columns"`
}

// Profile computes the dataset's Profile. For an empty dataset the
// statistics of each column are zero.
func (d *Dataset) Profile() Profile {
	p := Profile{Rows: d.Rows(), Digest: d.Digest()}
	for j, name := range columnNames() {
		col := func(i int) float64 {
			if j == NumFeatures {
				return d.Y[i]
			}
			return d.X[i*NumFeatures+j]
		}
		p.Columns = append(p.Columns, profileColumn(name, d.Rows(), col))
	}
	return p
}

// profileColumn uses Welford's update, which stays accurate where the sum
// of squares would cancel.
func profileColumn(name string, n int, at func(int) float64) ColumnProfile {
	c := ColumnProfile{Name: name, Count: n}
	if n == 0 {
		return c
	}
	c.Min, c.Max = math.Inf(1), math.Inf(-1)
	var mean, m2 float64
	for i := range n {
		v := at(i)
		c.Min, c.Max = min(c.Min, v), max(c.Max, v)
		delta := v - mean
		mean += delta / float64(i+1)
		m2 += delta * (v - mean)
	}
	c.Mean = mean
	if n > 1 {
		c.Std = math.Sqrt(m2 / float64(n-1))
	}
	return c
}
