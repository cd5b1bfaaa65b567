// Command image builds the project's container image as a tarball that
// `docker load` takes, without a Docker daemon (see internal/image).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mlops-lab/housing/internal/image"
	"github.com/urfave/cli/v2"
)

func main() {
	if err := run(context.Background(), os.Args, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "image: error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	app := &cli.App{
		Name:      "image",
		Usage:     "build the housing container image as a tarball, without Docker",
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "bin-dir", Value: "bin", Usage: "directory with the static binaries (make build)"},
			&cli.StringFlag{Name: "out", Value: "bin/housing-image.tar", Usage: "tarball to write"},
			&cli.StringFlag{Name: "tag", Value: "ghcr.io/mlops-lab/housing:latest", Usage: "image reference recorded in the tarball"},
			&cli.StringFlag{Name: "version", Usage: "org.opencontainers.image.version label"},
		},
		Action: func(c *cli.Context) error {
			img, err := image.Build(image.Options{
				BinDir:  c.String("bin-dir"),
				Created: time.Unix(0, 0).UTC(),
				Source:  "https://github.com/mlops-lab/housing",
				Version: c.String("version"),
			})
			if err != nil {
				return err
			}
			if err := image.WriteTarball(c.String("out"), c.String("tag"), img); err != nil {
				return err
			}
			d, _ := img.Digest()
			fmt.Fprintf(stderr, "image: wrote %s (%s, %s); load it with: docker load -i %s\n", c.String("out"), c.String("tag"), d, c.String("out"))
			return nil
		},
	}
	return app.RunContext(ctx, args)
}
