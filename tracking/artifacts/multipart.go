package artifacts

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// MaxParts is the most parts one multipart upload may have (S3's limit, which
// MLflow follows).
const MaxParts = 10000

// Part is one uploaded part of a multipart upload, as the client reports it
// when completing the upload.
type Part struct {
	PartNumber int
	ETag       string
}

// MultipartFinisher completes or abandons multipart uploads. Both kinds of
// multipart repositories implement it.
type MultipartFinisher interface {
	// CompleteMultipartUpload assembles parts, in their order, into the file
	// at p. Parts must be listed by ascending part number, each with the ETag
	// its upload answered; parts uploaded but not listed are discarded.
	CompleteMultipartUpload(ctx context.Context, p, uploadID string, parts []Part) error
	// AbortMultipartUpload abandons the upload and frees its parts.
	AbortMultipartUpload(ctx context.Context, p, uploadID string) error
}

// PresignedMultipart is a repository whose storage takes parts directly, from
// URLs that the repository presigns (S3). The client PUTs each part to its URL.
type PresignedMultipart interface {
	MultipartFinisher
	// CreatePresignedMultipartUpload starts an upload to p in numParts parts
	// and returns its id and the URL of each part, in part order, valid for
	// expiry.
	CreatePresignedMultipartUpload(ctx context.Context, p string, numParts int, expiry time.Duration) (uploadID string, partURLs []string, err error)
}

// StagedMultipart is a repository that keeps the parts of an upload itself until
// it is completed (Local). Whoever hands out the part URLs (the tracking server)
// receives the parts and passes them to PutPart.
type StagedMultipart interface {
	MultipartFinisher
	// CreateMultipartUpload starts an upload to p and returns its id.
	CreateMultipartUpload(ctx context.Context, p string) (uploadID string, err error)
	// PutPart stores part partNumber (1..MaxParts) of the upload, replacing an
	// earlier upload of the same part, and returns its ETag.
	PutPart(ctx context.Context, uploadID string, partNumber int, r io.Reader) (etag string, err error)
}

var (
	_ StagedMultipart    = (*Local)(nil)
	_ PresignedMultipart = (*S3)(nil)
)

// checkParts refuses an empty list, part numbers out of range and parts out of
// ascending order, as S3 does.
func checkParts(parts []Part) error {
	if len(parts) == 0 {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "A multipart upload needs at least one part to complete")
	}
	for i, pt := range parts {
		if err := checkPartNumber(pt.PartNumber); err != nil {
			return err
		}
		if i > 0 && pt.PartNumber <= parts[i-1].PartNumber {
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"Parts must be listed by ascending part number: part %d follows part %d", pt.PartNumber, parts[i-1].PartNumber)
		}
	}
	return nil
}

func checkPartNumber(n int) error {
	if n < 1 || n > MaxParts {
		return tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid part number %d: must be between 1 and %d", n, MaxParts)
	}
	return nil
}

// sameETag compares ETags the way S3 does: quotes and case do not matter.
func sameETag(a, b string) bool {
	return strings.EqualFold(strings.Trim(a, `"`), strings.Trim(b, `"`))
}

// multipartTarget checks the destination of a multipart upload: a file, not the root.
func multipartTarget(p string) (string, error) {
	clean, err := CleanPath(p)
	if err != nil {
		return "", err
	}
	if clean == "" {
		return "", tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid path: a file needs a name")
	}
	return clean, nil
}

func errNoUpload(uploadID string) error {
	return tracking.Errorf(tracking.ErrResourceDoesNotExist, "Multipart upload %s does not exist (completed, aborted or never created)", uploadID)
}

func errWrongTarget(uploadID, want, got string) error {
	return tracking.Errorf(tracking.ErrInvalidParameterValue, "Multipart upload %s is for %s, not %s", uploadID, want, got)
}
