package fluent

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"time"

	"github.com/mlops-lab/housing/tracking"
)

// userName returns the user MLflow would record: Python's getpass.getuser()
// looks at LOGNAME, USER, LNAME and USERNAME, then the password database.
func (c *Client) userName() string {
	for _, k := range []string{"LOGNAME", "USER", "LNAME", "USERNAME"} {
		if v := c.opts.Getenv(k); v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// sourceName is the program that logs: MLflow records sys.argv[0].
func (c *Client) sourceName() string {
	if c.opts.SourceName != "" {
		return c.opts.SourceName
	}
	if exe, err := os.Executable(); err == nil {
		return exe
	}
	if len(os.Args) > 0 {
		return os.Args[0]
	}
	return ""
}

// gitCommit returns the commit the program was built from or runs in, or "".
func (c *Client) gitCommit(ctx context.Context) string {
	if c.opts.GitCommit != "" {
		return c.opts.GitCommit
	}
	if v := strings.TrimSpace(c.opts.Getenv(EnvGitCommit)); v != "" {
		return v
	}
	// A working tree is only there in development; in a container there is no
	// git, and a missing commit is not worth failing or waiting for.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(out))
	if len(commit) != 40 && len(commit) != 64 {
		return ""
	}
	return commit
}

// systemTags returns the tags MLflow's fluent start_run sets on a new run.
func (c *Client) systemTags(ctx context.Context, user, runName, parentRunID string) []tracking.Tag {
	tags := []tracking.Tag{
		{Key: tracking.TagUser, Value: user},
		{Key: tracking.TagSourceName, Value: c.sourceName()},
		{Key: tracking.TagSourceType, Value: c.opts.SourceType},
	}
	if runName != "" {
		tags = append(tags, tracking.Tag{Key: tracking.TagRunName, Value: runName})
	}
	if commit := c.gitCommit(ctx); commit != "" {
		tags = append(tags, tracking.Tag{Key: tracking.TagGitCommit, Value: commit})
	}
	if parentRunID != "" {
		tags = append(tags, tracking.Tag{Key: tracking.TagParentRunID, Value: parentRunID})
	}
	return tags
}
