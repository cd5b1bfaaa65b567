package dataset

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// The binary format, all integers little-endian:
//
//	magic    8 bytes  "\x89HDS\r\n\x1a\n" (binary-looking, and line-end
//	                  conversion or 7-bit transfer damages it visibly)
//	version  uint16   1
//	columns  uint16   number of columns c (9), then for each:
//	                  uint16 length, UTF-8 name (FeatureNames then TargetName)
//	rows     uint64   number of rows r
//	data     r*c float64 (IEEE-754), row-major: a row's features, then its target
//	checksum 32 bytes SHA-256 of every byte before it
const (
	binaryMagic   = "\x89HDS\r\n\x1a\n"
	binaryVersion = 1
	// maxBinaryRows bounds the row count a header may claim, so that a
	// damaged header cannot make ReadBinary allocate without limit.
	maxBinaryRows = 1 << 28
)

// WriteBinary writes d in this package's binary format (see ReadBinary).
func WriteBinary(w io.Writer, d *Dataset) error {
	if err := d.validate(d.Source); err != nil {
		return err
	}
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 64<<10)
	buf := append([]byte(binaryMagic), 0, 0, 0, 0)
	binary.LittleEndian.PutUint16(buf[8:], binaryVersion)
	binary.LittleEndian.PutUint16(buf[10:], NumFeatures+1)
	for _, name := range columnNames() {
		buf = binary.LittleEndian.AppendUint16(buf, uint16(len(name)))
		buf = append(buf, name...)
	}
	buf = binary.LittleEndian.AppendUint64(buf, uint64(d.Rows()))
	bw.Write(buf)
	var cell [8]byte
	for i := range d.Rows() {
		for _, v := range d.Row(i) {
			binary.LittleEndian.PutUint64(cell[:], math.Float64bits(v))
			bw.Write(cell[:])
		}
		binary.LittleEndian.PutUint64(cell[:], math.Float64bits(d.Y[i]))
		bw.Write(cell[:])
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("dataset: write binary: %w", err)
	}
	if _, err := w.Write(h.Sum(nil)); err != nil {
		return fmt.Errorf("dataset: write binary: %w", err)
	}
	return nil
}

func columnNames() []string { return append(FeatureNames[:], TargetName) }

// ReadBinary reads a dataset written by WriteBinary. It refuses, with an
// *Error naming name, a wrong magic or version, columns other than
// FeatureNames and TargetName, a file that ends early (wrapping
// ErrTruncated), a checksum that does not match (wrapping ErrChecksum), and
// non-finite values.
func ReadBinary(r io.Reader, name string) (*Dataset, error) {
	h := sha256.New()
	src := bufio.NewReaderSize(r, 64<<10)
	br := &binReader{r: io.TeeReader(src, h), name: name}
	magic := br.bytes(len(binaryMagic), "magic")
	if br.err == nil && string(magic) != binaryMagic {
		return nil, &Error{File: name, Msg: fmt.Sprintf("not a housing dataset binary file (magic %q, want %q)", magic, binaryMagic)}
	}
	if v := br.uint16("version"); br.err == nil && v != binaryVersion {
		return nil, &Error{File: name, Msg: fmt.Sprintf("binary format version %d; this reader knows version %d", v, binaryVersion)}
	}
	want := columnNames()
	if c := br.uint16("column count"); br.err == nil && int(c) != len(want) {
		return nil, &Error{File: name, Msg: fmt.Sprintf("%d columns, want %d", c, len(want))}
	}
	for j, w := range want {
		n := br.uint16("column name length")
		if got := string(br.bytes(int(n), "column name")); br.err == nil && got != w {
			return nil, &Error{File: name, Column: j + 1, Msg: fmt.Sprintf("column named %q, want %q", got, w)}
		}
	}
	rows := br.uint64("row count")
	if br.err == nil && rows > maxBinaryRows {
		return nil, &Error{File: name, Msg: fmt.Sprintf("header claims %d rows, more than the %d this reader accepts", rows, maxBinaryRows)}
	}
	if br.err != nil {
		return nil, br.err
	}
	// Preallocate only up to a modest size: the row count is not yet
	// covered by the checksum.
	pre := min(int(rows), 1<<20)
	d := &Dataset{X: make([]float64, 0, pre*NumFeatures), Y: make([]float64, 0, pre), Source: name}
	const rowBytes = 8 * (NumFeatures + 1)
	chunk := make([]byte, rowBytes*1024)
	for left := int(rows); left > 0; {
		n := min(left, 1024)
		p := chunk[:n*rowBytes]
		if _, err := io.ReadFull(br.r, p); err != nil {
			return nil, br.fail("data", err)
		}
		for ; len(p) > 0; p = p[rowBytes:] {
			for j := range NumFeatures {
				d.X = append(d.X, math.Float64frombits(binary.LittleEndian.Uint64(p[8*j:])))
			}
			d.Y = append(d.Y, math.Float64frombits(binary.LittleEndian.Uint64(p[8*NumFeatures:])))
		}
		left -= n
	}
	sum := h.Sum(nil)
	stored := make([]byte, sha256.Size)
	if _, err := io.ReadFull(src, stored); err != nil {
		return nil, br.fail("checksum", err)
	}
	if string(stored) != string(sum) {
		return nil, &Error{File: name, Msg: fmt.Sprintf("stored SHA-256 %x, content has %x", stored, sum), Err: ErrChecksum}
	}
	if _, err := src.ReadByte(); err == nil {
		return nil, &Error{File: name, Msg: "data follows the checksum; the file is not one binary dataset"}
	}
	if err := d.validate(name); err != nil {
		return nil, err
	}
	return d, nil
}

// binReader reads fixed-size fields, remembering the first error so that a
// sequence of reads needs one check.
type binReader struct {
	r    io.Reader
	name string
	err  error
	buf  [8]byte
}

func (b *binReader) fail(what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &Error{File: b.name, Msg: "file ends in its " + what, Err: fmt.Errorf("%w: %w", ErrTruncated, io.ErrUnexpectedEOF)}
	}
	return &Error{File: b.name, Msg: "read failed in its " + what, Err: err}
}

func (b *binReader) bytes(n int, what string) []byte {
	if b.err != nil {
		return nil
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(b.r, p); err != nil {
		b.err = b.fail(what, err)
		return nil
	}
	return p
}

func (b *binReader) fixed(n int, what string) []byte {
	if b.err != nil {
		return b.buf[:n]
	}
	if _, err := io.ReadFull(b.r, b.buf[:n]); err != nil {
		b.err = b.fail(what, err)
	}
	return b.buf[:n]
}

func (b *binReader) uint16(what string) uint16 {
	return binary.LittleEndian.Uint16(b.fixed(2, what))
}

func (b *binReader) uint64(what string) uint64 {
	return binary.LittleEndian.Uint64(b.fixed(8, what))
}
