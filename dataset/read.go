package dataset

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strconv"
	"strings"
)

// Read reads a dataset in any of the supported formats, telling them apart
// by their first bytes: the gzip magic means the cal_housing.tgz archive
// (its member CaliforniaHousing/cal_housing.data is read), the binary magic
// means WriteBinary's format, a first line naming known columns means a CSV
// with a header, anything else the raw StatLib file (nine numbers a line).
// name is used in errors and as the dataset's Source.
//
// Errors about the content are *Error values naming name, the line and the
// column.
func Read(r io.Reader, name string) (*Dataset, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(binaryMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{File: name, Msg: "read failed", Err: err}
	}
	switch {
	case len(head) == 0:
		return nil, &Error{File: name, Msg: "empty file"}
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return readArchive(br, name)
	case bytes.Equal(head, []byte(binaryMagic)):
		return ReadBinary(br, name)
	}
	return readText(br, name, false)
}

// ReadFeatures reads like Read, and also takes a CSV whose header names the eight
// features without the target, as a file to be scored has it. hasTarget reports
// whether the rows carry the target; when they do not, Y holds NaN for each row.
func ReadFeatures(r io.Reader, name string) (d *Dataset, hasTarget bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(len(binaryMagic))
	if (len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b) || bytes.Equal(head, []byte(binaryMagic)) {
		d, err = Read(br, name)
		return d, err == nil, err
	}
	if len(head) == 0 {
		return nil, false, &Error{File: name, Msg: "empty file"}
	}
	d, err = readText(br, name, true)
	if err != nil {
		return nil, false, err
	}
	return d, len(d.Y) == 0 || !math.IsNaN(d.Y[0]), nil
}

// readArchive reads the data member of a gzip-compressed tar archive.
// The member is read whole before parsing, so that a truncated archive is
// reported as such rather than as a short last line, and the rest of the
// stream is read to its end so that gzip's CRC is checked.
func readArchive(r io.Reader, name string) (*Dataset, error) {
	truncated := func(err error) error {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return &Error{File: name, Msg: "archive ends early", Err: fmt.Errorf("%w: %w", ErrTruncated, err)}
		}
		return &Error{File: name, Msg: "bad archive", Err: err}
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, truncated(err)
	}
	tr := tar.NewReader(gz)
	var data []byte
	var seen []string
	for data == nil {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if len(seen) == 0 {
				return nil, &Error{File: name, Msg: "archive has no files"}
			}
			return nil, &Error{File: name, Msg: fmt.Sprintf("archive has no member %s (it has %s)", ArchiveMember, strings.Join(seen, ", "))}
		}
		if err != nil {
			return nil, truncated(err)
		}
		member := path.Clean(hdr.Name)
		if hdr.Typeflag != tar.TypeReg || member != ArchiveMember {
			seen = append(seen, member)
			continue
		}
		if data, err = io.ReadAll(tr); err != nil {
			return nil, truncated(err)
		}
	}
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return nil, truncated(err)
	}
	for {
		if _, err := tr.Next(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, truncated(err)
		}
	}
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, truncated(err)
	}
	d, err := readText(bytes.NewReader(data), fmt.Sprintf("%s[%s]", name, ArchiveMember), false)
	if err != nil {
		return nil, err
	}
	d.Source = name
	return d, nil
}

// layout says where each of the nine values of a row sits in a line.
type layout struct {
	raw bool // columns are RawNames (derive features); else FeatureNames + TargetName
	// noTarget: the CSV has the eight features only (ReadFeatures); rows get a NaN target.
	noTarget bool
	cols     [9]int // 0-based position in the line of each named value, in RawNames or FeatureNames+TargetName order
	n        int    // number of fields a line has
}

var rawLayout = layout{raw: true, cols: [9]int{0, 1, 2, 3, 4, 5, 6, 7, 8}, n: 9}

// readText reads the raw StatLib file or a CSV with a header; with
// targetOptional, a CSV header may leave out the target.
func readText(r io.Reader, name string, targetOptional bool) (*Dataset, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	d := &Dataset{Source: name}
	var lay *layout
	lineNo := 0
	headerLine := 0
	fields := make([]string, 0, 9)
	for {
		line, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Line: lineNo + 1, Msg: "read failed", Err: err}
		}
		if line == "" && err != nil {
			break
		}
		lineNo++
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields = splitFields(fields[:0], line)
		if lay == nil {
			if isHeader(fields) {
				l, herr := parseHeader(fields, name, lineNo, targetOptional)
				if herr != nil {
					return nil, herr
				}
				lay, headerLine = l, lineNo
				continue
			}
			lay = &rawLayout
		}
		if err := appendRow(d, lay, fields, name, lineNo); err != nil {
			return nil, err
		}
	}
	if d.Rows() == 0 {
		if headerLine > 0 {
			return nil, &Error{File: name, Line: headerLine, Msg: "header but no data rows"}
		}
		return nil, &Error{File: name, Msg: "empty file: no data rows"}
	}
	return d, nil
}

