// Package artifacts stores run artifacts: trees of files under one root URI, behind
// tracking.ArtifactRepository. Open chooses the repository by the URI's scheme:
// local directories (file: and plain paths), S3 buckets (s3://, through minio-go)
// and a tracking server's artifact proxy (mlflow-artifacts:).
//
// Every repository checks paths with CleanPath before touching storage, so a path
// never leaves its root, and streams contents instead of holding them in memory.
package artifacts
