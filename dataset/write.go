package dataset

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteCSV writes d as CSV with a header of FeatureNames and TargetName,
// one row per line. Values are written in the shortest form that parses
// back to the same float64, so Read returns exactly d's values.
func WriteCSV(w io.Writer, d *Dataset) error {
	if err := d.validate(d.Source); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(strings.Join(columnNames(), ","))
	bw.WriteByte('\n')
	var buf []byte
	for i := range d.Rows() {
		buf = buf[:0]
		for _, v := range d.Row(i) {
			buf = strconv.AppendFloat(buf, v, 'g', -1, 64)
			buf = append(buf, ',')
		}
		buf = strconv.AppendFloat(buf, d.Y[i], 'g', -1, 64)
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dataset: write CSV: %w", err)
	}
	return nil
}
