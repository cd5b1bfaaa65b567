package artifacts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mlops-lab/housing/tracking"
)

func (s *S3) core() minio.Core { return minio.Core{Client: s.client} }

// target returns the object key of a multipart upload's destination.
func (s *S3) target(p string) (string, error) {
	clean, err := multipartTarget(p)
	if err != nil {
		return "", err
	}
	return joinPath(s.prefix, clean), nil
}

// CreatePresignedMultipartUpload starts an S3 multipart upload to p and
// presigns one UploadPart URL per part, as MLflow's S3 repository does. The
// URLs name the endpoint this repository uses: clients must be able to reach it.
func (s *S3) CreatePresignedMultipartUpload(ctx context.Context, p string, numParts int, expiry time.Duration) (string, []string, error) {
	if numParts < 1 || numParts > MaxParts {
		return "", nil, tracking.Errorf(tracking.ErrInvalidParameterValue, "Invalid num_parts %d: must be between 1 and %d", numParts, MaxParts)
	}
	key, err := s.target(p)
	if err != nil {
		return "", nil, err
	}
	id, err := s.core().NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{ContentType: contentType(key)})
	if err != nil {
		return "", nil, s3Error(err, "create multipart upload to s3://%s/%s", s.bucket, key)
	}
	urls := make([]string, numParts)
	for i := range urls {
		q := url.Values{"partNumber": {strconv.Itoa(i + 1)}, "uploadId": {id}}
		u, err := s.client.Presign(ctx, http.MethodPut, s.bucket, key, expiry, q)
		if err != nil {
			s.core().AbortMultipartUpload(context.WithoutCancel(ctx), s.bucket, key, id)
			return "", nil, s3Error(err, "presign part %d of s3://%s/%s", i+1, s.bucket, key)
		}
		urls[i] = u.String()
	}
	return id, urls, nil
}

// CompleteMultipartUpload asks S3 to assemble the parts into the object at p.
func (s *S3) CompleteMultipartUpload(ctx context.Context, p, uploadID string, parts []Part) error {
	if err := checkParts(parts); err != nil {
		return err
	}
	key, err := s.target(p)
	if err != nil {
		return err
	}
	cp := make([]minio.CompletePart, len(parts))
	for i, pt := range parts {
		cp[i] = minio.CompletePart{PartNumber: pt.PartNumber, ETag: pt.ETag}
	}
	if _, err := s.core().CompleteMultipartUpload(ctx, s.bucket, key, uploadID, cp, minio.PutObjectOptions{}); err != nil {
		return multipartError(err, uploadID, "complete multipart upload %s to s3://%s/%s", uploadID, s.bucket, key)
	}
	return nil
}

// AbortMultipartUpload asks S3 to drop the upload and its parts.
func (s *S3) AbortMultipartUpload(ctx context.Context, p, uploadID string) error {
	key, err := s.target(p)
	if err != nil {
		return err
	}
	if err := s.core().AbortMultipartUpload(ctx, s.bucket, key, uploadID); err != nil {
		return multipartError(err, uploadID, "abort multipart upload %s to s3://%s/%s", uploadID, s.bucket, key)
	}
	return nil
}

// multipartError names S3's refusals of a completion (a part missing, its ETag
// wrong, parts too small or out of order, an unknown upload) as the client's
// mistakes; other errors go through s3Error.
func multipartError(err error, uploadID, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case "InvalidPart":
			return tracking.Errorf(tracking.ErrInvalidParameterValue,
				"%s: a part was not uploaded or its ETag does not match (S3: %s)", what, er.Message)
		case "InvalidPartOrder", "EntityTooSmall", "MalformedXML":
			return tracking.Errorf(tracking.ErrInvalidParameterValue, "%s: S3 refused the parts: %s: %s", what, er.Code, er.Message)
		case "NoSuchUpload":
			return errNoUpload(uploadID)
		}
	}
	return s3Error(err, "%s", what)
}
