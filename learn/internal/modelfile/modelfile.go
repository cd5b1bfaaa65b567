// Package modelfile is the container shared by the learn model formats: an
// 8-byte magic naming the format, a format version, the payload length, the
// payload, and a CRC-32C of everything before it.
//
//	offset  size  field
//	0       8     magic
//	8       2     format version, little endian
//	10      2     reserved, zero
//	12      8     payload length n, little endian
//	20      n     payload
//	20+n    4     CRC-32C (Castagnoli) of bytes [0, 20+n)
package modelfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// HeaderSize is the number of bytes before the payload.
const HeaderSize = 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by every error that reports a damaged or truncated file.
var ErrCorrupt = errors.New("corrupt model file")

// Write writes one framed model file to w.
func Write(w io.Writer, magic [8]byte, version uint16, payload []byte) (int64, error) {
	var hdr [HeaderSize]byte
	copy(hdr[:8], magic[:])
	binary.LittleEndian.PutUint16(hdr[8:], version)
	binary.LittleEndian.PutUint64(hdr[12:], uint64(len(payload)))
	crc := crc32.Update(crc32.Checksum(hdr[:], castagnoli), castagnoli, payload)
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], crc)

	var total int64
	for _, b := range [][]byte{hdr[:], payload, tail[:]} {
		n, err := w.Write(b)
		total += int64(n)
		if err != nil {
			return total, fmt.Errorf("write model file: %w", err)
		}
	}
	return total, nil
}

// Writer writes one framed model file whose payload is streamed: its length
// is given first, the payload goes through Write, and Close writes the
// checksum. It keeps nothing of the payload but the running CRC.
type Writer struct {
	w       io.Writer
	crc     uint32
	want, n int64
	err     error
}

// NewWriter writes the header of a model file of payloadLen bytes to w.
func NewWriter(w io.Writer, magic [8]byte, version uint16, payloadLen int64) (*Writer, error) {
	var hdr [HeaderSize]byte
	copy(hdr[:8], magic[:])
	binary.LittleEndian.PutUint16(hdr[8:], version)
	binary.LittleEndian.PutUint64(hdr[12:], uint64(payloadLen))
	if _, err := w.Write(hdr[:]); err != nil {
		return nil, fmt.Errorf("write model file: %w", err)
	}
	return &Writer{w: w, crc: crc32.Checksum(hdr[:], castagnoli), want: payloadLen}, nil
}

// Write writes payload bytes; the first error is kept and returned again.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.w.Write(p)
	w.crc = crc32.Update(w.crc, castagnoli, p[:n])
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("write model file: %w", err)
	}
	return n, w.err
}

// Close writes the checksum and returns the file's size. It fails when the
// payload written is not of the length announced: a bug of the caller's.
func (w *Writer) Close() (int64, error) {
	if w.err != nil {
		return HeaderSize + w.n, w.err
	}
	if w.n != w.want {
		return HeaderSize + w.n, fmt.Errorf("write model file: payload of %d bytes, header says %d", w.n, w.want)
	}
	var tail [4]byte
	binary.LittleEndian.PutUint32(tail[:], w.crc)
	if _, err := w.w.Write(tail[:]); err != nil {
		return HeaderSize + w.n, fmt.Errorf("write model file: %w", err)
	}
	return HeaderSize + w.n + 4, nil
}