// splitFields appends the comma-separated fields of line, trimmed of
// spaces (and the line end), to dst.
func splitFields(dst []string, line string) []string {
	for f := range strings.SplitSeq(strings.TrimRight(line, "\r\n"), ",") {
		dst = append(dst, strings.TrimSpace(f))
	}
	return dst
}

// isHeader reports whether a first line names columns rather than holding numbers.
func isHeader(fields []string) bool {
	for _, f := range fields {
		f = strings.Trim(f, `"`)
		if columnIndex(FeatureNames[:], f) >= 0 || f == TargetName || columnIndex(RawNames[:], f) >= 0 {
			return true
		}
	}
	return false
}

func columnIndex(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	return -1
}

// parseHeader maps a header line to a layout. The columns may come in any
// order but must be exactly scikit-learn's nine or StatLib's nine.
func parseHeader(fields []string, name string, lineNo int, targetOptional bool) (*layout, error) {
	sk := columnNames()
	names := sk
	lay := &layout{n: len(fields)}
	for _, f := range fields {
		if columnIndex(RawNames[:], strings.Trim(f, `"`)) >= 0 {
			names, lay.raw = RawNames[:], true
			break
		}
	}
	found := [9]bool{}
	for j, f := range fields {
		f = strings.Trim(f, `"`)
		k := columnIndex(names, f)
		if k < 0 {
			return nil, &Error{File: name, Line: lineNo, Column: j + 1, Msg: fmt.Sprintf(
				"unknown column %q: a header must name %s, or %s", f, strings.Join(sk, ","), strings.Join(RawNames[:], ","))}
		}
		if found[k] {
			return nil, &Error{File: name, Line: lineNo, Column: j + 1, Msg: fmt.Sprintf("column %q appears twice", f)}
		}
		found[k] = true
		lay.cols[k] = j
	}
	var missing []string
	for k, ok := range found {
		if !ok {
			missing = append(missing, names[k])
		}
	}
	if targetOptional && !lay.raw && len(missing) == 1 && missing[0] == TargetName {
		lay.noTarget, missing = true, nil
	}
	if len(missing) > 0 {
		return nil, &Error{File: name, Line: lineNo, Msg: "header lacks column(s) " + strings.Join(missing, ", ")}
	}
	return lay, nil
}

// appendRow parses one line and appends its features and target to d.
func appendRow(d *Dataset, lay *layout, fields []string, name string, lineNo int) error {
	if len(fields) != lay.n {
		return &Error{File: name, Line: lineNo, Column: min(len(fields), lay.n) + 1,
			Msg: fmt.Sprintf("%d columns, want %d", len(fields), lay.n)}
	}
	var v [9]float64
	for k, j := range lay.cols {
		if lay.noTarget && k == NumFeatures {
			v[k] = math.NaN()
			continue
		}
		x, err := strconv.ParseFloat(fields[j], 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return &Error{File: name, Line: lineNo, Column: j + 1, Msg: fmt.Sprintf("not a number: %q", fields[j])}
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return &Error{File: name, Line: lineNo, Column: j + 1, Msg: fmt.Sprintf("not a finite number: %q", fields[j])}
		}
		v[k] = x
	}
	if !lay.raw {
		d.X = append(d.X, v[:NumFeatures]...)
		d.Y = append(d.Y, v[NumFeatures])
		return nil
	}
	// The derivation and its order of operations are those of
	// sklearn.datasets.fetch_california_housing, so the values are bit-identical.
	lon, lat, age, rooms, bedrooms, pop, households, income, value := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]
	if !(households > 0) {
		return &Error{File: name, Line: lineNo, Column: lay.cols[6] + 1,
			Msg: fmt.Sprintf("households is %v; it must be > 0 (AveRooms, AveBedrms and AveOccup divide by it)", households)}
	}
	row := [NumFeatures]float64{income, age, rooms / households, bedrooms / households, pop, pop / households, lat, lon}
	for k, x := range row {
		if math.IsInf(x, 0) {
			return &Error{File: name, Line: lineNo, Column: lay.cols[6] + 1, Msg: fmt.Sprintf("%s overflows to %v", FeatureNames[k], x)}
		}
	}
	d.X = append(d.X, row[:]...)
	d.Y = append(d.Y, value/100000)
	return nil
}