// Read reads one framed model file from r and returns its payload. It refuses
// a file whose magic is not magic, whose version is not version, that ends
// early, or whose checksum does not match. name names the format in errors.
func Read(r io.Reader, name string, magic [8]byte, version uint16) ([]byte, error) {
	var hdr [HeaderSize]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s model file: %w: truncated header (%d of %d bytes)", name, ErrCorrupt, n, HeaderSize)
		}
		return nil, fmt.Errorf("%s model file: read header: %w", name, err)
	}
	if !bytes.Equal(hdr[:8], magic[:]) {
		return nil, fmt.Errorf("%s model file: bad magic %q, want %q", name, hdr[:8], magic[:])
	}
	if v := binary.LittleEndian.Uint16(hdr[8:]); v != version {
		return nil, fmt.Errorf("%s model file: format version %d, this build reads version %d", name, v, version)
	}
	n := binary.LittleEndian.Uint64(hdr[12:])
	// Grow the buffer as data arrives rather than trusting n up front, so a
	// damaged length cannot make us allocate a huge buffer for a short file.
	var buf bytes.Buffer
	got, err := io.CopyN(&buf, r, int64(min(n, 1<<62)))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s model file: %w: truncated payload (%d of %d bytes)", name, ErrCorrupt, got, n)
		}
		return nil, fmt.Errorf("%s model file: read payload: %w", name, err)
	}
	var tail [4]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s model file: %w: truncated checksum", name, ErrCorrupt)
		}
		return nil, fmt.Errorf("%s model file: read checksum: %w", name, err)
	}
	payload := buf.Bytes()
	want := binary.LittleEndian.Uint32(tail[:])
	if got := crc32.Update(crc32.Checksum(hdr[:], castagnoli), castagnoli, payload); got != want {
		return nil, fmt.Errorf("%s model file: %w: checksum %08x, file says %08x", name, ErrCorrupt, got, want)
	}
	return payload, nil
}

// Decoder reads the primitive values of a payload, remembering the first
// error so callers can check once at the end.
type Decoder struct {
	buf []byte
	off int
	err error
}

// NewDecoder returns a Decoder over payload.
func NewDecoder(payload []byte) *Decoder { return &Decoder{buf: payload} }

// Err returns the first decoding error, wrapping ErrCorrupt.
func (d *Decoder) Err() error { return d.err }

// Remaining returns how many bytes are left.
func (d *Decoder) Remaining() int { return len(d.buf) - d.off }

func (d *Decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad or missing %s at payload offset %d", ErrCorrupt, what, d.off)
	}
}

// Uvarint reads an unsigned varint.
func (d *Decoder) Uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf[d.off:])
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.off += n
	return v
}

// Count reads an unsigned varint that counts items of at least minSize bytes
// each still to come, and refuses counts the rest of the payload cannot hold.
func (d *Decoder) Count(what string, minSize int) int {
	v := d.Uvarint(what)
	if d.err == nil && v > uint64(d.Remaining()/max(minSize, 1)) {
		d.fail(what)
		return 0
	}
	return int(v)
}

// Float64 reads a little-endian IEEE 754 double.
func (d *Decoder) Float64(what string) float64 {
	if d.err != nil {
		return 0
	}
	if d.Remaining() < 8 {
		d.fail(what)
		return 0
	}
	v := binary.LittleEndian.Uint64(d.buf[d.off:])
	d.off += 8
	return math.Float64frombits(v)
}

// Bytes reads a length-prefixed byte string.
func (d *Decoder) Bytes(what string) []byte {
	n := d.Count(what, 1)
	if d.err != nil {
		return nil
	}
	b := d.buf[d.off : d.off+n]
	d.off += n
	return b
}

// Done reports an error if bytes remain after the last field.
func (d *Decoder) Done() error {
	if d.err == nil && d.Remaining() != 0 {
		d.err = fmt.Errorf("%w: %d unexpected bytes after the last field", ErrCorrupt, d.Remaining())
	}
	return d.err
}

// Encoder appends the primitive values of a payload.
type Encoder struct{ Buf []byte }

// Uvarint appends an unsigned varint.
func (e *Encoder) Uvarint(v uint64) { e.Buf = binary.AppendUvarint(e.Buf, v) }

// Float64 appends a little-endian IEEE 754 double.
func (e *Encoder) Float64(v float64) {
	e.Buf = binary.LittleEndian.AppendUint64(e.Buf, math.Float64bits(v))
}

// Bytes appends a length-prefixed byte string.
func (e *Encoder) Bytes(b []byte) {
	e.Uvarint(uint64(len(b)))
	e.Buf = append(e.Buf, b...)
}
